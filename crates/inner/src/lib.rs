//! The inner role: sits in the intranet, owns all configuration, pushes the
//! partner-facing part of it to the DMZ, receives partner deliveries over the
//! MessageService and hands them to internal systems.
//!
//! The path of a delivery through this crate:
//!
//! ```text
//! MessageService ──▶ receiver::InnerReceiver ──(fetch references over SFTP,
//!                    verify size+sha256, dedupe by id,
//!                    commit to the `inbound` queue)──▶ ack to the DMZ
//! `inbound` queue ──▶ deliver::Deliverer ──(profile match, intent, temp file, fsync,
//!                    rename, fsync dir)──▶ <directory>/<channel>/<path>
//!                                        ──(ack + journal record, one commit)
//! ```
//!
//! Pieces:
//! - [`settings::CurrentSettings`]: the config in force, swapped on reload (SIGHUP
//!   or `POST /api/v1/reload`);
//! - [`push`]: what of the config the DMZ gets (channels' verifiers, listeners; never
//!   an `invisible_to_dmz` channel, never a secret) and when (link up, reload);
//! - [`receiver::InnerReceiver`], [`deliver::Deliverer`], [`admin`], [`node::start`];
//! - [`fetch`]: payloads sent by reference, fetched over the DMZ's internal SFTP
//!   into a spool staging file (hashed while streaming) before the commit;
//! - [`housekeeping`]: forgets dedupe entries and journal records after 30 days.

#![forbid(unsafe_code)]

pub mod admin;
pub mod deliver;
pub mod fetch;
pub mod housekeeping;
pub mod node;
pub mod outbound;
pub mod push;
pub mod receiver;
pub mod remotes;
pub mod seal;
pub mod settings;
pub mod stats;
mod status_page;

pub use node::{RunningInner, start};

/// Deliveries committed by the inner, waiting to be handed to internal systems.
pub const INBOUND: &str = "inbound";

/// Envelopes waiting to go to the DMZ (config pushes).
pub const TO_DMZ: &str = "to-dmz";
