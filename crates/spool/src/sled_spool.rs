//! [`SledSpool`]: the sled-backed [`Spool`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::watch;

use crate::api::{Enqueued, NewItem, QueueStats, Seq, Spool, SpoolError, StagingFile, StateWrite, StoredItem, Usage};
use crate::committer::Committer;
use crate::enqueue::stored_item;
use crate::leases::QueueIndex;
use crate::payloads::PayloadDir;
use crate::quota::Quota;
use crate::recovery;
use crate::scan;
use crate::staging::SledStagingFile;

/// sled's log segment size. sled writes any page larger than a quarter of a
/// segment to a separate blob file; with 8 MiB segments a full leaf (17 items of
/// up to 64 KiB inline payload plus header) stays in the log. (Blob files that do
/// appear are fsynced by the committer anyway.) Fixed at database creation.
const SEGMENT_SIZE: usize = 8 << 20;

/// How long `open` waits for sled's lock file: a spool dropped a moment ago in
/// this process may still be closing in sled's background threads, and a node
/// restarted quickly may race its predecessor's exit.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where and how big a spool is.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// Root directory; holds `db/`, `payloads/` and `staging/`.
    pub dir: PathBuf,
    /// Upper bound on stored header + payload bytes (plus staging files).
    pub quota_bytes: u64,
    /// Payloads up to this many bytes are kept inside the database record.
    pub inline_limit: usize,
    /// Memory sled may use to cache pages (sled's own default is 1 GiB). Bounds
    /// sled's share of the spool's memory whatever the queue length. The rest of
    /// the spool's memory does not grow with queue length or payload size either:
    /// per queue it keeps two counters plus the leased items (what is in flight)
    /// and the seqs of enqueues in progress.
    pub cache_bytes: u64,
}

impl SpoolOptions {
    pub const DEFAULT_QUOTA_BYTES: u64 = 10 << 30;
    pub const DEFAULT_INLINE_LIMIT: usize = 64 << 10;
    pub const DEFAULT_CACHE_BYTES: u64 = 32 << 20;

    /// Defaults: 10 GiB quota, 64 KiB inline limit, 32 MiB page cache.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolOptions {
        SpoolOptions {
            dir: dir.into(),
            quota_bytes: Self::DEFAULT_QUOTA_BYTES,
            inline_limit: Self::DEFAULT_INLINE_LIMIT,
            cache_bytes: Self::DEFAULT_CACHE_BYTES,
        }
    }
}

/// The sled-backed spool. See the crate documentation for the design.
pub struct SledSpool {
    pub(crate) options: SpoolOptions,
    pub(crate) db: sled::Db,
    pub(crate) seen: sled::Tree,
    pub(crate) state: sled::Tree,
    pub(crate) files: Arc<PayloadDir>,
    pub(crate) quota: Quota,
    queues: Mutex<HashMap<String, Arc<Mutex<QueueIndex>>>>,
    trees: Mutex<HashMap<String, sled::Tree>>,
    pub(crate) committer: Committer,
}

impl std::fmt::Debug for SledSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledSpool").field("options", &self.options).finish_non_exhaustive()
    }
}

pub(crate) fn db_err(e: sled::Error) -> SpoolError {
    SpoolError::Database(e.to_string())
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Our critical sections leave the maps consistent even if they panic midway.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SledSpool {
    /// Opens (or creates) the spool under `options.dir` and recovers it: clears
    /// `staging/`, deletes unreferenced payload files, drops records whose
    /// payload file is missing, rebuilds the quota usage and queue indexes.
    pub fn open(options: SpoolOptions) -> Result<Arc<SledSpool>, SpoolError> {
        std::fs::create_dir_all(&options.dir)?;
        let files = Arc::new(PayloadDir::open(&options.dir)?);
        let db = sled::Config::new()
            .path(options.dir.join("db"))
            .flush_every_ms(None)
            .cache_capacity(options.cache_bytes)
            .segment_size(SEGMENT_SIZE);
        let db = open_when_unlocked(&db)?;
        recovery::check_format(&db)?;
        let recovered = recovery::recover(&db, &files)?;
        let seen = db.open_tree("seen").map_err(db_err)?;
        let state = db.open_tree("state").map_err(db_err)?;
        let committer = Committer::start(db.clone(), &options.dir)?;
        Ok(Arc::new(SledSpool {
            quota: Quota::new(options.quota_bytes, recovered.used_bytes),
            options,
            db,
            seen,
            state,
            files,
            queues: Mutex::new(recovered.queues.into_iter().map(|(q, i)| (q, Arc::new(Mutex::new(i)))).collect()),
            trees: Mutex::new(recovered.trees),
            committer,
        }))
    }

    /// How many times the committer has flushed the database (for tests and
    /// metrics: far fewer than commits under concurrency).
    pub fn flush_count(&self) -> u64 {
        self.committer.flush_count()
    }

    /// The tree of `queue`, opened (and created) on first use.
    pub(crate) fn queue_tree(&self, queue: &str) -> Result<sled::Tree, SpoolError> {
        if let Some(tree) = lock(&self.trees).get(queue) {
            return Ok(tree.clone());
        }
        let tree = self.db.open_tree(recovery::queue_tree_name(queue)).map_err(db_err)?;
        lock(&self.trees).insert(queue.to_string(), tree.clone());
        Ok(tree)
    }

    /// The tree of `queue` if it exists (no tree: no items).
    pub(crate) fn existing_tree(&self, queue: &str) -> Option<sled::Tree> {
        lock(&self.trees).get(queue).cloned()
    }

    /// The index of `queue`, created empty if needed.
    fn index(&self, queue: &str) -> Arc<Mutex<QueueIndex>> {
        let mut queues = lock(&self.queues);
        if let Some(index) = queues.get(queue) {
            return Arc::clone(index);
        }
        Arc::clone(queues.entry(queue.to_string()).or_default())
    }

    /// Runs `f` on the index of `queue` (locked), creating an empty one if needed.
    pub(crate) fn with_index<R>(&self, queue: &str, f: impl FnOnce(&mut QueueIndex) -> R) -> R {
        f(&mut lock(&self.index(queue)))
    }

    /// Walks the queue's tree with its index locked, so concurrent lease calls
    /// of one queue see each other's leases (other queues are not held up).
    fn lease_items(&self, queue: &str, max: usize) -> Result<Vec<StoredItem>, SpoolError> {
        let Some(tree) = self.existing_tree(queue) else {
            return Ok(Vec::new());
        };
        let chosen = self.with_index(queue, |index| scan::lease(index, &tree, max))?;
        Ok(chosen.into_iter().map(|(seq, record)| stored_item(&self.files, seq, record)).collect())
    }

    pub(crate) fn release_items(&self, queue: &str, seqs: &[Seq]) {
        let Some(index) = lock(&self.queues).get(queue).cloned() else { return };
        let mut index = lock(&index);
        if index.release(seqs) {
            index.bump();
        }
    }

    fn stats(&self, queue: &str) -> QueueStats {
        let Some(index) = lock(&self.queues).get(queue).cloned() else {
            return QueueStats::default();
        };
        let tree = self.existing_tree(queue);
        let index = lock(&index);
        let oldest = tree.map_or(Ok(None), |tree| scan::oldest(&index, &tree));
        let oldest_enqueued_at = oldest.unwrap_or_else(|e| {
            tracing::warn!(queue, error = %e, "reading the head of the queue failed");
            None
        });
        QueueStats { depth: index.depth(), bytes: index.payload_bytes(), oldest_enqueued_at }
    }
}

#[async_trait]
impl Spool for SledSpool {
    async fn enqueue(&self, queue: &str, items: Vec<NewItem>, dedupe: bool) -> Result<Vec<Enqueued>, SpoolError> {
        self.enqueue_items(queue, items, dedupe).await
    }

    async fn lease(&self, queue: &str, max: usize) -> Result<Vec<StoredItem>, SpoolError> {
        self.lease_items(queue, max)
    }

    async fn ack(&self, queue: &str, seqs: &[Seq], state: Vec<StateWrite>) -> Result<(), SpoolError> {
        self.ack_items(queue, seqs, state).await
    }

    fn release(&self, queue: &str, seqs: &[Seq]) {
        self.release_items(queue, seqs);
    }

    fn subscribe(&self, queue: &str) -> watch::Receiver<u64> {
        self.with_index(queue, QueueIndex::subscribe)
    }

    async fn stage(&self) -> Result<Box<dyn StagingFile>, SpoolError> {
        let reservation = self.quota.try_reserve(0)?;
        let file = SledStagingFile::create(self.files.new_staging_path(), reservation).await?;
        Ok(Box::new(file))
    }

    async fn write_state(&self, writes: Vec<StateWrite>) -> Result<(), SpoolError> {
        self.write_state_only(writes).await
    }

    fn read_state(&self, key: &str) -> Result<Option<Vec<u8>>, SpoolError> {
        Ok(self.state.get(key.as_bytes()).map_err(db_err)?.map(|v| v.to_vec()))
    }

    fn scan_state(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, SpoolError> {
        self.state.scan_prefix(prefix.as_bytes()).map(state_entry).collect()
    }

    fn last_state(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>, SpoolError> {
        let newest_first = self.state.scan_prefix(prefix.as_bytes()).rev().take(limit);
        let mut entries = newest_first.map(state_entry).collect::<Result<Vec<_>, _>>()?;
        entries.reverse();
        Ok(entries)
    }

    async fn prune_seen(&self, before_millis: u64) -> Result<u64, SpoolError> {
        self.prune_seen_before(before_millis).await
    }

    fn queue_stats(&self, queue: &str) -> QueueStats {
        self.stats(queue)
    }

    fn usage(&self) -> Usage {
        self.quota.usage()
    }
}

/// Opens sled, retrying while another holder of the directory's lock goes away;
/// after [`LOCK_WAIT`] the lock error is returned (the directory is in use).
fn open_when_unlocked(config: &sled::Config) -> Result<sled::Db, SpoolError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.map_err(db_err),
        }
    }
}

/// A state entry with its key as text.
fn state_entry(entry: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(String, Vec<u8>), SpoolError> {
    let (key, value) = entry.map_err(db_err)?;
    let key = String::from_utf8(key.to_vec()).map_err(|_| SpoolError::Corrupt("state key is not UTF-8".into()))?;
    Ok((key, value.to_vec()))
}
