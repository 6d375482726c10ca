//! The lease rule, applied by walking a queue's sled tree from its head.
//!
//! Cost per call: the items visited before `max` are chosen (or the tree
//! ends), i.e. O(leased + hidden items + items of blocked channels that sit
//! before the chosen ones). Leased and hidden items are skipped by key; an item
//! of another channel is only parsed in place (nothing copied) to learn its
//! channel; chosen items are decoded.
//!
//! A walk starts where the previous one stopped (`QueueIndex::scan_from`),
//! or earlier where an item may have become leasable since: a returned (released
//! or acked) item, the first skipped item of a channel that unblocked, an item
//! whose enqueue completed. So a consumer woken by every enqueue while all
//! channels of a backlog are blocked reads only the new items, and after an ack
//! the walk starts at the acked channel's next item, not at the head.

use crate::api::{Seq, SpoolError};
use crate::leases::QueueIndex;
use crate::record::{Record, RecordRef, decode_seq_key, seq_key};
use crate::sled_spool::db_err;

/// Picks up to `max` items and marks them leased: FIFO, skipping leased and
/// hidden items and every item of a channel that has an item leased by an
/// earlier call (items chosen in this call do not block each other).
/// On error nothing is marked.
pub(crate) fn lease(index: &mut QueueIndex, tree: &sled::Tree, max: usize) -> Result<Vec<(Seq, Record)>, SpoolError> {
    let mut chosen = Vec::new();
    if max == 0 || index.all_leased() {
        return Ok(chosen);
    }
    let mut last = None;
    for entry in tree.range(seq_key(index.scan_from())..) {
        if chosen.len() >= max {
            break;
        }
        let (key, value) = entry.map_err(db_err)?;
        let seq = decode_seq_key(&key)?;
        last = Some(seq);
        if index.is_leased(seq) || index.is_hidden(seq) {
            continue;
        }
        let record = RecordRef::parse(&value)?;
        if record.channel.is_some_and(|channel| index.skips(channel, seq)) {
            continue;
        }
        chosen.push((seq, record.to_owned()));
    }
    for (seq, record) in &chosen {
        index.mark_leased(*seq, record.channel.as_deref());
    }
    // Every item visited is now leased, hidden (its unhide moves the start
    // back) or of a blocked channel (noted in its `first_skipped`).
    if let Some(last) = last {
        index.scanned_to(last);
    }
    Ok(chosen)
}

/// `enqueued_at` of the queue's first visible item.
pub(crate) fn oldest(index: &QueueIndex, tree: &sled::Tree) -> Result<Option<u64>, SpoolError> {
    if index.depth() == 0 {
        return Ok(None);
    }
    for entry in tree.iter() {
        let (key, value) = entry.map_err(db_err)?;
        if !index.is_hidden(decode_seq_key(&key)?) {
            return Ok(Some(RecordRef::parse(&value)?.enqueued_at));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::PayloadRef;

    fn queue(channels: &[Option<&str>]) -> (sled::Db, sled::Tree, QueueIndex) {
        let db = sled::Config::new().temporary(true).open().expect("temporary db");
        let tree = db.open_tree("q:test").expect("tree");
        let mut index = QueueIndex::default();
        for (i, channel) in channels.iter().enumerate() {
            let record = Record {
                id: i as u128,
                enqueued_at: 5 + i as u64,
                channel: channel.map(str::to_string),
                header: vec![1, 2],
                payload: PayloadRef::Inline(vec![0; 10]),
            };
            tree.insert(seq_key(i as Seq + 1), record.encode().expect("small")).expect("insert");
            index.added(10);
        }
        (db, tree, index)
    }

    fn seqs(index: &mut QueueIndex, tree: &sled::Tree, max: usize) -> Vec<Seq> {
        lease(index, tree, max).expect("lease").into_iter().map(|(seq, _)| seq).collect()
    }

    #[test]
    fn one_call_takes_a_channel_run_in_order() {
        let (_db, tree, mut q) = queue(&[Some("a"), Some("a"), None, Some("b")]);
        assert_eq!(seqs(&mut q, &tree, 10), vec![1, 2, 3, 4]);
        assert_eq!(seqs(&mut q, &tree, 10), Vec::<Seq>::new());
    }

    #[test]
    fn leased_channel_blocks_later_calls() {
        let (_db, tree, mut q) = queue(&[Some("a"), Some("a"), None, Some("b"), Some("a")]);
        assert_eq!(seqs(&mut q, &tree, 1), vec![1]);
        assert_eq!(seqs(&mut q, &tree, 10), vec![3, 4]);
        assert!(q.release(&[1]));
        assert!(!q.release(&[1]));
        assert_eq!(seqs(&mut q, &tree, 10), vec![1, 2, 5]);
    }

    #[test]
    fn released_head_waits_while_a_later_item_of_its_channel_is_out() {
        let (_db, tree, mut q) = queue(&[Some("a"), Some("a")]);
        assert_eq!(seqs(&mut q, &tree, 2), vec![1, 2]);
        q.release(&[1]);
        assert_eq!(seqs(&mut q, &tree, 5), Vec::<Seq>::new());
        tree.remove(seq_key(2)).expect("remove");
        q.removed(10);
        q.release(&[2]);
        assert_eq!(seqs(&mut q, &tree, 5), vec![1]);
    }

    #[test]
    fn hidden_items_are_neither_leased_nor_oldest() {
        let (_db, tree, mut q) = queue(&[None, Some("a"), None]);
        q.hide(&[1]);
        assert_eq!(oldest(&q, &tree).expect("oldest"), Some(6));
        assert_eq!(seqs(&mut q, &tree, 10), vec![2, 3]);
        assert_eq!(seqs(&mut q, &tree, 0), Vec::<Seq>::new());
    }

    #[test]
    fn chosen_items_are_decoded() {
        let (_db, tree, mut q) = queue(&[Some("a")]);
        let got = lease(&mut q, &tree, 1).expect("lease");
        assert_eq!(got.first().map(|(_, r)| (r.channel.as_deref(), r.enqueued_at)), Some((Some("a"), 5)));
    }
}
