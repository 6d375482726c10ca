//! The in-memory index of one queue: which items exist (committed, not acked),
//! which are leased, and the queue's watch counter.
//!
//! Leases are deliberately not persisted: after a restart every item is
//! unleased and will be handed out again (at-least-once delivery).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::watch;

use crate::api::{QueueStats, Seq};

/// What the index keeps per item (the record itself stays in sled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemMeta {
    pub channel: Option<Arc<str>>,
    pub payload_bytes: u64,
    /// Header + payload bytes, counted against the quota.
    pub charge: u64,
    pub enqueued_at: u64,
    /// The payload is a file under `payloads/`.
    pub has_file: bool,
}

#[derive(Debug)]
struct Entry {
    meta: ItemMeta,
    leased: bool,
}

#[derive(Debug, Default)]
pub(crate) struct QueueIndex {
    items: BTreeMap<Seq, Entry>,
    /// Number of leased items per channel; a channel present here is blocked.
    leased_channels: HashMap<Arc<str>, usize>,
    payload_bytes: u64,
    watch: Option<watch::Sender<u64>>,
}

impl QueueIndex {
    pub(crate) fn insert(&mut self, seq: Seq, meta: ItemMeta) {
        self.payload_bytes += meta.payload_bytes;
        if let Some(old) = self.items.insert(seq, Entry { meta, leased: false }) {
            // Seqs are unique; keep the accounting right regardless.
            self.payload_bytes -= old.meta.payload_bytes;
        }
    }

    /// Picks up to `max` items by the lease rule and marks them leased: FIFO,
    /// skipping leased items and every item of a channel that has an item leased
    /// by an earlier call.
    pub(crate) fn lease(&mut self, max: usize) -> Vec<Seq> {
        let mut chosen = Vec::new();
        for (seq, entry) in &mut self.items {
            if chosen.len() >= max {
                break;
            }
            if entry.leased {
                continue;
            }
            let blocked = entry.meta.channel.as_ref().is_some_and(|c| self.leased_channels.contains_key(c));
            if !blocked {
                entry.leased = true;
                chosen.push(*seq);
            }
        }
        // Items taken in this call do not block each other; count them only now.
        for seq in &chosen {
            if let Some(channel) = self.items.get(seq).and_then(|e| e.meta.channel.clone()) {
                *self.leased_channels.entry(channel).or_insert(0) += 1;
            }
        }
        chosen
    }

    /// Returns leased items to the queue. True if any was leased.
    pub(crate) fn release(&mut self, seqs: &[Seq]) -> bool {
        let mut any = false;
        for seq in seqs {
            if let Some(entry) = self.items.get_mut(seq)
                && entry.leased
            {
                entry.leased = false;
                let channel = entry.meta.channel.clone();
                self.unblock(channel);
                any = true;
            }
        }
        any
    }

    /// Forgets an item for good (acked), leased or not.
    pub(crate) fn remove(&mut self, seq: Seq) -> Option<ItemMeta> {
        let entry = self.items.remove(&seq)?;
        self.payload_bytes -= entry.meta.payload_bytes;
        if entry.leased {
            self.unblock(entry.meta.channel.clone());
        }
        Some(entry.meta)
    }

    pub(crate) fn contains(&self, seq: Seq) -> bool {
        self.items.contains_key(&seq)
    }

    pub(crate) fn stats(&self) -> QueueStats {
        QueueStats {
            depth: self.items.len() as u64,
            bytes: self.payload_bytes,
            // Seqs grow with time, so the head is the oldest item.
            oldest_enqueued_at: self.items.values().next().map(|e| e.meta.enqueued_at),
        }
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

    fn unblock(&mut self, channel: Option<Arc<str>>) {
        let Some(channel) = channel else { return };
        if let Some(count) = self.leased_channels.get_mut(&channel) {
            *count -= 1;
            if *count == 0 {
                self.leased_channels.remove(&channel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(channel: Option<&str>) -> ItemMeta {
        ItemMeta { channel: channel.map(Arc::from), payload_bytes: 10, charge: 12, enqueued_at: 5, has_file: false }
    }

    fn index(channels: &[Option<&str>]) -> QueueIndex {
        let mut index = QueueIndex::default();
        for (i, channel) in channels.iter().enumerate() {
            index.insert(i as Seq + 1, meta(*channel));
        }
        index
    }

    #[test]
    fn one_call_takes_a_channel_run_in_order() {
        let mut q = index(&[Some("a"), Some("a"), None, Some("b")]);
        assert_eq!(q.lease(10), vec![1, 2, 3, 4]);
        assert_eq!(q.lease(10), Vec::<Seq>::new());
    }

    #[test]
    fn leased_channel_blocks_later_calls() {
        let mut q = index(&[Some("a"), Some("a"), None, Some("b"), Some("a")]);
        assert_eq!(q.lease(1), vec![1]);
        assert_eq!(q.lease(10), vec![3, 4]);
        assert!(q.release(&[1]));
        assert!(!q.release(&[1]));
        assert_eq!(q.lease(10), vec![1, 2, 5]);
    }

    #[test]
    fn released_head_waits_while_a_later_item_of_its_channel_is_out() {
        let mut q = index(&[Some("a"), Some("a")]);
        assert_eq!(q.lease(2), vec![1, 2]);
        q.release(&[1]);
        assert_eq!(q.lease(5), Vec::<Seq>::new());
        assert!(q.remove(2).is_some());
        assert_eq!(q.lease(5), vec![1]);
    }

    #[test]
    fn stats_follow_inserts_and_removes() {
        let mut q = index(&[None, Some("a")]);
        assert_eq!(q.stats(), QueueStats { depth: 2, bytes: 20, oldest_enqueued_at: Some(5) });
        q.lease(1);
        q.remove(1);
        q.remove(2);
        assert_eq!(q.remove(2), None);
        assert_eq!(q.stats(), QueueStats::default());
        assert!(q.lease(3).is_empty());
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
