//! Bookkeeping of referenced payloads so that one is not fetched twice for
//! nothing: ids being fetched right now (a sender that timed out may send the same
//! frame again while the first fetch still runs), and ids committed lately (an ack
//! that got lost makes the DMZ send an envelope again; without this a 1 GiB
//! payload would be fetched again only for dedupe to drop it).
//!
//! Memory only, bounded: after a restart a redelivered envelope is fetched again
//! and deduplicated by the spool, which stays the authority.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use envelope::EnvelopeId;

/// How many committed ids are remembered.
const REMEMBERED: usize = 4096;

/// What to do with a referenced envelope.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Committed before: ack it as a duplicate without fetching.
    Committed,
    /// Another request is fetching it now: leave it unacked.
    Busy,
}

#[derive(Clone, Default)]
pub(crate) struct Fetches {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    running: HashSet<EnvelopeId>,
    committed: HashSet<EnvelopeId>,
    order: VecDeque<EnvelopeId>,
}

impl Fetches {
    /// Claims `id` for fetching; the claim ends when the returned guard drops.
    pub(crate) fn start(&self, id: EnvelopeId) -> Result<Running, Start> {
        let mut inner = self.lock();
        if inner.committed.contains(&id) {
            return Err(Start::Committed);
        }
        if !inner.running.insert(id) {
            return Err(Start::Busy);
        }
        Ok(Running { fetches: self.clone(), id })
    }

    /// Remembers that `id` is durably in the spool.
    pub(crate) fn committed(&self, id: EnvelopeId) {
        let mut inner = self.lock();
        if inner.committed.insert(id) {
            inner.order.push_back(id);
        }
        while inner.order.len() > REMEMBERED {
            if let Some(old) = inner.order.pop_front() {
                inner.committed.remove(&old);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A claim on one id being fetched.
pub(crate) struct Running {
    fetches: Fetches,
    pub(crate) id: EnvelopeId,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.fetches.lock().running.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fetch_per_id_and_committed_ids_are_not_fetched_again() {
        let fetches = Fetches::default();
        let id = EnvelopeId::generate();
        let claim = fetches.start(id).expect("first claim");
        assert_eq!(fetches.start(id).err(), Some(Start::Busy));
        drop(claim);
        let claim = fetches.start(id).expect("claim again after a failed fetch");
        fetches.committed(claim.id);
        drop(claim);
        assert_eq!(fetches.start(id).err(), Some(Start::Committed));
    }
}
