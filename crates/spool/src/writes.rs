//! The other durable writes: ack (+ state), state alone, pruning `seen`.

use crate::api::{Seq, SpoolError, StateWrite};
use crate::record::decode_seen_value;
use crate::round::Write;
use crate::sled_spool::{SledSpool, db_err};

impl SledSpool {
    /// Has the committer remove the items and apply `state` atomically, then
    /// forgets them in memory and deletes their files.
    pub(crate) async fn ack_items(&self, queue: &str, seqs: &[Seq], state: Vec<StateWrite>) -> Result<(), SpoolError> {
        let present: Vec<Seq> =
            self.with_index(queue, |index| seqs.iter().copied().filter(|seq| index.contains(*seq)).collect());
        if present.is_empty() && state.is_empty() {
            return Ok(());
        }
        if present.is_empty() {
            return self.write_state_only(state).await;
        }
        let tree = self.queue_tree(queue)?;
        let write = Write::Remove { tree, seqs: present.clone(), state };
        self.committer.commit(write, false).await?;
        self.forget(queue, &present).await;
        Ok(())
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

    /// After an ack commit: drop the items from the index, give their quota
    /// back, delete their payload files.
    async fn forget(&self, queue: &str, seqs: &[Seq]) {
        let removed: Vec<(Seq, bool, u64)> = self.with_index(queue, |index| {
            let removed = seqs
                .iter()
                .filter_map(|seq| index.remove(*seq).map(|meta| (*seq, meta.has_file, meta.charge)))
                .collect();
            // A channel may have been unblocked.
            index.bump();
            removed
        });
        self.quota.release(removed.iter().map(|(_, _, charge)| charge).sum());
        let files: Vec<Seq> = removed.iter().filter(|(_, has_file, _)| *has_file).map(|(seq, _, _)| *seq).collect();
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
