//! Outbound through the DMZ: the inner asks the DMZ to reach partners' servers
//! (issue 5). Requests arrive as [`envelope::Body::Fetch`] and
//! [`envelope::Body::Send`] envelopes; the DMZ dials only the `host:port`s the
//! request's channel lists in its pushed `dial`, and opens the sealed credential
//! inside each request with the seal key it holds in memory only.
//!
//! The life of a request:
//!
//! ```text
//! inner ──Fetch/Send──▶ receiver ──▶ admit: channel pushed? address in `dial`?
//!      no ─▶ Outcome(ok = false) to "to-inner", ack Rejected
//!      yes ─▶ payload (inline, or /outbound/<id> of the internal SFTP area: streamed
//!             into a staging file, size and sha-256 checked) + request committed to
//!             "requests" (dedupe by envelope id) ─▶ ack Committed / Duplicate
//!             ─▶ the outbound file is removed
//! worker (a few in parallel) ─▶ lease "requests" ─▶ open the sealed secret
//!      ─▶ fetch (files → deliveries of the channel, dedupe by transfer::fetched_id)
//!       | send (FTP/SFTP/HTTP/SMTP/AS2) | place in the channel's pickup area
//!      ─▶ transient failure: retry, waiting retry::delay, the item stays leased
//!      ─▶ Outcome (id = outcome_id(request id)) to "to-inner", THEN ack "requests"
//! ```
//!
//! Crash story: a request is acked to the inner only once durable in `requests`;
//! it leaves `requests` only after its outcome is durable in `to-inner`. A crash
//! in between redoes the request after the restart (a send may then reach the
//! partner twice; the outcome carries the same id both times, so the inner keeps
//! one). Shutdown interrupts a transfer or a wait between attempts; the request
//! stays in the queue and is redone after the restart.
//!
//! Without a seal key (a DMZ restarted and not yet pushed to) the workers wait for
//! the next push; nothing is counted as an attempt.
//!
//! Details the inner relies on:
//! - refusals are acked `Rejected { reason }` and, in the same receive, a failed
//!   outcome (`attempts = 0`, `detail = reason`) is committed to `to-inner`:
//!   `refused by the DMZ: <host:port> is not a server channel <c> lists`, `… no
//!   channel <c> in its pushed config`, `… a fetch cannot use pickup`, `… a send
//!   request without a payload`, `… the payload does not match the request's size
//!   and sha-256`;
//! - a reference whose file is missing or does not match is left unacked (logged
//!   as an error): the inner uploads it again and resends;
//! - outcome ids: [`outcome_id`];
//! - requests have no per-channel order: requests of one channel run side by side;
//! - fetch requests carry no retry policy: 3 retries, 1 s doubling up to 60 s;
//! - a fetch that fails half-way lists in `files` what it had stored;
//! - `attempts` counts dial attempts (0 when nothing was dialled);
//! - the channel and `dial` check is made again before a worker runs a request:
//!   a server unlisted since admission is not dialled (failed outcome, same text).

mod admit;
mod outcome;
mod sink;
mod transport;
mod worker;

pub(crate) use admit::admit;
pub use outcome::outcome_id;
pub use transport::{Remote, Transport};
pub use worker::{Outbound, OutboundSettings};

use std::sync::Arc;

use envelope::Envelope;
use spool::{Enqueued, Spool, SpoolError};

use crate::TO_INNER;

/// Commits an envelope without payload to `to-inner`, deduplicated by its id.
/// Spawned: the spool is not cancel-safe and callers may be cancelled.
pub(crate) async fn to_inner(spool: &Arc<dyn Spool>, envelope: Envelope) -> Result<Enqueued, SpoolError> {
    let item = message_service::new_item(envelope).map_err(|e| SpoolError::Corrupt(e.to_string()))?;
    let spool = Arc::clone(spool);
    tokio::spawn(async move { spool.enqueue(TO_INNER, vec![item], true).await })
        .await
        .map_err(|e| SpoolError::Database(e.to_string()))?
        .map(|outcomes| outcomes.first().copied().unwrap_or(Enqueued::Duplicate))
}

#[cfg(test)]
pub(crate) mod tests;
