//! A fake in-memory gateway: one user `alice` (password `secret` or a given key), a
//! tree of directories and files, uploads streamed to temp files, fsynced and recorded
//! at commit. A stall point lets a test catch an upload half-way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use envelope::{EnvelopeId, Sha256};
use partner::{Credential, Entry, EntryKind, FsError, Gateway, Login, Peer, Receipt, Session, Upload, VPath};
use tokio::io::AsyncWriteExt;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "secret";

#[derive(Default)]
pub struct State {
    pub dirs: BTreeSet<VPath>,
    pub files: BTreeMap<VPath, PathBuf>,
    /// Committed uploads: path and size.
    pub committed: Vec<(String, u64)>,
}

pub struct FakeGateway {
    pub key: Option<sftp::keys::PublicKey>,
    pub dir: tempfile::TempDir,
    pub state: Arc<Mutex<State>>,
    /// Uploads begun and not yet committed or dropped.
    pub live_uploads: Arc<AtomicUsize>,
    /// Bytes written by the newest upload (for tests that stall it).
    pub progress: Arc<AtomicU64>,
    /// Writes block once an upload has this many bytes.
    pub stall_at: Option<u64>,
    /// While set, writes past `stall_at` wait.
    pub stalled: Arc<std::sync::atomic::AtomicBool>,
    pub refused_logins: AtomicUsize,
    /// Whether commit fsyncs (measurements turn it off to see the protocol alone).
    pub fsync: Arc<std::sync::atomic::AtomicBool>,
    next: AtomicU64,
}

impl FakeGateway {
    pub fn new(key: Option<sftp::keys::PublicKey>) -> Self {
        FakeGateway {
            key,
            dir: tempfile::tempdir().expect("tempdir"),
            state: Arc::default(),
            live_uploads: Arc::default(),
            progress: Arc::default(),
            stall_at: None,
            stalled: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            refused_logins: AtomicUsize::new(0),
            fsync: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            next: AtomicU64::new(0),
        }
    }

    pub fn committed(&self) -> Vec<(String, u64)> {
        self.state.lock().expect("lock").committed.clone()
    }

    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        let path = VPath::resolve(&VPath::root(), path).ok()?;
        let file = self.state.lock().expect("lock").files.get(&path).cloned()?;
        std::fs::read(file).ok()
    }

    pub fn release_stall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    fn key_matches(&self, user: &str, key: &str) -> bool {
        let offered = sftp::keys::parse_public(key);
        match (&self.key, offered) {
            (Some(ours), Some(offered)) => user == USER && sftp::keys::same_key(ours, &offered),
            _ => false,
        }
    }

    fn is_dir(&self, path: &VPath) -> bool {
        path.is_root() || self.state.lock().expect("lock").dirs.contains(path)
    }
}

fn dir_entry(name: &str) -> Entry {
    Entry { name: name.to_owned(), kind: EntryKind::Directory, size: 0, modified: SystemTime::now(), writable: true }
}

#[async_trait]
impl Gateway for FakeGateway {
    async fn authenticate(&self, _peer: Peer, user: &str, credential: Credential<'_>) -> Option<Login> {
        let ok = match credential {
            Credential::Password(p) => user == USER && p == PASSWORD,
            Credential::PublicKey(key) => self.key_matches(user, key),
        };
        if !ok {
            self.refused_logins.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            return None;
        }
        Some(Login { channel: "acme".into(), user: user.into(), tls_required: false })
    }

    fn accepts_key(&self, user: &str, key: &str) -> bool {
        self.key_matches(user, key)
    }

    async fn stat(&self, _s: &Session, path: &VPath) -> Result<Entry, FsError> {
        if self.is_dir(path) {
            return Ok(dir_entry(path.name().unwrap_or("/")));
        }
        let file = self.state.lock().expect("lock").files.get(path).cloned().ok_or(FsError::NotFound)?;
        let size = std::fs::metadata(file).map_err(|e| FsError::Unavailable(e.to_string()))?.len();
        let name = path.name().unwrap_or_default().to_owned();
        Ok(Entry { name, kind: EntryKind::File, size, modified: SystemTime::now(), writable: true })
    }

    async fn list(&self, s: &Session, dir: &VPath) -> Result<Vec<Entry>, FsError> {
        if !self.is_dir(dir) {
            return Err(FsError::NotFound);
        }
        let children: Vec<VPath> = {
            let state = self.state.lock().expect("lock");
            state
                .dirs
                .iter()
                .chain(state.files.keys())
                .filter(|p| p.parent() == *dir && !p.is_root())
                .cloned()
                .collect()
        };
        let mut entries = Vec::new();
        for child in children {
            entries.push(self.stat(s, &child).await?);
        }
        Ok(entries)
    }

    async fn mkdir(&self, _s: &Session, path: &VPath) -> Result<(), FsError> {
        if !self.is_dir(&path.parent()) {
            return Err(FsError::NotFound);
        }
        let mut state = self.state.lock().expect("lock");
        if path.is_root() || state.files.contains_key(path) || !state.dirs.insert(path.clone()) {
            return Err(FsError::AlreadyExists);
        }
        Ok(())
    }

    async fn rmdir(&self, _s: &Session, path: &VPath) -> Result<(), FsError> {
        let mut state = self.state.lock().expect("lock");
        if state.files.keys().chain(state.dirs.iter()).any(|p| p.parent() == *path && p != path) {
            return Err(FsError::NotEmpty);
        }
        if state.dirs.remove(path) { Ok(()) } else { Err(FsError::NotFound) }
    }

    async fn remove(&self, _s: &Session, path: &VPath) -> Result<(), FsError> {
        self.state.lock().expect("lock").files.remove(path).map(|_| ()).ok_or(FsError::NotFound)
    }

    async fn rename(&self, _s: &Session, from: &VPath, to: &VPath) -> Result<(), FsError> {
        let mut state = self.state.lock().expect("lock");
        let file = state.files.remove(from).ok_or(FsError::NotFound)?;
        state.files.insert(to.clone(), file);
        Ok(())
    }

    async fn begin_upload(&self, _s: &Session, path: &VPath) -> Result<Box<dyn Upload>, FsError> {
        if path.in_outbox() {
            return Err(FsError::PermissionDenied("the outbox is read-only"));
        }
        if !self.is_dir(&path.parent()) || self.is_dir(path) {
            return Err(FsError::NotFound);
        }
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let temp = self.dir.path().join(format!("upload-{n}"));
        let file = tokio::fs::File::create(&temp).await.map_err(|e| FsError::Unavailable(e.to_string()))?;
        self.live_uploads.fetch_add(1, Ordering::SeqCst);
        self.progress.store(0, Ordering::SeqCst);
        Ok(Box::new(FakeUpload {
            path: path.clone(),
            temp,
            file: Some(file),
            written: 0,
            stall_at: self.stall_at,
            stalled: self.stalled.clone(),
            fsync: self.fsync.load(Ordering::SeqCst),
            state: self.state.clone(),
            live: self.live_uploads.clone(),
            progress: self.progress.clone(),
        }))
    }

    async fn open_read(
        &self,
        _s: &Session,
        path: &VPath,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>, FsError> {
        let file = self.state.lock().expect("lock").files.get(path).cloned().ok_or(FsError::NotFound)?;
        let file = tokio::fs::File::open(file).await.map_err(|e| FsError::Unavailable(e.to_string()))?;
        Ok(Box::new(file))
    }
}

struct FakeUpload {
    path: VPath,
    temp: PathBuf,
    file: Option<tokio::fs::File>,
    written: u64,
    stall_at: Option<u64>,
    stalled: Arc<std::sync::atomic::AtomicBool>,
    fsync: bool,
    state: Arc<Mutex<State>>,
    live: Arc<AtomicUsize>,
    progress: Arc<AtomicU64>,
}

#[async_trait]
impl Upload for FakeUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        while self.stall_at.is_some_and(|at| self.written >= at) && self.stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let file = self.file.as_mut().ok_or(FsError::Unavailable("closed".into()))?;
        file.write_all(bytes).await.map_err(|e| FsError::Unavailable(e.to_string()))?;
        self.written += bytes.len() as u64;
        self.progress.store(self.written, Ordering::SeqCst);
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn commit(mut self: Box<Self>) -> Result<Receipt, FsError> {
        let mut file = self.file.take().ok_or(FsError::Unavailable("closed".into()))?;
        let fail = |e: std::io::Error| FsError::Unavailable(e.to_string());
        file.flush().await.map_err(fail)?;
        if self.fsync {
            file.sync_all().await.map_err(fail)?;
        }
        let mut state = self.state.lock().expect("lock");
        state.files.insert(self.path.clone(), self.temp.clone());
        state.committed.push((self.path.to_string(), self.written));
        Ok(Receipt { id: EnvelopeId::generate(), size: self.written, sha256: Sha256([0; 32]) })
    }
}

impl Drop for FakeUpload {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}
