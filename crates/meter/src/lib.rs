//! Byte counters for the traffic a node moves: what partners and the peer node send
//! and receive, counted where the bytes cross a socket.
//!
//! - [`Traffic`]: two monotonic counters, bytes read and bytes written, plus a short
//!   history of samples from which [`Traffic::rates`] gives bytes per second.
//! - [`Meter`]: the set of [`Traffic`]s one stream counts into, usually the
//!   connection's own and its family's total (e.g. "all SFTP partners"). Cheap to
//!   clone; adding to it adds to each.
//! - [`RateWindow`]: per-second growth of a count over a sliding window (also the
//!   rate `ctl send` shows).
//! - [`Metered`]: wraps an `AsyncRead + AsyncWrite` stream and counts every byte that
//!   actually crosses it (after TLS inside it, before any decoding above it).
//!
//! Counters only grow; a family's total therefore keeps what closed connections
//! moved. Rates come from a sampler (the node calls [`Traffic::sample`] once a
//! second); with fewer than two samples the rate is zero.
//!
//! This crate depends on nothing in the workspace: the partner protocols, the
//! MessageService and the internal SFTP all count with it.

#![forbid(unsafe_code)]

mod metered;
mod traffic;
mod window;

pub use metered::Metered;
pub use traffic::{Meter, Rates, Traffic};
pub use window::RateWindow;
