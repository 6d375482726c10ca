//! What the spool keeps in memory per queue: two counters, the leased items,
//! the seqs of enqueues not yet acknowledged, and the queue's watch counter.
//! Nothing here grows with the queue length: the items themselves are only in
//! the queue's sled tree (`scan.rs` walks it to pick items to lease).
//!
//! Leases are deliberately not persisted: after a restart every item is
//! unleased and will be handed out again (at-least-once delivery).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::watch;

use crate::api::Seq;

#[derive(Debug, Default)]
pub(crate) struct QueueIndex {
    /// Committed, visible, not acked items (leased ones included).
    depth: u64,
    /// Payload bytes of those items.
    payload_bytes: u64,
    /// Leased items and their channel (shared with `leased_channels`).
    leased: HashMap<Seq, Option<Arc<str>>>,
    /// The channels with leased items (blocked channels). Also the intern
    /// table: a leased channel's name exists once.
    leased_channels: HashMap<Arc<str>, Blocked>,
    /// Seqs whose records may be in sled but whose enqueue has not been
    /// acknowledged yet (in the committer, or failed: those stay until reopen).
    /// `lease`, `ack` and the stats ignore them, as if not there yet.
    hidden: HashSet<Seq>,
    /// Where the next lease walk starts. Every visible item before it is
    /// leased, or of a blocked channel and not before that channel's
    /// `first_skipped`. Moves back to a returned item, to the `first_skipped`
    /// of a channel that unblocks, and to a newly visible item.
    scan_from: Seq,
    watch: Option<watch::Sender<u64>>,
}

#[derive(Debug)]
struct Blocked {
    leased: usize,
    /// No lower seq than this of the channel is unleased (seen by the walks).
    first_skipped: Seq,
}

impl QueueIndex {
    /// An index for items found at open (recovery).
    pub(crate) fn with_counters(depth: u64, payload_bytes: u64) -> QueueIndex {
        QueueIndex { depth, payload_bytes, ..QueueIndex::default() }
    }

    /// Counts a committed item (its enqueue is being acknowledged).
    pub(crate) fn added(&mut self, payload_bytes: u64) {
        self.depth += 1;
        self.payload_bytes += payload_bytes;
    }

    /// Uncounts an item whose removal was committed (acked).
    pub(crate) fn removed(&mut self, payload_bytes: u64) {
        self.depth = self.depth.saturating_sub(1);
        self.payload_bytes = self.payload_bytes.saturating_sub(payload_bytes);
    }

    pub(crate) fn depth(&self) -> u64 {
        self.depth
    }

    pub(crate) fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    pub(crate) fn hide(&mut self, seqs: &[Seq]) {
        self.hidden.extend(seqs);
    }

    pub(crate) fn unhide(&mut self, seqs: &[Seq]) {
        for seq in seqs {
            self.hidden.remove(seq);
            self.scan_from = self.scan_from.min(*seq);
        }
    }

    pub(crate) fn scan_from(&self) -> Seq {
        self.scan_from
    }

    /// A lease walk left every item up to `last` leased or blocked.
    pub(crate) fn scanned_to(&mut self, last: Seq) {
        self.scan_from = self.scan_from.max(last.saturating_add(1));
    }

    pub(crate) fn is_hidden(&self, seq: Seq) -> bool {
        self.hidden.contains(&seq)
    }

    pub(crate) fn is_leased(&self, seq: Seq) -> bool {
        self.leased.contains_key(&seq)
    }

    /// True if some item of `channel` is leased; then the walk skips `seq`.
    pub(crate) fn skips(&mut self, channel: &str, seq: Seq) -> bool {
        let Some(blocked) = self.leased_channels.get_mut(channel) else { return false };
        blocked.first_skipped = blocked.first_skipped.min(seq);
        true
    }

    /// No unleased item can be in the queue.
    pub(crate) fn all_leased(&self) -> bool {
        self.depth <= self.leased.len() as u64
    }

    /// Marks an item leased (and its channel blocked).
    pub(crate) fn mark_leased(&mut self, seq: Seq, channel: Option<&str>) {
        let channel = channel.map(|name| self.block(name));
        if let Some(old) = self.leased.insert(seq, channel) {
            // Not reached (the lease scan skips leased items); keep counts right.
            self.returned(seq, old);
        }
    }

    /// Returns leased items to the queue. True if any was leased.
    pub(crate) fn release(&mut self, seqs: &[Seq]) -> bool {
        let mut any = false;
        for seq in seqs {
            if let Some(channel) = self.leased.remove(seq) {
                self.returned(*seq, channel);
                any = true;
            }
        }
        any
    }

    pub(crate) fn subscribe(&mut self) -> watch::Receiver<u64> {
        self.watch.get_or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Tells subscribers that something may have become leasable.
    pub(crate) fn bump(&self) {
        if let Some(sender) = &self.watch {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Counts one more leased item of `name`; returns the shared name.
    fn block(&mut self, name: &str) -> Arc<str> {
        if let Some((shared, blocked)) = self.leased_channels.get_key_value(name) {
            let shared = Arc::clone(shared);
            let blocked = Blocked { leased: blocked.leased + 1, first_skipped: blocked.first_skipped };
            self.leased_channels.insert(Arc::clone(&shared), blocked);
            return shared;
        }
        let shared: Arc<str> = Arc::from(name);
        self.leased_channels.insert(Arc::clone(&shared), Blocked { leased: 1, first_skipped: Seq::MAX });
        shared
    }

    /// Item `seq` of `channel` is no longer leased (released or acked): the
    /// next walk must see it and, if its channel unblocks, the channel's items.
    fn returned(&mut self, seq: Seq, channel: Option<Arc<str>>) {
        let Some(channel) = channel else {
            self.scan_from = self.scan_from.min(seq);
            return;
        };
        let Some(blocked) = self.leased_channels.get_mut(&channel) else {
            self.scan_from = self.scan_from.min(seq);
            return;
        };
        blocked.leased -= 1;
        blocked.first_skipped = blocked.first_skipped.min(seq);
        if blocked.leased == 0 {
            self.scan_from = self.scan_from.min(blocked.first_skipped);
            self.leased_channels.remove(&channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_block_their_channel_until_all_are_back() {
        let mut q = QueueIndex::with_counters(3, 30);
        q.mark_leased(1, Some("a"));
        q.mark_leased(2, Some("a"));
        q.mark_leased(3, None);
        assert!(q.skips("a", 4) && q.is_leased(3) && q.all_leased());
        assert!(q.release(&[1, 3]));
        assert!(!q.release(&[1]));
        assert!(q.skips("a", 4) && !q.is_leased(1) && !q.all_leased());
        assert!(q.release(&[2]));
        assert!(!q.skips("a", 4));
    }

    #[test]
    fn a_channel_name_is_shared_by_its_leased_items() {
        let mut q = QueueIndex::default();
        q.mark_leased(1, Some("a"));
        q.mark_leased(2, Some("a"));
        let first = q.leased.get(&1).cloned().flatten();
        let second = q.leased.get(&2).cloned().flatten();
        assert!(first.zip(second).is_some_and(|(x, y)| Arc::ptr_eq(&x, &y)));
    }

    #[test]
    fn counters_and_hidden_seqs() {
        let mut q = QueueIndex::default();
        q.added(10);
        q.added(5);
        q.removed(10);
        assert_eq!((q.depth(), q.payload_bytes()), (1, 5));
        q.hide(&[7, 8]);
        q.unhide(&[7]);
        assert!(!q.is_hidden(7) && q.is_hidden(8));
    }

    #[test]
    fn the_walk_restarts_where_items_may_have_become_leasable() {
        let mut q = QueueIndex::with_counters(1, 1);
        q.scanned_to(9);
        assert_eq!(q.scan_from(), 10);
        q.unhide(&[12, 7]);
        assert_eq!(q.scan_from(), 7);
        q.mark_leased(8, Some("a"));
        q.mark_leased(9, Some("a"));
        q.mark_leased(11, None);
        q.scanned_to(20);
        assert!(q.skips("a", 15) && q.skips("a", 17));
        assert!(!q.release(&[3]));
        assert!(q.release(&[11]));
        assert_eq!(q.scan_from(), 11);
        q.scanned_to(20);
        assert!(q.release(&[9]));
        assert_eq!(q.scan_from(), 21, "a is still blocked by 8");
        assert!(q.release(&[8]));
        assert_eq!(q.scan_from(), 8);
    }

    #[test]
    fn watch_counts_bumps() {
        let mut q = QueueIndex::default();
        let rx = q.subscribe();
        q.bump();
        q.bump();
        assert_eq!(*rx.borrow(), 2);
    }
}
