//! The MessageService wire types: what the DMZ node and the inner node say to each
//! other, and nothing else.
//!
//! These are *wire* types, explicit and versioned. They are not spool records: the
//! spool stores opaque bytes, and the roles translate between the two.
//!
//! # Shape
//!
//! One HTTP request or response body is one [`Frame`]: a batch of [`Envelope`]s plus
//! [`Ack`]s for envelopes received earlier (acks ride along with whatever else is
//! going the same way). Every envelope has a 128-bit, time-sortable [`EnvelopeId`];
//! receivers dedupe by it, so redelivery after a crash has an exactly-once effect.
//!
//! An envelope's [`Body`] says what it is (a partner delivery, a config push, a
//! heartbeat); a payload, when the kind has one, travels beside the body either
//! inline or by reference (id, size, sha-256) for the inner node to fetch over SFTP.
//!
//! # Versioning
//!
//! [`PROTOCOL_VERSION`] is exchanged in the [`Hello`] handshake and in the
//! `portcullis-protocol` HTTP header of every request; a peer speaking another version
//! is refused with a clear error instead of being half-understood. Structs are encoded
//! as MessagePack maps (field names on the wire), so a later version can add a field
//! with a default without breaking older data at rest.
//!
//! # Untrusted input
//!
//! [`decode`] refuses inputs above a caller-given size before looking at them, and
//! returns [`DecodeError`] for anything malformed; it never panics (a property test
//! feeds it arbitrary bytes).

#![forbid(unsafe_code)]

mod addresses;
mod body;
mod codec;
mod frame;
mod id;
mod outbound;
mod path;

pub use addresses::AddressRules;
pub use body::{
    As2Key, As2Meta, As2Verifier, Body, ChannelVerifiers, DeliveryMeta, DmzConfig, FetchedMeta, Heartbeat,
    LoginVerifier, MailMeta, Partner, PartnerListener, Payload, Protocol, SealKey, Sha256, WhenInnerDown,
};
pub use codec::{DecodeError, decode, encode};
pub use frame::{Ack, AckOutcome, Envelope, Frame, Hello, NodeRole};
pub use id::{EnvelopeId, ParseIdError};
pub use outbound::{
    AfterFetch, As2Send, FetchRequest, PickedUp, RemoteProtocol, RemoteTarget, RequestKind, RequestOutcome,
    SealedSecret, SecretKind, SeenFile, SendRequest, dial_address,
};
pub use path::{PathError, validate_path, validate_segment};

/// The MessageService protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// HTTP header that carries [`PROTOCOL_VERSION`] on every MessageService request.
pub const PROTOCOL_HEADER: &str = "portcullis-protocol";

/// HTTP header that carries the sending node's id on every MessageService request.
pub const NODE_HEADER: &str = "portcullis-node";

/// Milliseconds since the Unix epoch, the one timestamp format on the wire.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
