//! What `open` does before serving: check the format, clear `staging/`, rebuild
//! the queue counters and quota usage, drop records whose payload file is
//! missing, delete payload files no record references. Only the seqs of items
//! with a payload file are held while this runs; nothing per item stays.

use std::collections::{HashMap, HashSet};

use crate::api::{Seq, SpoolError};
use crate::leases::QueueIndex;
use crate::payloads::{PayloadDir, remove_quietly};
use crate::record::{PayloadSlice, RecordRef, decode_seq_key};
use crate::sled_spool::db_err;

const QUEUE_PREFIX: &str = "q:";
const FORMAT_KEY: &[u8] = b"format";
const FORMAT_VERSION: &[u8] = &[1];

pub(crate) fn queue_tree_name(queue: &str) -> String {
    format!("{QUEUE_PREFIX}{queue}")
}

/// Refuses a database written in another layout; stamps a new one.
pub(crate) fn check_format(db: &sled::Db) -> Result<(), SpoolError> {
    let meta = db.open_tree("meta").map_err(db_err)?;
    match meta.get(FORMAT_KEY).map_err(db_err)? {
        Some(version) if version.as_ref() == FORMAT_VERSION => Ok(()),
        Some(version) => Err(SpoolError::Corrupt(format!("unknown spool format {version:?}"))),
        None => {
            meta.insert(FORMAT_KEY, FORMAT_VERSION).map_err(db_err)?;
            db.flush().map_err(db_err)?;
            Ok(())
        }
    }
}

pub(crate) struct Recovered {
    pub queues: HashMap<String, QueueIndex>,
    pub trees: HashMap<String, sled::Tree>,
    pub used_bytes: u64,
}

pub(crate) fn recover(db: &sled::Db, files: &PayloadDir) -> Result<Recovered, SpoolError> {
    let cleared = files.clear_staging()?;
    if cleared > 0 {
        tracing::info!(files = cleared, "deleted unfinished staging files");
    }
    let mut recovered = Recovered { queues: HashMap::new(), trees: HashMap::new(), used_bytes: 0 };
    let mut referenced = HashSet::new();
    let mut dropped = 0;
    for name in db.tree_names() {
        let Some(queue) = name.strip_prefix(QUEUE_PREFIX.as_bytes()) else {
            continue;
        };
        let queue =
            String::from_utf8(queue.to_vec()).map_err(|_| SpoolError::Corrupt("queue name is not UTF-8".into()))?;
        let tree = db.open_tree(&name).map_err(db_err)?;
        let (index, used) = load_queue(&queue, &tree, files, &mut referenced, &mut dropped)?;
        recovered.used_bytes += used;
        recovered.queues.insert(queue.clone(), index);
        recovered.trees.insert(queue, tree);
    }
    delete_orphans(files, &referenced)?;
    if dropped > 0 {
        db.flush().map_err(db_err)?;
    }
    Ok(recovered)
}

/// Counts one queue tree into an index; returns it with the bytes it uses.
fn load_queue(
    queue: &str,
    tree: &sled::Tree,
    files: &PayloadDir,
    referenced: &mut HashSet<Seq>,
    dropped: &mut usize,
) -> Result<(QueueIndex, u64), SpoolError> {
    let (mut depth, mut payload_bytes, mut used) = (0, 0, 0);
    for entry in tree.iter() {
        let (key, value) = entry.map_err(db_err)?;
        let seq = decode_seq_key(&key)?;
        let record = RecordRef::parse(&value)?;
        if let PayloadSlice::File(size) = record.payload
            && !payload_file_ok(files, seq, size)?
        {
            tracing::warn!(queue, seq, id = record.id, "payload file missing; dropping record");
            tree.remove(&key).map_err(db_err)?;
            *dropped += 1;
            continue;
        }
        if record.has_file() {
            referenced.insert(seq);
        }
        used += record.charge();
        depth += 1;
        payload_bytes += record.payload_bytes();
    }
    Ok((QueueIndex::with_counters(depth, payload_bytes), used))
}

/// False if the file is missing. A file of another size cannot come from our
/// write path (files are complete before they are renamed into place).
fn payload_file_ok(files: &PayloadDir, seq: Seq, size: u64) -> Result<bool, SpoolError> {
    match files.file_size(seq)? {
        None => Ok(false),
        Some(actual) if actual == size => Ok(true),
        Some(actual) => {
            Err(SpoolError::Corrupt(format!("payload file of seq {seq} has {actual} bytes, record says {size}")))
        }
    }
}

fn delete_orphans(files: &PayloadDir, referenced: &HashSet<Seq>) -> Result<(), SpoolError> {
    let mut orphans = 0;
    for (path, seq) in files.list()? {
        if !seq.is_some_and(|seq| referenced.contains(&seq)) {
            remove_quietly(&path);
            orphans += 1;
        }
    }
    if orphans > 0 {
        tracing::info!(files = orphans, "deleted unreferenced payload files");
    }
    Ok(())
}
