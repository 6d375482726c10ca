//! The other durable writes: ack (+ state), state alone, pruning `seen`.

use crate::api::{Seq, SpoolError, StateWrite};
use crate::record::{RecordRef, decode_seen_value, seq_key};
use crate::round::Write;
use crate::sled_spool::{SledSpool, db_err};

impl SledSpool {
    /// Has the committer remove the items and apply `state` atomically, then
    /// uncounts what it really removed and deletes their files.
    pub(crate) async fn ack_items(&self, queue: &str, seqs: &[Seq], state: Vec<StateWrite>) -> Result<(), SpoolError> {
        let present = self.present(queue, seqs)?;
        if present.is_empty() {
            // Nothing to remove; a lease of an item acked meanwhile ends here.
            self.release_items(queue, seqs);
            return self.write_state_only(state).await;
        }
        let tree = self.queue_tree(queue)?;
        let write = Write::Remove { tree, seqs: present, state };
        let removed = self.committer.commit(write, false).await?.removed;
        self.forget(queue, seqs, removed).await;
        Ok(())
    }

    /// The seqs that are items of `queue` (in sled and not hidden).
    fn present(&self, queue: &str, seqs: &[Seq]) -> Result<Vec<Seq>, SpoolError> {
        let Some(tree) = self.existing_tree(queue) else {
            return Ok(Vec::new());
        };
        let visible: Vec<Seq> =
            self.with_index(queue, |index| seqs.iter().copied().filter(|seq| !index.is_hidden(*seq)).collect());
        let mut present = Vec::with_capacity(visible.len());
        for seq in visible {
            if tree.contains_key(seq_key(seq)).map_err(db_err)? {
                present.push(seq);
            }
        }
        Ok(present)
    }

    pub(crate) async fn write_state_only(&self, writes: Vec<StateWrite>) -> Result<(), SpoolError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.committer.commit(Write::State(writes), false).await.map(drop)
    }

    /// Scans `seen` (on a blocking thread) for entries older than
    /// `before_millis` and has the committer remove them. Entries are never
    /// rewritten, so what the scan saw is still true when they are removed.
    pub(crate) async fn prune_seen_before(&self, before_millis: u64) -> Result<u64, SpoolError> {
        let seen = self.seen.clone();
        let old = tokio::task::spawn_blocking(move || -> Result<Vec<sled::IVec>, SpoolError> {
            let mut old = Vec::new();
            for entry in seen.iter() {
                let (key, value) = entry.map_err(db_err)?;
                if decode_seen_value(&value)? < before_millis {
                    old.push(key);
                }
            }
            Ok(old)
        })
        .await
        .map_err(|e| SpoolError::Io(std::io::Error::other(e)))??;
        if old.is_empty() {
            return Ok(0);
        }
        let removed = old.len() as u64;
        self.committer.commit(Write::ForgetSeen(old), false).await?;
        Ok(removed)
    }

    /// After an ack commit: uncount the removed items and unlease all of
    /// `seqs`, give the quota back, delete the payload files.
    async fn forget(&self, queue: &str, seqs: &[Seq], removed: Vec<(Seq, sled::IVec)>) {
        let mut charge = 0;
        let mut files = Vec::new();
        self.with_index(queue, |index| {
            for (seq, value) in &removed {
                match RecordRef::parse(value) {
                    Ok(record) => {
                        index.removed(record.payload_bytes());
                        charge += record.charge();
                        if record.has_file() {
                            files.push(*seq);
                        }
                    }
                    // Not reached: open decodes every record.
                    Err(e) => tracing::error!(queue, seq, error = %e, "acked record unreadable; stats are off"),
                }
            }
            index.release(seqs);
            // A channel may have been unblocked.
            index.bump();
        });
        self.quota.release(charge);
        if files.is_empty() {
            return;
        }
        let dir = std::sync::Arc::clone(&self.files);
        let deleted = tokio::task::spawn_blocking(move || {
            for seq in files {
                dir.remove(seq);
            }
        });
        if let Err(e) = deleted.await {
            tracing::warn!(error = %e, "deleting acked payload files failed; next open removes them");
        }
    }
}
