//! The inner's outbound work: fetch jobs (`jobs`) and sends, run through the DMZ
//! or, with `via_dmz = false`, by the inner itself with the same `transfer` code;
//! and what the DMZ reports back (`RequestOutcome`, `PickedUp`), recorded in spool state.
//!
//! A job run through the DMZ is a `Body::Fetch` envelope in the `to-dmz` queue
//! (durable, retried like any envelope); the DMZ commits it before its ack, runs it,
//! sends each file as an ordinary delivery and then the outcome. The run is over
//! when the outcome arrives (or after [`jobs::RUN_TIMEOUT`], so a lost link cannot
//! block a job for ever). A direct run streams each file into the inner's own
//! `inbound` queue (`inbound_sink`), deduplicated by [`transfer::fetched_id`], so
//! the deliverer and its profiles treat it like any partner delivery.
//!
//! Sends ([`sends`]) come from the admin API ([`api`]), the outbox folders
//! ([`outbox`]) and profile responses ([`responses`]); each is committed on the
//! inner first, then handed to the DMZ (or run here), and ends delivered or as a
//! dead letter ([`record`]) an admin can replay.
//!
//! State keys: `send/<id>`, `dead-letter/<id>` (see [`record`]),
//! `job-seen/<job>/<name>` (files an `after = "leave"` job fetched: their size, so
//! they are not fetched again), `picked-up/<ms>-<id>` (complete pickup downloads
//! the DMZ reported).

pub mod api;
mod inbound_sink;
pub mod jobs;
pub mod outbox;
pub mod record;
mod reports;
pub mod responses;
pub mod sends;
#[cfg(test)]
mod tests;

pub use jobs::{Jobs, StartError};
pub use reports::{PICKED_UP_PREFIX, picked_up_records, record_picked_up};
pub use sends::{NewSend, SENDS, Sends, SubmitError};
