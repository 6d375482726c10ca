//! The HTTP requests of the dialling side: handshake and frames.

use std::error::Error as _;
use std::time::Duration;

use envelope::{DecodeError, Frame, Hello, NODE_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};
use meter::Meter;
use reqwest::header::CONTENT_TYPE as CONTENT_TYPE_HEADER;

use crate::config::{ClientConfig, Node};
use crate::server::{CONTENT_TYPE, HELLO_PATH, role_name};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an error body is kept for the link's "down" reason.
const MAX_MESSAGE: usize = 300;

/// Why a request to the peer failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("cannot reach peer: {0}")]
    Transport(String),
    #[error("peer answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("peer sent an undecodable answer: {0}")]
    Malformed(#[from] DecodeError),
    #[error("{0}")]
    Incompatible(String),
}

impl ClientError {
    /// The peer was reached and answered, but not with what we asked for.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Refused { .. } | ClientError::Malformed(_))
    }

    /// The peer is reachable but could not commit what we sent (503 / 507).
    pub(crate) fn peer_could_not_commit(&self) -> bool {
        matches!(self, ClientError::Refused { status: 503 | 507, .. })
    }
}

/// The peer's MessageService, as seen by this node.
pub(crate) struct Peer {
    http: reqwest::Client,
    base_url: String,
    node: Node,
    max_frame_bytes: usize,
    request_timeout: Duration,
    traffic: Meter,
}

impl Peer {
    pub(crate) fn new(config: &ClientConfig) -> Result<Peer, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Transport(describe(&e)))?;
        Ok(Peer {
            http,
            base_url: config.peer_url.trim_end_matches('/').to_owned(),
            node: config.node.clone(),
            max_frame_bytes: config.limits.max_frame_bytes,
            request_timeout: config.request_timeout(),
            traffic: config.traffic.clone(),
        })
    }

    /// The handshake; the peer's answer, checked for version and role.
    pub(crate) async fn hello(&self) -> Result<Hello, ClientError> {
        let ours = Hello { protocol_version: PROTOCOL_VERSION, node_id: self.node.id.clone(), role: self.node.role };
        let body = self.post(HELLO_PATH, envelope::encode(&ours), HELLO_TIMEOUT).await?;
        let theirs: Hello = envelope::decode(&body, self.max_frame_bytes)?;
        if theirs.protocol_version != PROTOCOL_VERSION {
            return Err(ClientError::Incompatible(format!(
                "peer speaks protocol version {}; this node speaks {PROTOCOL_VERSION}",
                theirs.protocol_version
            )));
        }
        if theirs.role == ours.role {
            return Err(ClientError::Incompatible(format!(
                "peer {} is a {} node too",
                theirs.node_id,
                role_name(theirs.role)
            )));
        }
        Ok(theirs)
    }

    /// Sends a frame to `path`, returns the peer's answer frame. A frame carrying
    /// payloads by reference gets extra time: the peer fetches them before it
    /// answers.
    pub(crate) async fn send(&self, path: &str, frame: &Frame) -> Result<Frame, ClientError> {
        let timeout = self.request_timeout + fetch_allowance(frame);
        let body = self.post(path, envelope::encode(frame), timeout).await?;
        Ok(envelope::decode(&body, self.max_frame_bytes)?)
    }

    /// POSTs `body`; counts the request body as written once it is sent and each
    /// chunk of the answer as read.
    async fn post(&self, path: &str, body: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let sent = body.len() as u64;
        let mut response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(CONTENT_TYPE_HEADER, CONTENT_TYPE)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header(NODE_HEADER, self.node.id.as_str())
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Transport(describe(&e)))?;
        self.traffic.add_written(sent);
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| ClientError::Transport(describe(&e)))? {
            self.traffic.add_read(chunk.len() as u64);
            if bytes.len() + chunk.len() > self.max_frame_bytes {
                let size = bytes.len() + chunk.len();
                return Err(DecodeError::TooLarge { size, limit: self.max_frame_bytes }.into());
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(ClientError::Refused { status: status.as_u16(), message: error_message(path, status, &bytes) });
        }
        Ok(bytes)
    }
}

/// The slowest fetch rate a frame's request timeout allows for its references.
const MIN_FETCH_RATE: u64 = 1 << 20;

/// Extra request time for the payloads a frame sends by reference.
fn fetch_allowance(frame: &Frame) -> Duration {
    let referenced: u64 = frame
        .envelopes
        .iter()
        .filter_map(|e| match &e.payload {
            Some(envelope::Payload::Reference { size, .. }) => Some(*size),
            _ => None,
        })
        .fold(0u64, u64::saturating_add);
    Duration::from_secs(referenced / MIN_FETCH_RATE)
}

/// What the peer said: the first line of its error body, shortened.
fn error_message(path: &str, status: reqwest::StatusCode, body: &[u8]) -> String {
    if status == reqwest::StatusCode::NOT_FOUND {
        return format!("peer does not serve {path}; do both nodes use the same mode?");
    }
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or_default().trim();
    if line.is_empty() {
        return status.canonical_reason().unwrap_or("no reason given").to_owned();
    }
    line.chars().take(MAX_MESSAGE).collect()
}

/// An error with its causes: reqwest's own message rarely says what went wrong.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
