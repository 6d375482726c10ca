//! Group commit: one thread applies and makes durable everybody's writes.
//!
//! Callers hand their writes (already prepared: records encoded, payload files
//! renamed into place) to [`Committer::commit`] and wait. The committer thread
//! repeatedly takes *all* waiting callers and runs one round:
//!
//! 1. fsync `payloads/` if any of them renamed a file into it;
//! 2. apply all their writes in one sled transaction (each caller's writes are
//!    thus atomic, and the round costs sled one log write instead of one per
//!    caller) — or, when the round is a single record added alone, as a plain
//!    insert, atomic by itself and one log write cheaper (`round::apply`);
//! 3. `db.flush()`, then `fdatasync` of sled's log file (and any new blob file);
//! 4. wake each caller with its own outcome.
//!
//! Callers arriving during a round wait for the next one. Being the only writer,
//! the committer never sees transaction conflicts.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::api::SpoolError;
use crate::round::{self, Files, Outcome, Write};

type Reply = oneshot::Sender<Result<Outcome, String>>;

pub(crate) struct Committer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Pending>,
    wake: Condvar,
    flushes: AtomicU64,
}

#[derive(Default)]
struct Pending {
    waiters: Vec<(Write, Reply)>,
    /// Some waiter renamed a file into `payloads/`.
    dir_dirty: bool,
    shutdown: bool,
}

/// What the committer thread owns.
struct Worker {
    shared: Arc<Shared>,
    db: sled::Db,
    seen: sled::Tree,
    state: sled::Tree,
    files: Files,
}

impl Committer {
    /// Starts the thread. `root` is the spool directory (`db/`, `payloads/`).
    pub(crate) fn start(db: sled::Db, root: &Path) -> Result<Committer, SpoolError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
        });
        let files = Files {
            payload_dir: root.join("payloads"),
            // sled 0.34 keeps its whole log in `<path>/db`.
            db_file: File::open(root.join("db").join("db"))?,
            blob_dir: root.join("db").join("blobs"),
            synced_blobs: HashSet::new(),
        };
        let seen = db.open_tree("seen").map_err(crate::sled_spool::db_err)?;
        let state = db.open_tree("state").map_err(crate::sled_spool::db_err)?;
        let mut worker = Worker { shared: Arc::clone(&shared), db, seen, state, files };
        let thread = std::thread::Builder::new().name("spool-committer".into()).spawn(move || worker.run())?;
        Ok(Committer { shared, thread: Some(thread) })
    }

    /// Applies `write` in the next round and returns once it is durable.
    /// `dir_dirty`: the caller renamed files into `payloads/`.
    pub(crate) async fn commit(&self, write: Write, dir_dirty: bool) -> Result<Outcome, SpoolError> {
        let (reply, done) = oneshot::channel();
        {
            let mut pending = lock(&self.shared.queue);
            if pending.shutdown {
                return Err(SpoolError::Database("spool is shutting down".into()));
            }
            pending.waiters.push((write, reply));
            pending.dir_dirty |= dir_dirty;
        }
        self.shared.wake.notify_one();
        match done.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(message)) => Err(SpoolError::Database(message)),
            Err(_) => Err(SpoolError::Database("committer stopped".into())),
        }
    }

    /// Number of `db.flush()` calls so far.
    pub(crate) fn flush_count(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        lock(&self.shared.queue).shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // The thread owns handles on the db; joining it lets the db close.
            let _ = thread.join();
        }
    }
}

fn lock(mutex: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    // A panic while holding this lock cannot leave `Pending` inconsistent.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Worker {
    fn run(&mut self) {
        loop {
            let (waiters, dir_dirty, shutdown) = {
                let mut pending = lock(&self.shared.queue);
                while pending.waiters.is_empty() && !pending.shutdown {
                    pending = self.shared.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
                }
                let dirty = std::mem::take(&mut pending.dir_dirty);
                (std::mem::take(&mut pending.waiters), dirty, pending.shutdown)
            };
            if !waiters.is_empty() {
                self.round(waiters, dir_dirty);
            }
            if shutdown {
                return;
            }
        }
    }

    fn round(&mut self, waiters: Vec<(Write, Reply)>, dir_dirty: bool) {
        let writes: Vec<&Write> = waiters.iter().map(|(write, _)| write).collect();
        match self.make_durable(&writes, dir_dirty) {
            Ok(outcomes) => {
                for ((_, reply), outcome) in waiters.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(message) => {
                tracing::error!(error = %message, "spool commit failed");
                for (_, reply) in waiters {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }

    /// Payload directory first, then the records, then the flush: a durable
    /// record always finds its payload file.
    fn make_durable(&mut self, writes: &[&Write], dir_dirty: bool) -> Result<Vec<Outcome>, String> {
        if dir_dirty {
            round::sync_dir(&self.files.payload_dir).map_err(|e| format!("fsync of payloads/ failed: {e}"))?;
        }
        let outcomes = round::apply(&self.seen, &self.state, writes).map_err(|e| e.to_string())?;
        self.shared.flushes.fetch_add(1, Ordering::Relaxed);
        self.db.flush().map_err(|e| e.to_string())?;
        round::sync_sled_files(&mut self.files).map_err(|e| format!("fsync of sled files failed: {e}"))?;
        Ok(outcomes)
    }
}
