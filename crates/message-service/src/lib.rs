//! The MessageService: the only way the DMZ node and the inner node talk to each
//! other. Typed MessagePack envelopes (crate `envelope`) travel over HTTP; every
//! envelope is durably spooled by the sender until the receiver acks it, and the
//! receiver commits it durably (deduplicated by id) before acking. The effect is
//! exactly-once delivery on top of at-least-once transport.
//!
//! # Parts
//!
//! - [`serve`]: the listening side (axum). Both roles in [`Mode::Direct`]; only the
//!   DMZ in [`Mode::Pushback`].
//! - [`run_client`]: the dialling side. Both roles in direct mode; only the inner in
//!   pushback mode (a DMZ in pushback mode never dials; `run_client` just waits).
//! - [`Receiver`]: the role's hook that commits what arrives ([`SpoolReceiver`] is a
//!   ready-made one that enqueues into a spool queue with dedupe).
//! - [`Link`]: shared up/down status, logged once per change.
//!
//! Each node has one **outbound queue** in its spool (`"to-inner"` on the DMZ,
//! `"to-dmz"` on the inner). Spool items follow one convention, see [`new_item`]:
//! `header` = encoded [`envelope::Body`], `id` = envelope id, `channel` = the body's
//! channel, payload = the inline bytes.
//!
//! # Endpoints
//!
//! Every request carries `portcullis-protocol: 1` and `portcullis-node: <id>`, and a
//! body of `application/msgpack`. Checks run in this order:
//!
//! | check                                   | answer |
//! |-----------------------------------------|--------|
//! | peer address denied / not allowed       | connection closed at accept, before any HTTP byte (`admitting.rs`); one warn line with the address |
//! | protocol header missing, bad or ≠ 1     | 400 ("protocol version 2 not supported; this node speaks 1") |
//! | node header missing                     | 400 |
//! | body over `max_frame_bytes`             | 413 |
//! | body not a valid `Frame` / `Hello`      | 400 |
//! | receiver: insufficient storage          | 507 (the sender retries the frame later) |
//! | receiver: other failure                 | 503 (ditto) |
//!
//! - `POST /ms/v1/hello`: [`envelope::Hello`] both ways. Version mismatch or a node
//!   of our own role → 400 with a clear message.
//! - `POST /ms/v1/envelopes` (direct mode): request `Frame { envelopes }`, answered
//!   `Frame { acks }` only after the receiver committed. Acks in the request are
//!   ignored (acks travel in responses). Not routed in pushback mode (404).
//! - `POST /ms/v1/exchange` (pushback mode, DMZ only; 404 otherwise): below.
//!
//! A valid request marks the link up (peer = the node header) and updates
//! [`Link::last_contact`]. Heartbeat envelopes are acked `Committed` by the service
//! itself and never reach the [`Receiver`]; they are never spooled either.
//!
//! # Pushback exchange
//!
//! Only the inner dials. One request/response pair carries both directions:
//!
//! ```text
//!  inner                                               DMZ
//!    | -- hello ------------------------------------->  |
//!    | <------------------------------------ hello --   |
//!    | -- exchange { envelopes: I1, acks: [] } ------>  |  1. ack in-flight by acks
//!    |                                                  |  2. release other in-flight
//!    |                                                  |  3. commit I1 -> acks(I1)
//!    |                                                  |  5. lease batch D1, in-flight = D1
//!    | <---------- { envelopes: D1, acks: acks(I1) } -- |
//!    |  delete I1; commit D1 -> acks(D1)                |
//!    | -- exchange { envelopes: [], acks: acks(D1) } -> |  1. delete D1
//!    |                                                  |  4. nothing sent: wait up to
//!    |                                                  |     long_poll for the queue
//!    |                  ... partner delivery enqueued   |     (spool.subscribe), then
//!    | <---------- { envelopes: D2, acks: [] } -------- |  5. lease D2
//! ```
//!
//! One exchange runs at a time. A newer request supersedes a waiting one, which
//! answers at once with what it has (its acks, no envelopes); a superseded request
//! applies its acks but releases nothing (only the newest may decide that an answer
//! was lost). The inner's client abandons its own waiting empty request when its
//! outbound queue gets work, so inner → DMZ traffic does not wait for the long-poll.
//! Shutdown ends waiting long-polls at once. The DMZ marks the link down
//! ("no exchange from inner for N s") after `long_poll` + 10 s without a request.
//!
//! # Leases, acks, redelivery
//!
//! - A batch is leased from the outbound queue (at most `batch_items`, stops at
//!   `batch_bytes` but always holds one item); the spool keeps per-channel order.
//! - An ack with any outcome (`Committed`, `Duplicate`, `Rejected`, the last logged
//!   at warn) deletes the item. Everything sent but not acked is released and sent
//!   again; the receiver dedupes by id. Acks for unknown ids are ignored, so acks
//!   may be resent freely.
//! - Leases live in memory: a crash of the sender releases them (redelivery); a crash
//!   of the receiver after commit but before the ack reaches the sender yields a
//!   duplicate that dedupe absorbs.
//! - A spool record whose header does not decode is logged at error and acked away,
//!   so it never blocks its queue.
//!
//! # Payloads by reference
//!
//! With a [`ByReference`] in the server (pushback) or client (direct) config, a
//! delivery whose stored payload is a spool file larger than the current
//! streaming size is sent as `Payload::Reference { size, sha256 }`, and its file
//! is listed in [`References`] under the envelope id's text until the ack (the
//! DMZ's internal SFTP server serves it as `/payloads/<id>`). The receiver fetches
//! it before acking, so in direct mode a frame's request timeout grows by one
//! second per MiB referenced. Details in `reference.rs`.
//!
//! # Failures
//!
//! - Client: any failed request releases its batch, marks the link down with the
//!   reason, waits a capped exponential backoff with full jitter ([`Backoff`]) and
//!   handshakes again before the next frame. The delay is reset by a successful frame
//!   only (not by a handshake), so a peer that accepts hellos but refuses frames
//!   still sees growing delays.
//! - Pushback, DMZ cannot commit (503/507): the inner holds its own envelopes back
//!   (growing delays) but keeps exchanging, so the DMZ's outbound queue keeps
//!   draining — otherwise a full DMZ spool could never empty. The link stays up.
//! - Pushback, the inner cannot commit the DMZ's envelopes: it sends no acks for
//!   them (the DMZ redelivers them) and backs off.
//! - Server: request work (commit, lease bookkeeping) runs in a tracked task, so a
//!   dropped connection never cuts it in half; on shutdown the server stops
//!   accepting, lets requests finish for up to 10 s, then waits for that work.
//! - Direct mode: a node's [`Link`] is shared by its server (incoming requests mark
//!   it up) and its client (failures mark it down). With a link broken in one
//!   direction only, the state follows whichever happened last.
//!
//! # Not done yet
//!
//! - TLS (plain HTTP only) and authentication of the peer beyond address rules.
//! - Payloads by reference go DMZ → inner only (the inner → DMZ direction is
//!   inline; [`new_item`] refuses `Payload::Reference`). Without a [`ByReference`]
//!   (or before the DMZ knows the streaming size), an item larger than the peer's
//!   `max_frame_bytes` is refused with 413 on every attempt and blocks its queue.
//! - HTTP/2; compression.

#![forbid(unsafe_code)]

mod admitting;
mod backoff;
mod client;
mod config;
mod direct;
mod exchange;
mod link;
mod outbox;
mod peer;
mod pushback;
mod receiver;
mod reference;
mod server;

pub use client::run_client;
pub use config::{Backoff, ClientConfig, DEFAULT_HEARTBEAT, DEFAULT_LONG_POLL, Limits, Mode, Node, ServerConfig};
pub use link::{Link, LinkState};
pub use outbox::{UnsupportedPayload, new_item};
pub use receiver::{ReceiveError, Receiver, SpoolReceiver, ack_for};
pub use reference::{ByReference, References, STALE_AFTER, StreamingSize};
pub use server::{CONTENT_TYPE, ENVELOPES_PATH, EXCHANGE_PATH, HELLO_PATH, serve};
