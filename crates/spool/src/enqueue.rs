//! The enqueue path: reserve quota → allocate seqs → place payload files →
//! hide the seqs → committer (one atomic write of records + `seen`, made
//! durable) → count the added items and unhide the seqs.

use std::sync::Arc;

use crate::api::{Enqueued, NewItem, NewPayload, Seq, SpoolError, StoredItem, StoredPayload};
use crate::payloads::PayloadDir;
use crate::quota::Reservation;
use crate::record::{PayloadRef, Record};
use crate::round::{NewRecord, Write};
use crate::sled_spool::{SledSpool, db_err, now_millis};

/// One item ready to be written: its encoded record, its payload file in place.
struct Prepared {
    record: NewRecord,
    payload_bytes: u64,
    has_file: bool,
    /// Bytes of this item in the call's reservation ([`unreserved_bytes`]).
    call_bytes: u64,
    /// Quota of a staged payload (the rest is in the call's reservation).
    staged: Option<Reservation>,
}

/// What the caller keeps of a [`Prepared`] while the committer has the record.
struct Added {
    seq: Seq,
    payload_bytes: u64,
    has_file: bool,
    call_bytes: u64,
    staged: Option<Reservation>,
}

fn split(p: Prepared) -> (NewRecord, Added) {
    let added = Added {
        seq: p.record.seq,
        payload_bytes: p.payload_bytes,
        has_file: p.has_file,
        call_bytes: p.call_bytes,
        staged: p.staged,
    };
    (p.record, added)
}

impl SledSpool {
    pub(crate) async fn enqueue_items(
        &self,
        queue: &str,
        items: Vec<NewItem>,
        dedupe: bool,
    ) -> Result<Vec<Enqueued>, SpoolError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let tree = self.queue_tree(queue)?;
        let mut reservation = self.quota.try_reserve(items.iter().map(unreserved_bytes).sum())?;
        let seqs =
            items.iter().map(|_| self.db.generate_id().map_err(db_err)).collect::<Result<Vec<Seq>, SpoolError>>()?;
        let prepared = self.prepare(items, seqs.clone()).await?;
        let wrote_files = prepared.iter().any(|p| p.has_file);
        let (records, rest): (Vec<NewRecord>, Vec<Added>) = prepared.into_iter().map(split).unzip();
        let write = Write::Enqueue { tree, items: records, dedupe, seen_at: now_millis() };
        // Not leasable, ackable or counted before the commit is acknowledged.
        self.with_index(queue, |index| index.hide(&seqs));
        // On error the records may or may not be in sled, so the files stay (and
        // the seqs stay hidden): the next open keeps the pairs that made it and
        // deletes orphan files.
        let outcomes = self.committer.commit(write, wrote_files).await?.enqueued;
        let mut added = Vec::with_capacity(rest.len());
        for (item, outcome) in rest.into_iter().zip(&outcomes) {
            if *outcome == Enqueued::Duplicate {
                if item.has_file {
                    self.files.remove(item.seq);
                }
                drop(reservation.split(item.call_bytes));
            } else {
                added.push(item);
            }
        }
        reservation.keep();
        self.index_added(queue, added, &seqs);
        Ok(outcomes)
    }

    /// Turns items into records, writing or adopting payload files as needed
    /// (on a blocking thread if there is file work).
    async fn prepare(&self, items: Vec<NewItem>, seqs: Vec<Seq>) -> Result<Vec<Prepared>, SpoolError> {
        let limit = self.options.inline_limit;
        let now = now_millis();
        if !items.iter().any(|item| needs_file(&item.payload, limit)) {
            return prepare_all(&self.files, items, seqs, now, limit);
        }
        let files = Arc::clone(&self.files);
        tokio::task::spawn_blocking(move || prepare_all(&files, items, seqs, now, limit))
            .await
            .map_err(|e| SpoolError::Io(std::io::Error::other(e)))?
    }

    /// Counts the added items and makes all of the call's seqs visible.
    fn index_added(&self, queue: &str, added: Vec<Added>, seqs: &[Seq]) {
        self.with_index(queue, |index| {
            for item in added {
                if let Some(staged) = item.staged {
                    staged.keep();
                }
                index.added(item.payload_bytes);
            }
            index.unhide(seqs);
            index.bump();
        });
    }
}

/// The item as handed out by `lease`.
pub(crate) fn stored_item(files: &PayloadDir, seq: Seq, record: Record) -> StoredItem {
    let payload = match record.payload {
        PayloadRef::None => StoredPayload::None,
        PayloadRef::Inline(bytes) => StoredPayload::Inline(bytes),
        PayloadRef::File(size) => StoredPayload::File { path: files.file_path(seq), size },
    };
    StoredItem {
        seq,
        id: record.id,
        channel: record.channel,
        header: record.header,
        payload,
        enqueued_at: record.enqueued_at,
    }
}

/// Bytes an item still has to reserve (a staged payload reserved its own).
fn unreserved_bytes(item: &NewItem) -> u64 {
    let payload = match &item.payload {
        NewPayload::Bytes(bytes) => bytes.len() as u64,
        NewPayload::None | NewPayload::Staged(_) => 0,
    };
    item.header.len() as u64 + payload
}

fn needs_file(payload: &NewPayload, inline_limit: usize) -> bool {
    match payload {
        NewPayload::None => false,
        NewPayload::Bytes(bytes) => bytes.len() > inline_limit,
        NewPayload::Staged(_) => true,
    }
}

fn prepare_all(
    files: &PayloadDir,
    items: Vec<NewItem>,
    seqs: Vec<Seq>,
    now: u64,
    inline_limit: usize,
) -> Result<Vec<Prepared>, SpoolError> {
    let mut out = Vec::with_capacity(items.len());
    for (item, seq) in items.into_iter().zip(seqs) {
        match prepare_one(files, item, seq, now, inline_limit) {
            Ok(prepared) => out.push(prepared),
            Err(e) => {
                discard_files(files, &out);
                return Err(e);
            }
        }
    }
    Ok(out)
}

fn prepare_one(
    files: &PayloadDir,
    item: NewItem,
    seq: Seq,
    now: u64,
    inline_limit: usize,
) -> Result<Prepared, SpoolError> {
    let call_bytes = unreserved_bytes(&item);
    let (payload, staged) = match item.payload {
        NewPayload::None => (PayloadRef::None, None),
        NewPayload::Bytes(bytes) if bytes.len() <= inline_limit => (PayloadRef::Inline(bytes), None),
        NewPayload::Bytes(bytes) => {
            files.write_file(seq, &bytes)?;
            (PayloadRef::File(bytes.len() as u64), None)
        }
        NewPayload::Staged(staged) => {
            files.adopt(&staged.path, seq)?;
            let size = staged.size;
            (PayloadRef::File(size), staged.disarm())
        }
    };
    let record = Record { id: item.id, enqueued_at: now, channel: item.channel, header: item.header, payload };
    let value = match record.encode() {
        Ok(value) => value,
        Err(e) => {
            if matches!(record.payload, PayloadRef::File(_)) {
                files.remove(seq);
            }
            return Err(e);
        }
    };
    let payload_bytes = record.payload.size();
    let has_file = matches!(record.payload, PayloadRef::File(_));
    Ok(Prepared { record: NewRecord { seq, id: record.id, value }, payload_bytes, has_file, call_bytes, staged })
}

/// Best effort after a failed enqueue; whatever is left is an orphan that the
/// next open deletes.
fn discard_files(files: &PayloadDir, prepared: &[Prepared]) {
    for item in prepared.iter().filter(|item| item.has_file) {
        files.remove(item.record.seq);
    }
}
