//! # spool: durable queues for one portcullis node
//!
//! The only crate that touches sled. Callers see the [`Spool`] trait
//! (`api.rs`); [`SledSpool`] implements it on one directory. The one rule that
//! everything here serves: **a call that changes something returns only after
//! the change is durable**, and after any crash the spool reopens in a state
//! where every acknowledged change is present and nothing is half-done.
//!
//! ## Files
//!
//! ```text
//! <dir>/db/          sled database (flush_every_ms(None): only our committer flushes;
//!                    8 MiB segments, see "sled caveats")
//! <dir>/payloads/    one file per large payload, named by the item's seq:
//!                    payloads/000000000000002a  (16 lower-case hex digits)
//! <dir>/staging/     files being written: staging/<counter hex>.part (direct I/O where the
//!                    file system allows it; see direct.rs)
//! ```
//!
//! ## sled trees and keys
//!
//! ```text
//! q:<queue name>   key   u64 BE seq            (so key order = FIFO order)
//!                  value record, version byte first (see record.rs):
//!                        u8 1 | u128 BE id | u64 BE enqueued_at ms
//!                        | u8 0 | u8 1,u32 len,channel utf-8
//!                        | u32 len,header
//!                        | u8 0 (none) | u8 1,u32 len,bytes (inline) | u8 2,u64 size (file)
//! seen             key   u128 BE item id       value u64 BE ms first enqueued (dedupe)
//! state            key   utf-8 string          value opaque bytes
//! meta             key   "format"              value [1]  (layout version, checked at open)
//! ```
//!
//! Seqs come from `sled::Db::generate_id()`, which never repeats or goes back,
//! across restarts too; so seqs are unique in the whole spool and a queue's key
//! order is its enqueue order.
//!
//! ## Invariants
//!
//! 1. A file under `payloads/` is always complete and fsynced: it got there by
//!    `rename` from `staging/` after `fsync` of the file.
//! 2. A record that says "file" is only written (in sled) after the rename of
//!    its file *and* the fsync of `payloads/` (the committer does that fsync at
//!    the start of the round that applies the record).
//! 3. One call's writes (an enqueue's records and `seen` entries; an ack's
//!    removals and state writes) are applied in one sled transaction, so after a
//!    crash they are all there or none is.
//! 4. A queue's items are its committed records minus its *hidden* seqs (those
//!    of enqueues whose commit has not been acknowledged yet, or failed); the
//!    queue's counters (depth, payload bytes) count exactly its items; quota
//!    `used` = Σ (header + payload bytes) of all records + bytes of live staging
//!    files and of reservations of calls in progress.
//! 5. Leases exist only in memory.
//!
//! ## What lives in memory (and why it is bounded)
//!
//! The records are only in sled, whose page cache is capped
//! (`SpoolOptions::cache_bytes`). Per queue the spool keeps (`leases.rs`):
//!
//! * two counters, depth and payload bytes, changed when a commit that adds
//!   or removes items is acknowledged;
//! * the leased set, seq → channel, and the number of leased items per channel
//!   (the blocked channels). A leased channel's name is allocated once and
//!   shared by its leased items. Bounded by what is in flight;
//! * the hidden seqs: bounded by the enqueues in progress (plus those of failed
//!   commits, until reopen);
//! * where the next lease walk starts (one seq), and the watch counter.
//!
//! Nothing is kept per queued item, so memory does not grow with queue length
//! or payload size. The price: `lease` and `queue_stats` read sled, and `ack`
//! checks in sled which of its seqs exist (see "Leases").
//!
//! ## Item lifecycle
//!
//! ```text
//! enqueue: reserve quota ─► seqs ─► payload: inline | staging→fsync→rename | adopt staged file
//!          ─► committer round [fsync payloads/, transaction(records + seen), flush, fdatasync]
//!          (its seqs are hidden from just before the round until it is acknowledged)
//!          ─► count the added items, unhide the seqs, bump the queue's watch ─► return
//! lease:   walk the queue's tree by the lease rule, decode the chosen records, mark leased
//! release: unmark (item keeps its place) ─► bump watch
//! ack:     keep the seqs that exist in sled and are not hidden
//!          ─► committer round [transaction(remove records + state writes), flush, fdatasync]
//!          ─► uncount the records the transaction really removed, unmark the leases,
//!             release their quota, delete their payload files, bump watch
//! ```
//!
//! Duplicates found by the transaction (dedupe) get their already placed file
//! deleted and their quota released before `enqueue` returns.
//!
//! ## Group commit
//!
//! `committer.rs` runs one thread. Callers prepare everything that is slow or
//! can fail on their own (encoding, payload files, quota) and then hand the
//! committer a small description of their sled writes (`round::Write`) and
//! wait on a oneshot. The thread takes *all* waiting callers at once, fsyncs
//! `payloads/` if any of them renamed a file, applies all their writes in
//! **one** multi-tree sled transaction, calls `db.flush()` once, fdatasyncs the
//! log file and wakes everybody with their own result (enqueue outcomes).
//! Callers arriving meanwhile are served by the next round. Under load a round
//! carries hundreds of calls (see `crates/bench`).
//!
//! Why the committer applies the writes instead of each caller: sled 0.34 seals
//! and *writes out* its log buffer (`pwrite` + `sync_file_range`) at every batch
//! or transaction, so per-caller transactions cost one synchronous disk write
//! each, serialized by sled's global transaction lock, before the flush is even
//! reached. One transaction per round makes that cost per round.
//!
//! Why a sled transaction and not a mutex around several tree writes: a mutex
//! makes the writes atomic for readers in this process, but not for recovery;
//! sled can persist a prefix of them (e.g. the `seen` entry without the record,
//! which would turn a client's retry into a silent loss). sled recovers a
//! transaction all-or-nothing. The committer is the only writer, so the
//! transaction never conflicts or retries. The one exception: a round whose only
//! write is one record added without dedupe (a partner upload arriving alone) is
//! a plain `insert`, atomic by itself, which spares sled the batch manifest's
//! extra log write (about a third of a lone commit's cost here).
//!
//! ## sled caveats (and what we do about them)
//!
//! * `flush()` syncs with `sync_file_range`, which neither flushes the device
//!   cache nor persists file metadata such as a grown size. The committer
//!   therefore `fdatasync`s `<dir>/db/db` after every flush.
//! * sled writes pages larger than a quarter segment to `db/blobs/` and never
//!   fsyncs them. We use 8 MiB segments so that a full leaf (≤ 17 items of
//!   ≤ 64 KiB inline payload + header) stays in the log, and the committer also
//!   fsyncs every new blob file (and the blob dir) after the flush.
//!
//! ## Crash recovery (`recovery.rs`, at `open`)
//!
//! * `staging/` is emptied: nothing there is referenced by any record (finished
//!   staged files are renamed away before their record exists).
//! * Records whose payload file is missing are dropped with a warning. Our
//!   write path cannot produce one (invariant 2), and even with a filesystem
//!   that loses a fsynced rename it can only be an item whose enqueue never
//!   returned: the round that acknowledges a call fsyncs `payloads/` before the
//!   transaction that writes its records, let alone before the flush. So no
//!   acknowledged item is dropped here; an unacknowledged one is retried by its
//!   sender.
//! * Files under `payloads/` not referenced by any record are deleted: renames
//!   of calls that never committed, duplicates and acked items whose deletion
//!   was cut short.
//! * Quota usage and per-queue counters (depth, bytes) are rebuilt from the
//!   records (only the seqs of items with files are held during the scan); all
//!   leases are gone, so everything not acked is delivered again.
//!
//! ## Leases
//!
//! `lease` (`scan.rs`) walks the queue's sled tree from the head in key (= seq)
//! order, with the queue's index locked, skipping leased and hidden items and
//! items of a channel that has any item leased by an earlier call; items of one
//! channel taken in the same call come out together in order. It stops after
//! `max` items. Cost per call: O(in-flight items + items of blocked channels
//! that come before the chosen ones). Leased items are skipped by key, skipped
//! items of other channels are parsed in place only to learn their channel, and
//! when every item is leased the call returns without reading sled. The walk
//! resumes where the previous one stopped (one seq per queue: every item before
//! it is leased or of a blocked channel) unless a lease has ended since, which
//! sends it back to the head, or an enqueue made an earlier item visible. So a
//! consumer woken by each enqueue while all channels are blocked reads only the
//! new items; but the first call after an ack or release walks a backlog of
//! blocked channels from the head again (sled reads, ~3 µs per item on the
//! bench machine, versus ns for the old in-memory index).
//!
//! Which removals happened is decided by the commit transaction itself (sled's
//! `remove` returns the old record), so two racing acks of one seq release its
//! quota and counters once.
//!
//! ## Not done, deliberately
//!
//! * No persistent leases or lease timeouts: a restart is the redelivery.
//! * No compaction or size-bounded `seen`: callers call `prune_seen`, which scans.
//! * The quota check of an enqueue counts all its items, including ones that turn
//!   out to be duplicates (only the committer knows); the bytes are returned
//!   right after.
//! * A failed commit (sled or fsync error) is returned to every caller of that
//!   round; the spool does not try to heal itself. Reopen it.
//! * No checksums of payload files: they are fsynced before they become visible
//!   and are only ever renamed and deleted.
//! * `oldest_enqueued_at` is the head item's time (wall clock at enqueue), read
//!   from the first record of the tree that is not hidden.

#![forbid(unsafe_code)]

mod api;
mod committer;
mod direct;
mod enqueue;
mod leases;
mod payloads;
mod quota;
mod record;
mod recovery;
mod round;
mod scan;
mod sled_spool;
mod staging;
mod writes;

pub use api::*;
pub use sled_spool::{SledSpool, SpoolOptions};
