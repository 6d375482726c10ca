//! The DMZ role: faces partners, commits what they deliver durably to the spool
//! before telling them "success", and forwards it to the inner node over the
//! MessageService. It holds no business logic and no configuration of its own beyond
//! what it needs to start: the partner-facing configuration (channels and their
//! verifiers, which listeners to run) is pushed by the inner node and kept in the
//! spool, so that after a restart the DMZ serves partners even while the inner is
//! down.
//!
//! Pieces:
//! - [`intake::Intake`]: the one path every partner delivery takes into the spool
//!   (today: the admin injection endpoint; next: SFTP, FTP, SMTP, AS2 sessions);
//! - [`active::ActiveConfig`]: the last pushed [`envelope::DmzConfig`];
//! - [`receiver::DmzReceiver`]: what the DMZ does with envelopes from the inner;
//! - [`admin`]: the admin HTTP API (bind it to an internal address);
//! - [`node::start`]: wiring, listeners, shutdown.

#![forbid(unsafe_code)]

pub mod active;
pub mod admin;
mod as2_gateway;
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
mod streamed;

pub use node::{RunningDmz, start};

/// The spool queue of envelopes waiting to go to the inner node.
pub const TO_INNER: &str = "to-inner";

/// The spool queue of fetch and send requests from the inner, until they ran.
pub const REQUESTS: &str = "requests";

/// The spool state key under which the last pushed partner-facing config is kept.
pub const CONFIG_STATE_KEY: &str = "dmz-config";
