//! What a node tells the MessageService about itself, its peer and its limits.

use std::time::Duration;

use envelope::NodeRole;
use ipnet::IpNet;
use meter::Meter;
use serde::{Deserialize, Serialize};

use crate::reference::ByReference;

/// Who dials whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Each node dials the other and sends its own outbound queue (`/envelopes`).
    Direct,
    /// Only the inner node dials: its long-poll (`/exchange`) carries both directions.
    Pushback,
}

/// This node: its id (sent in every request and in the handshake) and role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub role: NodeRole,
}

/// Size bounds of frames and batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request or response body accepted (encoded frame), in bytes.
    pub max_frame_bytes: usize,
    /// Most envelopes sent in one frame.
    pub batch_items: usize,
    /// Payload and header bytes above which a batch stops growing (a batch always
    /// holds at least one item, however large).
    pub batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_frame_bytes: 64 << 20, batch_items: 256, batch_bytes: 8 << 20 }
    }
}

/// Delays between retries: capped exponential with full jitter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first delay.
    pub initial: Duration,
    /// Largest ceiling.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5) }
    }
}

/// The listening side.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub node: Node,
    pub mode: Mode,
    /// Peer networks allowed to call; empty allows every address.
    pub allow: Vec<IpNet>,
    /// Peer networks refused; wins over `allow`.
    pub deny: Vec<IpNet>,
    pub limits: Limits,
    /// How long an idle `/exchange` waits for outbound envelopes (pushback mode).
    pub long_poll: Duration,
    /// Pushback DMZ: send large payloads by reference. `None`: always inline.
    pub by_reference: Option<ByReference>,
    /// Counts the socket bytes of every peer connection; counts nothing by default.
    pub traffic: Meter,
}

impl ServerConfig {
    /// A config with default limits, no address rules and a 25 s long-poll.
    pub fn new(node: Node, mode: Mode) -> Self {
        ServerConfig {
            node,
            mode,
            allow: Vec::new(),
            deny: Vec::new(),
            limits: Limits::default(),
            long_poll: DEFAULT_LONG_POLL,
            by_reference: None,
            traffic: Meter::none(),
        }
    }
}

/// The dialling side.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub node: Node,
    pub mode: Mode,
    /// Base URL of the peer's MessageService, e.g. `http://127.0.0.1:8020`.
    pub peer_url: String,
    pub limits: Limits,
    pub backoff: Backoff,
    /// The server's long-poll; requests time out after `long_poll` + 10 s.
    pub long_poll: Duration,
    /// Direct mode: after this long without traffic, a heartbeat is sent.
    pub heartbeat: Duration,
    /// Direct-mode DMZ: send large payloads by reference. `None`: always inline.
    pub by_reference: Option<ByReference>,
    /// Counts the frame bytes sent and received (request and response bodies;
    /// HTTP headers are not counted); counts nothing by default.
    pub traffic: Meter,
}

impl ClientConfig {
    /// A config with default limits and backoff, 25 s long-poll, 15 s heartbeat.
    pub fn new(node: Node, mode: Mode, peer_url: impl Into<String>) -> Self {
        ClientConfig {
            node,
            mode,
            peer_url: peer_url.into(),
            limits: Limits::default(),
            backoff: Backoff::default(),
            long_poll: DEFAULT_LONG_POLL,
            heartbeat: DEFAULT_HEARTBEAT,
            by_reference: None,
            traffic: Meter::none(),
        }
    }

    /// Timeout of one frame request: the long-poll plus a margin.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.long_poll + REQUEST_MARGIN
    }
}

pub const DEFAULT_LONG_POLL: Duration = Duration::from_secs(25);
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Added to the long-poll for request timeouts and the DMZ's "inner is gone" check.
pub(crate) const REQUEST_MARGIN: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        mode: Mode,
    }

    #[test]
    fn modes_are_kebab_case() {
        let direct: Holder = decode_mode("direct");
        assert_eq!(direct.mode, Mode::Direct);
        let pushback: Holder = decode_mode("pushback");
        assert_eq!(pushback.mode, Mode::Pushback);
    }

    /// Deserializes `{ mode = "<value>" }` through the MessagePack codec, which is
    /// what this crate already depends on.
    fn decode_mode(value: &str) -> Holder {
        #[derive(Serialize)]
        struct Raw<'a> {
            mode: &'a str,
        }
        let bytes = envelope::encode(&Raw { mode: value });
        envelope::decode(&bytes, 1024).expect("mode decodes")
    }
}
