//! Partners' virtual homes on the DMZ: which directories exist in each channel's
//! upload area, and which files were received there lately.
//!
//! Directories are durable (spool state `home/<channel>/<path>`), so a tree made by
//! one session (or before a restart) is there for the next. Files are not kept:
//! an upload is forwarded to the inner node, so the home remembers only recent
//! arrivals (name, size, time) in memory, for clients that `stat` or list after
//! uploading (paramiko confirms every put that way). The pickup area `outbox/` is
//! fixed and read-only to the partner; what is in it comes from [`Pickup`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use partner::{Entry, EntryKind, FsError, OUTBOX, VPath};
use spool::{Spool, StateWrite};

use crate::pickup::Pickup;

/// How long a received file stays visible.
const RECENT_FOR: Duration = Duration::from_secs(3600);
/// At most this many recent files are remembered per channel.
const RECENT_MAX: usize = 10_000;

const PREFIX: &str = "home/";

/// Recent arrivals: channel → path → (size, when).
type Recent = HashMap<String, HashMap<VPath, (u64, SystemTime)>>;

/// The directory trees and recent arrivals of every channel.
#[derive(Clone)]
pub struct Homes {
    spool: Arc<dyn Spool>,
    recent: Arc<Mutex<Recent>>,
    /// The files below `outbox/`.
    pickup: Pickup,
}

impl Homes {
    pub fn new(spool: Arc<dyn Spool>, pickup: Pickup) -> Self {
        Homes { spool, recent: Arc::default(), pickup }
    }

    /// The pickup area every channel's `outbox/` shows.
    pub fn pickup(&self) -> &Pickup {
        &self.pickup
    }

    /// What `path` is in `channel`'s home.
    pub fn stat(&self, channel: &str, path: &VPath) -> Result<Entry, FsError> {
        if self.is_dir(channel, path)? {
            return Ok(dir_entry(path));
        }
        if path.in_outbox() {
            return self.pickup.stat(channel, path)?.ok_or(FsError::NotFound);
        }
        match self.recent_file(channel, path) {
            Some((size, modified)) => Ok(file_entry(path, size, modified)),
            None => Err(FsError::NotFound),
        }
    }

    /// Whether `path` is a directory (the home and `outbox/` always are).
    pub fn is_dir(&self, channel: &str, path: &VPath) -> Result<bool, FsError> {
        if path.is_root() || (path.in_outbox() && path.segments().len() == 1) {
            return Ok(true);
        }
        if path.in_outbox() {
            return self.pickup.is_dir(channel, path);
        }
        Ok(self.spool.read_state(&key(channel, path)).map_err(unavailable)?.is_some())
    }

    /// The entries directly below the directory `dir`.
    pub fn list(&self, channel: &str, dir: &VPath) -> Result<Vec<Entry>, FsError> {
        if !self.is_dir(channel, dir)? {
            return Err(self.stat(channel, dir).map_or(FsError::NotFound, |_| FsError::NotADirectory));
        }
        let mut entries = Vec::new();
        if dir.is_root() {
            entries.push(Entry { writable: false, ..dir_entry(&VPath::root().join(OUTBOX)?) });
        }
        if dir.in_outbox() {
            entries.extend(self.pickup.list(channel, dir)?);
            return Ok(entries);
        }
        for child in self.child_dirs(channel, dir)? {
            entries.push(dir_entry(&child));
        }
        if let Some(files) = self.lock().get(channel) {
            let below = files.iter().filter(|(path, (_, at))| path.parent() == *dir && fresh(*at));
            entries.extend(below.map(|(path, (size, modified))| file_entry(path, *size, *modified)));
        }
        Ok(entries)
    }

    pub async fn mkdir(&self, channel: &str, path: &VPath) -> Result<(), FsError> {
        self.check_writable_parent(channel, path)?;
        if self.stat(channel, path).is_ok() {
            return Err(FsError::AlreadyExists);
        }
        self.write(vec![StateWrite::Put(key(channel, path), Vec::new())]).await
    }

    pub async fn rmdir(&self, channel: &str, path: &VPath) -> Result<(), FsError> {
        if path.is_root() || path.in_outbox() {
            return Err(FsError::PermissionDenied("this directory cannot be removed"));
        }
        if !self.is_dir(channel, path)? {
            return Err(FsError::NotFound);
        }
        if !self.child_dirs(channel, path)?.is_empty() {
            return Err(FsError::NotEmpty);
        }
        self.forget_below(channel, path);
        self.write(vec![StateWrite::Delete(key(channel, path))]).await
    }

    /// Renames a directory (with everything below it); received files cannot be
    /// renamed: they are already on their way inside.
    pub async fn rename(&self, channel: &str, from: &VPath, to: &VPath) -> Result<(), FsError> {
        if from.in_outbox() {
            return Err(FsError::PermissionDenied("outbox/ is for pickup only"));
        }
        match self.stat(channel, from)?.kind {
            EntryKind::File => return Err(FsError::PermissionDenied("a received file is already forwarded")),
            EntryKind::Directory if from.is_root() => {
                return Err(FsError::PermissionDenied("this directory cannot be renamed"));
            }
            EntryKind::Directory => {}
        }
        self.check_writable_parent(channel, to)?;
        if self.stat(channel, to).is_ok() {
            return Err(FsError::AlreadyExists);
        }
        if to.segments().starts_with(from.segments()) {
            return Err(FsError::BadPath("cannot move a directory into itself".into()));
        }
        let old = key(channel, from);
        let mut writes = vec![StateWrite::Delete(old.clone()), StateWrite::Put(key(channel, to), Vec::new())];
        for (below, _) in self.spool.scan_state(&format!("{old}/")).map_err(unavailable)? {
            writes.push(StateWrite::Put(format!("{}{}", key(channel, to), &below[old.len()..]), Vec::new()));
            writes.push(StateWrite::Delete(below));
        }
        self.forget_below(channel, from);
        self.write(writes).await
    }

    /// Refuses an upload or mkdir at `path` unless its parent is a directory of
    /// the upload area.
    pub fn check_writable_parent(&self, channel: &str, path: &VPath) -> Result<(), FsError> {
        if path.is_root() {
            return Err(FsError::AlreadyExists);
        }
        if path.in_outbox() {
            return Err(FsError::PermissionDenied("outbox/ is for pickup only"));
        }
        if !self.is_dir(channel, &path.parent())? {
            return Err(FsError::NotFound);
        }
        if self.is_dir(channel, path)? {
            return Err(FsError::IsADirectory);
        }
        Ok(())
    }

    /// Remembers a file just received (shown by stat and listings for a while).
    pub fn received(&self, channel: &str, path: VPath, size: u64) {
        let now = SystemTime::now();
        let mut recent = self.lock();
        let files = recent.entry(channel.to_owned()).or_default();
        if files.len() >= RECENT_MAX {
            files.retain(|_, (_, at)| fresh(*at));
        }
        if files.len() >= RECENT_MAX
            && let Some(oldest) = files.iter().min_by_key(|(_, (_, at))| *at).map(|(p, _)| p.clone())
        {
            files.remove(&oldest);
        }
        files.insert(path, (size, now));
    }

    fn recent_file(&self, channel: &str, path: &VPath) -> Option<(u64, SystemTime)> {
        self.lock().get(channel)?.get(path).copied().filter(|(_, at)| fresh(*at))
    }

    fn forget_below(&self, channel: &str, dir: &VPath) {
        if let Some(files) = self.lock().get_mut(channel) {
            files.retain(|path, _| !path.segments().starts_with(dir.segments()));
        }
    }

    fn child_dirs(&self, channel: &str, dir: &VPath) -> Result<Vec<VPath>, FsError> {
        let prefix = if dir.is_root() { format!("{PREFIX}{channel}/") } else { format!("{}/", key(channel, dir)) };
        let entries = self.spool.scan_state(&prefix).map_err(unavailable)?;
        let names = entries.into_iter().filter_map(|(k, _)| {
            let name = &k[prefix.len()..];
            (!name.contains('/')).then(|| dir.join(name).ok()).flatten()
        });
        Ok(names.collect())
    }

    async fn write(&self, writes: Vec<StateWrite>) -> Result<(), FsError> {
        // Spawned: the spool is not cancel-safe and a session may go away mid-call.
        let spool = Arc::clone(&self.spool);
        tokio::spawn(async move { spool.write_state(writes).await })
            .await
            .map_err(|e| FsError::Unavailable(e.to_string()))?
            .map_err(unavailable)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a file received at `at` is still shown. Expired entries are dropped
/// only when a channel's table is full, not on every arrival.
fn fresh(at: SystemTime) -> bool {
    SystemTime::now().duration_since(at).unwrap_or_default() < RECENT_FOR
}

fn key(channel: &str, path: &VPath) -> String {
    format!("{PREFIX}{channel}/{}", path.relative())
}

fn dir_entry(path: &VPath) -> Entry {
    let name = path.name().unwrap_or("/").to_owned();
    Entry { name, kind: EntryKind::Directory, size: 0, modified: SystemTime::now(), writable: !path.in_outbox() }
}

fn file_entry(path: &VPath, size: u64, modified: SystemTime) -> Entry {
    let name = path.name().unwrap_or_default().to_owned();
    Entry { name, kind: EntryKind::File, size, modified, writable: false }
}

pub(crate) fn unavailable(error: spool::SpoolError) -> FsError {
    FsError::Unavailable(error.to_string())
}
