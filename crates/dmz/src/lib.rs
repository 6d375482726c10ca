//! The DMZ role: faces partners, commits what they deliver durably to the spool
//! before telling them "success", and forwards it to the inner node over the
//! MessageService. It holds no business logic and no configuration of its own beyond
//! what it needs to start: the partner-facing configuration (channels and their
//! verifiers, which listeners to run, which partner servers each channel may dial)
//! is pushed by the inner node and kept in the spool, so that after a restart the
//! DMZ serves partners even while the inner is down. Its two secrets, our AS2
//! private keys and the seal key of outbound requests, are kept in memory only.
//!
//! It also reaches partners' servers on the inner's behalf ([`outbound`]): fetch
//! and send requests, committed before they are acked, run by workers that report
//! each request's outcome back; and it keeps the channels' pickup files
//! ([`pickup`]) that partners download from their home's `outbox/`.
//!
//! Pieces:
//! - [`intake::Intake`]: the one path every delivery takes into the spool (admin
//!   injection, SFTP, FTP, SMTP and AS2 sessions, files fetched by outbound jobs);
//! - [`gateway::DmzGateway`]: the partner sessions' gateway (logins, virtual homes
//!   in [`home`], uploads, pickup downloads);
//! - [`active::ActiveConfig`]: the last pushed [`envelope::DmzConfig`];
//! - [`receiver::DmzReceiver`]: what the DMZ does with envelopes from the inner
//!   (config pushes, fetch and send requests);
//! - [`outbound`]: admitting requests, the workers, outcomes;
//! - [`pickup::Pickup`]: files waiting in `outbox/` for partners;
//! - [`admin`]: the admin HTTP API (bind it to an internal address);
//! - [`node::start`]: wiring, listeners, shutdown.
//!
//! Spool queues: [`TO_INNER`] (deliveries, outcomes, picked-up reports, towards the
//! inner) and [`REQUESTS`] (fetch and send requests until they ran). Spool state:
//! [`CONFIG_STATE_KEY`], `home/<channel>/<dir>` (upload directories),
//! `pickup/<channel>/<path>` (pickup files), `outbound-received/<id>` (requests whose
//! payload came by reference).

#![forbid(unsafe_code)]

pub mod active;
pub mod admin;
mod admission;
mod as2_gateway;
pub mod connections;
pub mod gate;
pub mod gateway;
pub mod home;
pub mod intake;
pub mod listeners;
mod mail;
pub mod node;
pub mod outbound;
pub mod pickup;
pub mod receiver;
mod services;
pub mod stats;
mod streamed;

pub use node::{RunningDmz, start};

/// The spool queue of envelopes waiting to go to the inner node.
pub const TO_INNER: &str = "to-inner";

/// The spool queue of fetch and send requests from the inner, until they ran.
pub const REQUESTS: &str = "requests";

/// The spool state key under which the last pushed partner-facing config is kept.
pub const CONFIG_STATE_KEY: &str = "dmz-config";
