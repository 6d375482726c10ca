//! The pickup area: files the inner sends with `RemoteProtocol::Pickup` wait in
//! the channel's home under `outbox/<directory>/<name>` until a partner of that
//! channel downloads them (SFTP or FTP, through [`crate::gateway::DmzGateway`]).
//!
//! Storage, durable across restarts:
//!
//! ```text
//! <data>/pickup/<file id>                   the bytes (written, fsynced, dir fsynced)
//! spool state pickup/<channel>/<path>      → JSON {file, size, delete_after_pickup, placed_at}
//! ```
//!
//! `<path>` is below `outbox/` (`reports/a.csv`); channel names are single path
//! segments, so keys of two channels never overlap and a partner only ever sees
//! its own channel's entries. A file is placed before its entry is committed (one
//! `write_state`); placing a path again replaces the entry and then removes the old
//! file. Files no entry names (a crash between the steps) are removed at start
//! ([`Pickup::open`]). Directories below `outbox/` exist only as long as files are
//! in them.
//!
//! A download read to its end queues a [`envelope::PickedUp`] to `to-inner` (before
//! the partner sees the end of the file) and, with `delete_after_pickup`, removes
//! the entry and the file. A partner may also delete a pickup file itself.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use envelope::{Body, Envelope, EnvelopeId, Partner, PickedUp, SendRequest};
use partner::{Entry, EntryKind, FsError, VPath};
use serde::{Deserialize, Serialize};
use spool::{Spool, StateWrite};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinHandle;
use transfer::TransferError;

use crate::home::unavailable;

const PREFIX: &str = "pickup/";

/// One pickup file as its state entry records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    /// The file's name in the pickup directory.
    file: String,
    size: u64,
    delete_after_pickup: bool,
    /// Unix milliseconds.
    placed_at: u64,
}

/// The pickup files of every channel.
#[derive(Clone)]
pub struct Pickup {
    spool: Arc<dyn Spool>,
    dir: PathBuf,
    /// Serializes changes, so that replacing a path never leaves a file behind.
    changing: Arc<tokio::sync::Mutex<()>>,
}

impl Pickup {
    /// Opens the pickup area in `dir` (made if missing) and removes files that no
    /// entry names.
    pub fn open(spool: Arc<dyn Spool>, dir: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let pickup = Pickup { spool, dir, changing: Arc::default() };
        let named: BTreeSet<String> = pickup.entries(PREFIX).map_err(io::Error::other)?.map(|(_, r)| r.file).collect();
        for entry in std::fs::read_dir(&pickup.dir)? {
            let entry = entry?;
            if !entry.file_name().to_str().is_some_and(|name| named.contains(name)) {
                tracing::info!(message = "removing an unreferenced pickup file", path = %entry.path().display());
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(pickup)
    }

    /// Places a send's payload at `outbox/<directory>/<name>` of its channel;
    /// returns that path.
    pub async fn place(&self, request: &SendRequest, source: &Path) -> Result<String, TransferError> {
        let below = below_outbox(&request.directory, &request.name).map_err(TransferError::permanent)?;
        let file = EnvelopeId::generate().to_string();
        let target = self.dir.join(&file);
        let size = copy_durably(source, &target, &self.dir)
            .await
            .map_err(|e| TransferError::transient(format!("cannot write the pickup file: {e}")))?;
        let record =
            Record { file, size, delete_after_pickup: request.delete_after_pickup, placed_at: envelope::now_millis() };
        let key = key(&request.channel, &below);
        let _one_at_a_time = self.changing.lock().await;
        let old = self.record(&key).map_err(|e| TransferError::transient(e.to_string()))?;
        let value = serde_json::to_vec(&record).map_err(|e| TransferError::permanent(e.to_string()))?;
        if let Err(error) = self.write(vec![StateWrite::Put(key, value)]).await {
            let _ = tokio::fs::remove_file(&target).await;
            return Err(TransferError::transient(format!("cannot record the pickup file: {error}")));
        }
        if let Some(old) = old {
            self.remove_file(&old.file).await;
        }
        Ok(format!("{}/{below}", partner::OUTBOX))
    }

    /// The file at `path` (below `outbox/`) of `channel`, if there is one.
    pub fn stat(&self, channel: &str, path: &VPath) -> Result<Option<Entry>, FsError> {
        let Some(below) = below(path) else { return Ok(None) };
        Ok(self.record(&key(channel, &below))?.map(|r| file_entry(path.name().unwrap_or_default(), &r)))
    }

    /// Whether `path` (strictly below `outbox/`) is a directory: one with files.
    pub fn is_dir(&self, channel: &str, path: &VPath) -> Result<bool, FsError> {
        let Some(below) = below(path) else { return Ok(path.in_outbox()) };
        let prefix = format!("{}/", key(channel, &below));
        Ok(!self.spool.scan_state(&prefix).map_err(unavailable)?.is_empty())
    }

    /// The files and directories directly below `dir` (`outbox/` or below).
    pub fn list(&self, channel: &str, dir: &VPath) -> Result<Vec<Entry>, FsError> {
        let prefix = match below(dir) {
            Some(below) => format!("{}/", key(channel, &below)),
            None => format!("{PREFIX}{channel}/"),
        };
        let mut entries = Vec::new();
        let mut dirs = BTreeSet::new();
        for (key, record) in self.entries(&prefix)? {
            match key[prefix.len()..].split_once('/') {
                None => entries.push(file_entry(&key[prefix.len()..], &record)),
                Some((sub, _)) => {
                    dirs.insert(sub.to_owned());
                }
            }
        }
        entries.extend(dirs.into_iter().map(|name| Entry {
            name,
            kind: EntryKind::Directory,
            size: 0,
            modified: SystemTime::now(),
            writable: false,
        }));
        Ok(entries)
    }

    /// A partner deletes a pickup file.
    pub async fn remove(&self, channel: &str, path: &VPath) -> Result<(), FsError> {
        let below = below(path).ok_or(FsError::NotFound)?;
        let key = key(channel, &below);
        let _one_at_a_time = self.changing.lock().await;
        let record = self.record(&key)?.ok_or(FsError::NotFound)?;
        self.write(vec![StateWrite::Delete(key)]).await.map_err(unavailable)?;
        self.remove_file(&record.file).await;
        tracing::info!(message = "pickup file deleted by the partner", %channel, path = %path);
        Ok(())
    }

    /// Opens a pickup file for download; reading it to its end reports the pickup.
    pub async fn open_read(
        &self,
        channel: &str,
        path: &VPath,
        partner: Partner,
    ) -> Result<Box<dyn AsyncRead + Send + Unpin>, FsError> {
        let below = below(path).ok_or(FsError::NotFound)?;
        let record = self.record(&key(channel, &below))?.ok_or(FsError::NotFound)?;
        let file = tokio::fs::File::open(self.dir.join(&record.file)).await.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            _ => FsError::Unavailable(e.to_string()),
        })?;
        let done = Downloaded { pickup: self.clone(), channel: channel.to_owned(), below, record, partner };
        Ok(Box::new(PickupReader { file, read: 0, done: Some(done), reporting: None }))
    }

    fn record(&self, key: &str) -> Result<Option<Record>, FsError> {
        let Some(bytes) = self.spool.read_state(key).map_err(unavailable)? else { return Ok(None) };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    fn entries(&self, prefix: &str) -> Result<impl Iterator<Item = (String, Record)>, FsError> {
        let entries = self.spool.scan_state(prefix).map_err(unavailable)?;
        Ok(entries.into_iter().filter_map(|(k, v)| serde_json::from_slice(&v).ok().map(|r| (k, r))))
    }

    async fn write(&self, writes: Vec<StateWrite>) -> Result<(), spool::SpoolError> {
        // Spawned: the spool is not cancel-safe and a session may go away mid-call.
        let spool = Arc::clone(&self.spool);
        tokio::spawn(async move { spool.write_state(writes).await })
            .await
            .map_err(|e| spool::SpoolError::Database(e.to_string()))?
    }

    /// Removes a pickup file; one already gone (two downloads of a file to delete
    /// after pickup ended together) is no error.
    async fn remove_file(&self, file: &str) {
        match tokio::fs::remove_file(self.dir.join(file)).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                tracing::warn!(message = "cannot remove a pickup file", file, %error);
            }
            _ => {}
        }
    }
}

/// A pickup file downloaded to its end: what to report.
struct Downloaded {
    pickup: Pickup,
    channel: String,
    below: String,
    record: Record,
    partner: Partner,
}

impl Downloaded {
    /// Queues the PickedUp envelope, then deletes the file if asked.
    async fn report(self) {
        let deleted = self.record.delete_after_pickup;
        let path = format!("{}/{}", partner::OUTBOX, self.below);
        let partner_login = self.partner.login.clone();
        let body = Body::PickedUp(PickedUp {
            channel: self.channel.clone(),
            path: path.clone(),
            size: self.record.size,
            partner: self.partner,
            deleted,
            at: envelope::now_millis(),
        });
        let envelope = Envelope { id: EnvelopeId::generate(), body, payload: None };
        if let Err(error) = crate::outbound::to_inner(&self.pickup.spool, envelope).await {
            tracing::error!(message = "cannot queue a picked-up report", channel = %self.channel, %path, %error);
            return;
        }
        let login = partner_login.as_deref().unwrap_or_default();
        tracing::info!(message = "pickup file downloaded", channel = %self.channel, %path, size = self.record.size, login, deleted);
        if deleted {
            self.pickup.forget(&self.channel, &self.below, &self.record).await;
        }
    }
}

impl Pickup {
    /// Removes an entry (if it still names `record`'s file) and the file.
    async fn forget(&self, channel: &str, below: &str, record: &Record) {
        let key = key(channel, below);
        let _one_at_a_time = self.changing.lock().await;
        match self.record(&key) {
            Ok(Some(current)) if current.file == record.file => {
                if let Err(error) = self.write(vec![StateWrite::Delete(key)]).await {
                    tracing::error!(message = "cannot delete a picked-up file's entry", %channel, %error);
                    return;
                }
            }
            _ => {}
        }
        self.remove_file(&record.file).await;
    }
}

/// A download of a pickup file. At the end of the file it reports the pickup and
/// only then returns end-of-file.
struct PickupReader {
    file: tokio::fs::File,
    read: u64,
    done: Option<Downloaded>,
    reporting: Option<JoinHandle<()>>,
}

impl AsyncRead for PickupReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(reporting) = this.reporting.as_mut() {
            // A report that failed was logged; the partner still gets the file's end.
            let _ = ready!(Pin::new(reporting).poll(cx));
            this.reporting = None;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.file).poll_read(cx, buf))?;
        let n = (buf.filled().len() - before) as u64;
        this.read += n;
        let at_end = n == 0 && buf.remaining() > 0;
        if at_end && let Some(done) = this.done.take_if(|d| d.record.size == this.read) {
            this.reporting = Some(tokio::spawn(done.report()));
            return Pin::new(this).poll_read(cx, buf);
        }
        Poll::Ready(Ok(()))
    }
}

/// `<directory>/<name>` below `outbox/`, each part checked like a delivery path.
fn below_outbox(directory: &str, name: &str) -> Result<String, String> {
    envelope::validate_segment(name).map_err(|e| format!("pickup name {name:?}: {e}"))?;
    let directory = directory.trim_matches('/');
    if directory.is_empty() {
        return Ok(name.to_owned());
    }
    envelope::validate_path(directory).map_err(|e| format!("pickup directory {directory:?}: {e}"))?;
    Ok(format!("{directory}/{name}"))
}

/// The part of a path strictly below `outbox/` (`None` for `outbox/` itself and
/// for paths outside it).
fn below(path: &VPath) -> Option<String> {
    (path.in_outbox() && path.segments().len() > 1).then(|| path.segments()[1..].join("/"))
}

fn key(channel: &str, below: &str) -> String {
    format!("{PREFIX}{channel}/{below}")
}

fn file_entry(name: &str, record: &Record) -> Entry {
    Entry {
        name: name.to_owned(),
        kind: EntryKind::File,
        size: record.size,
        modified: SystemTime::UNIX_EPOCH + Duration::from_millis(record.placed_at),
        writable: false,
    }
}

/// Copies `source` to `target`, fsyncs it and its directory; returns the size.
async fn copy_durably(source: &Path, target: &Path, dir: &Path) -> io::Result<u64> {
    let (source, target, dir) = (source.to_owned(), target.to_owned(), dir.to_owned());
    tokio::task::spawn_blocking(move || {
        let size = std::fs::copy(&source, &target)?;
        std::fs::File::open(&target)?.sync_all()?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(size)
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::active::ActiveConfig;
    use crate::gateway::DmzGateway;
    use crate::home::Homes;
    use crate::intake::Intake;
    use envelope::{ChannelVerifiers, DmzConfig, Protocol, RemoteProtocol};
    use partner::{Gateway, Login, Peer, Session};
    use spool::{SledSpool, SpoolOptions};
    use tokio::io::AsyncReadExt;

    struct Fixture {
        dir: tempfile::TempDir,
        spool: Arc<dyn Spool>,
        gateway: DmzGateway,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool: Arc<dyn Spool> = SledSpool::open(SpoolOptions::new(dir.path().join("spool"))).expect("spool");
        let config = ActiveConfig::default();
        let channel = |name: &str| ChannelVerifiers { name: name.into(), logins: vec![], ..Default::default() };
        let push = DmzConfig { generation: 1, channels: vec![channel("c"), channel("d")], ..Default::default() };
        config.apply(spool.as_ref(), push).await.expect("push");
        let pickup = Pickup::open(Arc::clone(&spool), dir.path().join("pickup")).expect("pickup");
        let gateway = DmzGateway {
            intake: Intake::new(Arc::clone(&spool), config.clone()),
            config,
            homes: Homes::new(Arc::clone(&spool), pickup),
        };
        Fixture { dir, spool, gateway }
    }

    fn session(channel: &str) -> Session {
        let peer = Peer { remote: "192.0.2.7:50000".parse().expect("addr"), protocol: Protocol::Sftp };
        Session { peer, login: Login { channel: channel.into(), user: format!("{channel}-user"), tls_required: false } }
    }

    fn request(channel: &str, directory: &str, delete_after_pickup: bool) -> SendRequest {
        SendRequest {
            channel: channel.into(),
            name: "report.csv".into(),
            remote: crate::outbound::tests::target(
                &transfer::seal::generate_key().expect("key"),
                RemoteProtocol::Pickup,
                "",
                0,
            ),
            directory: directory.into(),
            size: 0,
            sha256: envelope::Sha256([0; 32]),
            retries: 0,
            retry_base_ms: 0,
            retry_max_ms: 0,
            delete_after_pickup,
        }
    }

    impl Fixture {
        async fn place(&self, request: &SendRequest, bytes: &[u8]) -> String {
            let source = self.dir.path().join("source");
            std::fs::write(&source, bytes).expect("source");
            self.gateway.homes.pickup().place(request, &source).await.expect("place")
        }

        async fn picked_up(&self) -> Vec<PickedUp> {
            let items = self.spool.lease(crate::TO_INNER, 100).await.expect("lease");
            self.spool.release(crate::TO_INNER, &items.iter().map(|i| i.seq).collect::<Vec<_>>());
            let bodies = items.iter().map(|i| envelope::decode::<Body>(&i.header, usize::MAX).expect("body"));
            bodies
                .filter_map(|body| match body {
                    Body::PickedUp(p) => Some(p),
                    _ => None,
                })
                .collect()
        }

        fn files(&self) -> usize {
            std::fs::read_dir(self.dir.path().join("pickup")).expect("dir").count()
        }
    }

    fn path(text: &str) -> VPath {
        VPath::resolve(&VPath::root(), text).expect("path")
    }

    async fn download(gateway: &DmzGateway, session: &Session, text: &str) -> Result<Vec<u8>, FsError> {
        let mut reader = gateway.open_read(session, &path(text)).await?;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await.expect("read");
        Ok(bytes)
    }

    #[tokio::test]
    async fn a_placed_file_is_listed_downloaded_and_reported_to_its_channel_only() {
        let f = fixture().await;
        assert_eq!(f.place(&request("c", "daily", false), b"v1").await, "outbox/daily/report.csv");
        let c = session("c");
        let outbox = f.gateway.list(&c, &path("/outbox")).await.expect("list");
        assert_eq!(
            outbox.iter().map(|e| (e.name.as_str(), e.kind)).collect::<Vec<_>>(),
            [("daily", EntryKind::Directory)]
        );
        let daily = f.gateway.list(&c, &path("/outbox/daily")).await.expect("list");
        assert_eq!((daily[0].name.as_str(), daily[0].size, daily[0].kind), ("report.csv", 2, EntryKind::File));
        // Channel d sees nothing of it.
        let d = session("d");
        assert!(f.gateway.list(&d, &path("/outbox")).await.expect("list").is_empty());
        assert!(matches!(download(&f.gateway, &d, "/outbox/daily/report.csv").await, Err(FsError::NotFound)));
        // Placing it again replaces it (and its old file).
        f.place(&request("c", "daily", false), b"version 2").await;
        assert_eq!(f.files(), 1);
        assert_eq!(download(&f.gateway, &c, "/outbox/daily/report.csv").await.expect("download"), b"version 2");
        let picked = f.picked_up().await;
        let [report] = picked.as_slice() else { panic!("{picked:?}") };
        assert_eq!((report.channel.as_str(), report.path.as_str(), report.size), ("c", "outbox/daily/report.csv", 9));
        assert_eq!(report.partner.login.as_deref(), Some("c-user"));
        assert!(!report.deleted);
        assert!(f.gateway.stat(&c, &path("/outbox/daily/report.csv")).await.is_ok(), "kept");
        // The partner may delete it.
        f.gateway.remove(&c, &path("/outbox/daily/report.csv")).await.expect("remove");
        assert!(f.gateway.list(&c, &path("/outbox")).await.expect("list").is_empty());
        assert_eq!(f.files(), 0);
    }

    #[tokio::test]
    async fn a_file_to_delete_after_pickup_goes_after_a_complete_download_only() {
        let f = fixture().await;
        f.place(&request("c", "", true), b"once only").await;
        let c = session("c");
        let mut reader = f.gateway.open_read(&c, &path("/outbox/report.csv")).await.expect("open");
        let mut part = [0u8; 4];
        reader.read_exact(&mut part).await.expect("read");
        drop(reader);
        assert!(f.picked_up().await.is_empty(), "a partial download is no pickup");
        assert_eq!(download(&f.gateway, &c, "/outbox/report.csv").await.expect("download"), b"once only");
        let picked = f.picked_up().await;
        assert!(picked.len() == 1 && picked[0].deleted, "{picked:?}");
        assert!(matches!(f.gateway.stat(&c, &path("/outbox/report.csv")).await, Err(FsError::NotFound)));
        assert_eq!(f.files(), 0);
    }

    #[tokio::test]
    async fn pickup_files_survive_a_restart_and_strays_are_swept() {
        let f = fixture().await;
        f.place(&request("c", "a/b", false), b"kept").await;
        std::fs::write(f.dir.path().join("pickup").join("stray"), b"x").expect("stray");
        let pickup = Pickup::open(Arc::clone(&f.spool), f.dir.path().join("pickup")).expect("reopen");
        assert_eq!(f.files(), 1);
        let entry = pickup.stat("c", &path("/outbox/a/b/report.csv")).expect("stat").expect("there");
        assert_eq!(entry.size, 4);
        assert!(pickup.is_dir("c", &path("/outbox/a")).expect("is dir"));
        assert!(!pickup.is_dir("d", &path("/outbox/a")).expect("is dir"));
        let bad = request("c", "../x", false);
        let source = f.dir.path().join("source");
        assert!(pickup.place(&bad, &source).await.is_err_and(|e| !e.transient));
    }
}
