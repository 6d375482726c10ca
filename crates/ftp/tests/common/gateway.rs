//! An in-memory [`Gateway`] for the tests: a user/password table, directories, uploads
//! recorded only on commit, and a switch that makes writes fail with `InsufficientStorage`.
//! With `on_disk`, uploads go to a file that is fsynced at commit (for throughput runs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use envelope::EnvelopeId;
use partner::{Credential, Entry, EntryKind, FsError, Gateway, Login, Peer, Receipt, Session, Upload, VPath};

#[derive(Default)]
pub struct State {
    pub dirs: BTreeSet<String>,
    /// Committed uploads (and pickup files), by home-relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    pub commits: u64,
    /// Every login the gateway accepted.
    pub logins: Vec<Peer>,
}

/// What uploads in flight share with the gateway.
#[derive(Default)]
pub struct Shared {
    pub state: Mutex<State>,
    pub quota_full: AtomicBool,
    /// Bytes written through `Upload::write`, and how many calls.
    pub bytes_written: AtomicU64,
    pub write_calls: AtomicU64,
    /// Uploads dropped without commit.
    pub discarded: AtomicU64,
}

#[derive(Default)]
pub struct FakeGateway {
    users: HashMap<String, (String, Login)>,
    pub shared: Arc<Shared>,
    on_disk: Option<PathBuf>,
    /// With `on_disk`: fsync each upload at commit (the spool does).
    fsync: bool,
}

impl FakeGateway {
    pub fn new() -> Self {
        let gateway = FakeGateway::default();
        gateway.state().dirs.insert("outbox".into());
        gateway
    }

    pub fn on_disk(dir: PathBuf, fsync: bool) -> Self {
        FakeGateway { on_disk: Some(dir), fsync, ..FakeGateway::new() }
    }

    pub fn with_user(mut self, user: &str, password: &str, channel: &str, tls_required: bool) -> Self {
        let login = Login { channel: channel.into(), user: user.into(), tls_required };
        self.users.insert(user.into(), (password.into(), login));
        self
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("state")
    }

    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.state().files.get(path).cloned()
    }

    pub fn commits(&self) -> u64 {
        self.state().commits
    }

    pub fn logins(&self) -> Vec<Peer> {
        self.state().logins.clone()
    }

    /// Polls (up to 10 s) until `n` uploads were dropped uncommitted.
    pub async fn wait_discarded(&self, n: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.shared.discarded.load(Ordering::SeqCst) < n {
            assert!(std::time::Instant::now() < deadline, "upload was not discarded in time");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn set_quota_full(&self, full: bool) {
        self.shared.quota_full.store(full, Ordering::SeqCst);
    }

    fn entry(name: &str, kind: EntryKind, size: u64) -> Entry {
        Entry { name: name.into(), kind, size, modified: SystemTime::now(), writable: true }
    }
}

fn is_dir(state: &State, path: &VPath) -> bool {
    path.is_root() || state.dirs.contains(&path.relative())
}

#[async_trait]
impl Gateway for FakeGateway {
    async fn authenticate(&self, peer: Peer, user: &str, credential: Credential<'_>) -> Option<Login> {
        let (password, login) = self.users.get(user)?;
        match credential {
            Credential::Password(p) if p == password => {
                self.state().logins.push(peer);
                Some(login.clone())
            }
            _ => None,
        }
    }

    fn accepts_key(&self, _user: &str, _key: &str) -> bool {
        false
    }

    async fn stat(&self, _session: &Session, path: &VPath) -> Result<Entry, FsError> {
        let state = self.state();
        let name = path.name().unwrap_or("/");
        if is_dir(&state, path) {
            return Ok(Self::entry(name, EntryKind::Directory, 0));
        }
        let file = state.files.get(&path.relative()).ok_or(FsError::NotFound)?;
        Ok(Self::entry(name, EntryKind::File, file.len() as u64))
    }

    async fn list(&self, _session: &Session, dir: &VPath) -> Result<Vec<Entry>, FsError> {
        let state = self.state();
        if !is_dir(&state, dir) {
            return Err(FsError::NotFound);
        }
        let child = |p: &String| VPath::resolve(&VPath::root(), p).ok().filter(|v| v.parent() == *dir);
        let dirs =
            state.dirs.iter().filter_map(child).map(|v| Self::entry(v.name().unwrap_or(""), EntryKind::Directory, 0));
        let files = state.files.iter().filter_map(|(p, data)| {
            child(p).map(|v| Self::entry(v.name().unwrap_or(""), EntryKind::File, data.len() as u64))
        });
        Ok(dirs.chain(files).collect())
    }

    async fn mkdir(&self, _session: &Session, path: &VPath) -> Result<(), FsError> {
        let mut state = self.state();
        if !is_dir(&state, &path.parent()) {
            return Err(FsError::NotFound);
        }
        if is_dir(&state, path) || state.files.contains_key(&path.relative()) {
            return Err(FsError::AlreadyExists);
        }
        state.dirs.insert(path.relative());
        Ok(())
    }

    async fn rmdir(&self, _session: &Session, path: &VPath) -> Result<(), FsError> {
        let mut state = self.state();
        let prefix = format!("{}/", path.relative());
        if state.dirs.iter().chain(state.files.keys()).any(|p| p.starts_with(&prefix)) {
            return Err(FsError::NotEmpty);
        }
        state.dirs.remove(&path.relative()).then_some(()).ok_or(FsError::NotFound)
    }

    async fn remove(&self, _session: &Session, path: &VPath) -> Result<(), FsError> {
        let mut state = self.state();
        state.files.remove(&path.relative()).map(|_| ()).ok_or(FsError::NotFound)
    }

    async fn rename(&self, _session: &Session, from: &VPath, to: &VPath) -> Result<(), FsError> {
        let mut state = self.state();
        let data = state.files.remove(&from.relative()).ok_or(FsError::NotFound)?;
        state.files.insert(to.relative(), data);
        Ok(())
    }

    async fn begin_upload(&self, session: &Session, path: &VPath) -> Result<Box<dyn Upload>, FsError> {
        if path.in_outbox() {
            return Err(FsError::PermissionDenied("the outbox is read-only"));
        }
        if !is_dir(&self.state(), &path.parent()) {
            return Err(FsError::NotFound);
        }
        let file = match &self.on_disk {
            Some(dir) => {
                let name = format!("{}-{}", session.login.user, path.relative().replace('/', "_"));
                Some(std::fs::File::create(dir.join(name)).map_err(|e| FsError::Unavailable(e.to_string()))?)
            }
            None => None,
        };
        Ok(Box::new(FakeUpload {
            shared: self.shared.clone(),
            path: path.relative(),
            bytes: Vec::new(),
            file,
            fsync: self.fsync,
            written: 0,
            committed: false,
        }))
    }

    async fn open_read(
        &self,
        _session: &Session,
        path: &VPath,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>, FsError> {
        let data = self.file(&path.relative()).ok_or(FsError::NotFound)?;
        Ok(Box::new(std::io::Cursor::new(data)))
    }
}

/// Bytes kept in memory (or in a file with `on_disk`) until commit.
struct FakeUpload {
    shared: Arc<Shared>,
    path: String,
    bytes: Vec<u8>,
    file: Option<std::fs::File>,
    fsync: bool,
    written: u64,
    committed: bool,
}

impl Drop for FakeUpload {
    fn drop(&mut self) {
        if !self.committed {
            self.shared.discarded.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Upload for FakeUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        if self.shared.quota_full.load(Ordering::SeqCst) {
            return Err(FsError::InsufficientStorage);
        }
        self.shared.bytes_written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.shared.write_calls.fetch_add(1, Ordering::Relaxed);
        match &mut self.file {
            Some(file) => file.write_all(bytes).map_err(|e| FsError::Unavailable(e.to_string()))?,
            None => self.bytes.extend_from_slice(bytes),
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn commit(mut self: Box<Self>) -> Result<Receipt, FsError> {
        if let Some(file) = self.file.as_ref().filter(|_| self.fsync) {
            file.sync_all().map_err(|e| FsError::Unavailable(e.to_string()))?;
        }
        self.committed = true;
        let mut state = self.shared.state.lock().expect("state");
        state.commits += 1;
        state.files.insert(self.path.clone(), std::mem::take(&mut self.bytes));
        Ok(Receipt { id: EnvelopeId::generate(), size: self.written, sha256: envelope::Sha256([0; 32]) })
    }
}
