//! Payloads by reference: which payloads travel as `Payload::Reference` instead of
//! inline bytes, and the table that lets the DMZ's internal SFTP server find the
//! file behind a reference.
//!
//! Design notes:
//! - The threshold is read at send time through a closure: the DMZ learns the
//!   inner's `streaming_size` from config pushes, so it changes while running.
//!   `None` (no push yet, or the inner→DMZ direction) means "always inline".
//! - Only payloads the spool keeps as files go by reference: the file *is* what
//!   the SFTP server serves, so nothing is copied. Its path stays valid until the
//!   item is acked, which is exactly when the table forgets it.
//! - A released item (no ack, e.g. the inner's fetch failed) keeps its entry: the
//!   inner may still be reading it, and the item is sent (and its entry renewed)
//!   again soon. Entries not renewed for [`STALE_AFTER`] are dropped, so an entry
//!   whose ack never came (a crashed peer, a dropped item) cannot stay for ever.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use envelope::EnvelopeId;

/// Entries not sent again for this long are forgotten.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The current streaming size: payloads above it travel by reference; `None`
/// sends everything inline.
pub type StreamingSize = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// What a sender needs to send payloads by reference.
#[derive(Clone)]
pub struct ByReference {
    pub streaming_size: StreamingSize,
    /// Filled with every payload sent by reference, until its ack.
    pub references: References,
}

impl ByReference {
    pub fn new(streaming_size: impl Fn() -> Option<u64> + Send + Sync + 'static, references: References) -> Self {
        ByReference { streaming_size: Arc::new(streaming_size), references }
    }

    /// Whether a stored file of `size` bytes goes by reference now.
    pub(crate) fn applies_to(&self, size: u64) -> bool {
        (self.streaming_size)().is_some_and(|limit| size > limit)
    }
}

impl std::fmt::Debug for ByReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByReference")
            .field("streaming_size", &(self.streaming_size)())
            .field("references", &self.references.len())
            .finish()
    }
}

/// Envelope id text → the payload file sent by reference under that name.
/// Cheap to clone; all clones share one table.
#[derive(Clone, Default, Debug)]
pub struct References {
    table: Arc<Mutex<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<String, (PathBuf, Instant)>,
    last_pruned: Option<Instant>,
}

impl References {
    pub fn new() -> Self {
        References::default()
    }

    /// The payload file for `name` (an envelope id's text), while its envelope
    /// awaits its ack.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.lock().entries.get(name).map(|(path, _)| path.clone())
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records (or renews) a payload sent by reference.
    pub(crate) fn insert(&self, id: EnvelopeId, path: &Path) {
        let now = Instant::now();
        let mut table = self.lock();
        table.entries.insert(id.to_string(), (path.to_owned(), now));
        if table.last_pruned.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60)) {
            table.entries.retain(|_, (_, sent)| now.duration_since(*sent) < STALE_AFTER);
            table.last_pruned = Some(now);
        }
    }

    /// Forgets an acked envelope's payload.
    pub(crate) fn remove(&self, id: EnvelopeId) {
        self.lock().entries.remove(&id.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_from_send_to_ack() {
        let references = References::new();
        let id = EnvelopeId::generate();
        references.insert(id, Path::new("/spool/payloads/0001"));
        assert_eq!(references.path(&id.to_string()), Some(PathBuf::from("/spool/payloads/0001")));
        references.remove(id);
        assert_eq!(references.path(&id.to_string()), None);
        assert!(references.is_empty());
    }

    #[test]
    fn the_threshold_is_read_at_send_time() {
        let limit = Arc::new(Mutex::new(None));
        let read = limit.clone();
        let policy = ByReference::new(move || *read.lock().expect("lock"), References::new());
        assert!(!policy.applies_to(10 << 20), "no streaming size known: inline");
        *limit.lock().expect("lock") = Some(1 << 20);
        assert!(policy.applies_to((1 << 20) + 1));
        assert!(!policy.applies_to(1 << 20), "at the limit: inline");
    }
}
