//! The spool's public contract: the [`Spool`] trait and the types it speaks.
//! Callers depend on this trait only, so that a clustered backend can replace the
//! sled one without touching them.

use std::path::PathBuf;

use async_trait::async_trait;
use tokio::sync::watch;

/// The id of an item: the 128-bit envelope id it was made for.
pub type ItemId = u128;

/// Position of an item in its queue; larger is later. Unique within a spool.
pub type Seq = u64;

/// Something to enqueue.
#[derive(Debug)]
pub struct NewItem {
    pub id: ItemId,
    /// Items with the same channel are handed out in enqueue order and never two
    /// "in flight" across lease calls at once. `None`: no ordering constraint.
    pub channel: Option<String>,
    /// Opaque to the spool (the roles put an encoded `envelope::Body` here).
    pub header: Vec<u8>,
    pub payload: NewPayload,
}

/// The bytes of a new item.
#[derive(Debug)]
pub enum NewPayload {
    None,
    /// Kept inside the database when small, written as a file otherwise.
    Bytes(Vec<u8>),
    /// A file already written and fsynced by [`StagingFile::finish`].
    Staged(StagedPayload),
}

/// What became of one enqueued item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Added(Seq),
    /// `dedupe` was asked and the id had been enqueued with `dedupe` before;
    /// nothing was added.
    Duplicate,
}

/// An item as stored, handed out by [`Spool::lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub seq: Seq,
    pub id: ItemId,
    pub channel: Option<String>,
    pub header: Vec<u8>,
    pub payload: StoredPayload,
    /// Unix milliseconds when the item was enqueued.
    pub enqueued_at: u64,
}

/// The bytes of a stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredPayload {
    None,
    Inline(Vec<u8>),
    /// A complete, fsynced file owned by the spool; valid until the item is acked.
    File {
        path: PathBuf,
        size: u64,
    },
}

impl StoredPayload {
    pub fn size(&self) -> u64 {
        match self {
            StoredPayload::None => 0,
            StoredPayload::Inline(bytes) => bytes.len() as u64,
            StoredPayload::File { size, .. } => *size,
        }
    }

    /// All the bytes (callers use this only below the inline/streaming limit).
    pub async fn read_all(&self) -> Result<Vec<u8>, SpoolError> {
        match self {
            StoredPayload::None => Ok(Vec::new()),
            StoredPayload::Inline(bytes) => Ok(bytes.clone()),
            StoredPayload::File { path, .. } => Ok(tokio::fs::read(path).await?),
        }
    }
}

/// A durable key → value write, applied together with other work in one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWrite {
    Put(String, Vec<u8>),
    Delete(String),
}

/// Depth and age of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items enqueued and not yet acked (leased ones included).
    pub depth: u64,
    /// Payload bytes of those items.
    pub bytes: u64,
    /// Unix milliseconds of the oldest item's enqueue, if any.
    pub oldest_enqueued_at: Option<u64>,
}

/// Bytes used against the quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub used_bytes: u64,
    pub quota_bytes: u64,
}

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Accepting this would exceed the byte quota. Each protocol maps it to its own
    /// refusal (HTTP 507, FTP 452, SMTP 452, SFTP failure, AS2 503).
    #[error("insufficient storage: {needed} bytes needed, {available} available")]
    InsufficientStorage { needed: u64, available: u64 },
    #[error("spool i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("spool database error: {0}")]
    Database(String),
    /// A stored record could not be read back.
    #[error("corrupt spool record: {0}")]
    Corrupt(String),
}

impl SpoolError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(self, SpoolError::Corrupt(_))
    }
}

/// A payload file being written; see [`Spool::stage`]. Dropping it unfinished
/// deletes the file: a partial upload never becomes visible.
#[async_trait]
pub trait StagingFile: Send {
    /// Appends bytes; fails with [`SpoolError::InsufficientStorage`] when the quota
    /// would be exceeded.
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), SpoolError>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Fsyncs the file and hands it over for [`NewPayload::Staged`].
    async fn finish(self: Box<Self>) -> Result<StagedPayload, SpoolError>;
}

/// A finished, fsynced staging file not yet part of any item. Dropping it deletes
/// the file (and releases its quota).
#[derive(Debug)]
pub struct StagedPayload {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) release: Option<crate::quota::Reservation>,
}

impl StagedPayload {
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// A node's durable store: FIFO queues, payloads, a dedupe table and a small
/// key → value state. Every method that changes something returns only after the
/// change is durable (group commit: concurrent callers share one flush).
///
/// **Not cancel-safe:** a change whose future is dropped mid-way may still be
/// committed without its in-memory bookkeeping (an enqueued item then stays
/// invisible until the spool is reopened). Callers that can be cancelled, such
/// as HTTP handlers whose client disconnects, run these calls in a spawned task.
#[async_trait]
pub trait Spool: Send + Sync + 'static {
    /// Adds items to the end of `queue` in one durable commit. With `dedupe`, an
    /// item whose id was enqueued with `dedupe` before (in any queue, acked or
    /// not) is not added and reported [`Enqueued::Duplicate`]; the ids of added
    /// items are recorded as seen in the same commit.
    async fn enqueue(&self, queue: &str, items: Vec<NewItem>, dedupe: bool) -> Result<Vec<Enqueued>, SpoolError>;

    /// Hands out up to `max` items in FIFO order and marks them leased. Skips items
    /// already leased and items whose channel has an earlier item leased by an
    /// earlier call or skipped in this one; within one call, consecutive items of a
    /// channel come out together, in order. Leases live in memory: a restart
    /// releases them all (redelivery).
    async fn lease(&self, queue: &str, max: usize) -> Result<Vec<StoredItem>, SpoolError>;

    /// Removes leased items for good and applies `state` in the same durable commit;
    /// deletes their payload files after the commit. Unknown seqs are ignored.
    async fn ack(&self, queue: &str, seqs: &[Seq], state: Vec<StateWrite>) -> Result<(), SpoolError>;

    /// Returns leased items to the queue, in their original place, for redelivery.
    fn release(&self, queue: &str, seqs: &[Seq]);

    /// A counter that changes whenever `queue` may have new leasable items
    /// (enqueue, release). Wait on it with `changed()`.
    fn subscribe(&self, queue: &str) -> watch::Receiver<u64>;

    /// Starts a payload file for a streamed upload.
    async fn stage(&self) -> Result<Box<dyn StagingFile>, SpoolError>;

    /// Applies state writes in one durable commit.
    async fn write_state(&self, writes: Vec<StateWrite>) -> Result<(), SpoolError>;

    /// Reads one state value.
    fn read_state(&self, key: &str) -> Result<Option<Vec<u8>>, SpoolError>;

    /// All state entries whose key starts with `prefix`, in key order.
    fn scan_state(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, SpoolError>;

    /// The last `limit` state entries whose key starts with `prefix`, in key order
    /// (reads only those, however many there are).
    fn last_state(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>, SpoolError>;

    /// Forgets dedupe entries recorded before `before_millis` (Unix ms).
    async fn prune_seen(&self, before_millis: u64) -> Result<u64, SpoolError>;

    fn queue_stats(&self, queue: &str) -> QueueStats;

    fn usage(&self) -> Usage;
}
