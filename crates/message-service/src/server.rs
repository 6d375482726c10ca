//! The listening side: the HTTP endpoints, the address and protocol checks, and
//! the mapping of failures to status codes.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use envelope::{DecodeError, Frame, Hello, NODE_HEADER, NodeRole, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::Serialize;
use serde::de::DeserializeOwned;
use spool::Spool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admitting::{AdmittingListener, PeerAddr};
use crate::config::{Mode, ServerConfig};
use crate::exchange::{self, Exchange};
use crate::link::Link;
use crate::receiver::{ReceiveError, Receiver, commit};

pub const HELLO_PATH: &str = "/ms/v1/hello";
pub const ENVELOPES_PATH: &str = "/ms/v1/envelopes";
pub const EXCHANGE_PATH: &str = "/ms/v1/exchange";
pub const CONTENT_TYPE: &str = "application/msgpack";

/// How long in-flight requests may take to finish once shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything the handlers share.
pub(crate) struct ServerState {
    pub(crate) config: ServerConfig,
    rules: envelope::AddressRules,
    pub(crate) spool: Arc<dyn Spool>,
    pub(crate) outbound_queue: &'static str,
    pub(crate) receiver: Arc<dyn Receiver>,
    pub(crate) link: Link,
    pub(crate) shutdown: CancellationToken,
    /// Request work runs here, so that a dropped connection never cuts a commit or
    /// a lease bookkeeping step in half.
    pub(crate) tasks: TaskTracker,
    pub(crate) exchange: Exchange,
}

impl ServerState {
    pub(crate) fn new(
        config: ServerConfig,
        spool: Arc<dyn Spool>,
        outbound_queue: &'static str,
        receiver: Arc<dyn Receiver>,
        link: Link,
        shutdown: CancellationToken,
    ) -> Self {
        ServerState {
            rules: envelope::AddressRules { allow: config.allow.clone(), deny: config.deny.clone() },
            config,
            spool,
            outbound_queue,
            receiver,
            link,
            shutdown,
            tasks: TaskTracker::new(),
            exchange: Exchange::default(),
        }
    }

    /// A valid request arrived from `peer`.
    pub(crate) fn peer_seen(&self, peer: &str) {
        self.link.set_up(peer);
        self.exchange.note_contact();
    }
}

/// The sending node's id, from [`NODE_HEADER`], checked by [`guard`].
#[derive(Clone, Debug)]
pub(crate) struct PeerId(pub(crate) String);

/// Serves the MessageService on `listener` until `shutdown` is cancelled, then stops
/// accepting and lets in-flight requests finish (bounded).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    spool: Arc<dyn Spool>,
    outbound_queue: &'static str,
    receiver: Arc<dyn Receiver>,
    link: Link,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let state = Arc::new(ServerState::new(config, spool, outbound_queue, receiver, link, shutdown.clone()));
    if serves_exchange(&state.config) {
        state.tasks.spawn(exchange::watch_inner(state.clone()));
    }
    let app = router(state.clone()).into_make_service_with_connect_info::<PeerAddr>();
    let listener =
        AdmittingListener { inner: listener, rules: state.rules.clone(), traffic: state.config.traffic.clone() };
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).into_future();
    let grace_over = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let result = tokio::select! {
        result = server => result,
        () = grace_over => {
            tracing::warn!("message service: requests still running after the shutdown grace; closing");
            Ok(())
        }
    };
    state.tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, state.tasks.wait()).await.is_err() {
        tracing::warn!("message service: background work still running after the shutdown grace");
    }
    result
}

fn serves_exchange(config: &ServerConfig) -> bool {
    config.mode == Mode::Pushback && config.node.role == NodeRole::Dmz
}

fn router(state: Arc<ServerState>) -> Router {
    let mut router = Router::new().route(HELLO_PATH, post(hello));
    if state.config.mode == Mode::Direct {
        router = router.route(ENVELOPES_PATH, post(envelopes));
    }
    if serves_exchange(&state.config) {
        router = router.route(EXCHANGE_PATH, post(exchange::handle));
    }
    router
        .layer(DefaultBodyLimit::max(state.config.limits.max_frame_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Runs before anything else: address rules, then the protocol and node headers.
async fn guard(State(state): State<Arc<ServerState>>, mut request: Request, next: Next) -> Response {
    let addr = request.extensions().get::<ConnectInfo<PeerAddr>>().map(|info| info.0.0);
    let Some(addr) = addr.filter(|addr| state.rules.permits(addr.ip())) else {
        let peer = addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        tracing::warn!(peer, "message service request refused: address not allowed");
        return (StatusCode::FORBIDDEN, "address not allowed\n").into_response();
    };
    let peer = match check_headers(request.headers()) {
        Ok(peer) => peer,
        Err(message) => {
            tracing::warn!(%addr, message, "message service request refused");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    request.extensions_mut().insert(peer);
    next.run(request).await
}

fn check_headers(headers: &HeaderMap) -> Result<PeerId, String> {
    let version = headers.get(PROTOCOL_HEADER).ok_or_else(|| format!("missing {PROTOCOL_HEADER} header"))?;
    let version: u16 = version
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("invalid {PROTOCOL_HEADER} header"))?;
    if version != PROTOCOL_VERSION {
        return Err(version_mismatch(version));
    }
    let node = headers.get(NODE_HEADER).and_then(|v| v.to_str().ok()).map(str::trim);
    match node {
        Some(node) if !node.is_empty() => Ok(PeerId(node.to_owned())),
        _ => Err(format!("missing or invalid {NODE_HEADER} header")),
    }
}

pub(crate) fn version_mismatch(version: u16) -> String {
    format!("protocol version {version} not supported; this node speaks {PROTOCOL_VERSION}")
}

pub(crate) fn role_name(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Dmz => "dmz",
        NodeRole::Inner => "inner",
    }
}

async fn hello(State(state): State<Arc<ServerState>>, Extension(peer): Extension<PeerId>, body: Bytes) -> Response {
    let theirs: Hello = match decode_body(&state, &body) {
        Ok(hello) => hello,
        Err(refusal) => return refusal.into_response(),
    };
    let ours = &state.config.node;
    let refusal = if theirs.protocol_version != PROTOCOL_VERSION {
        Some(version_mismatch(theirs.protocol_version))
    } else if theirs.role == ours.role {
        let role = role_name(ours.role);
        Some(format!("a {role} node does not talk to another {role} node"))
    } else {
        None
    };
    if let Some(message) = refusal {
        tracing::warn!(peer = theirs.node_id, message, "message service handshake refused");
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    state.peer_seen(&peer.0);
    msgpack(&Hello { protocol_version: PROTOCOL_VERSION, node_id: ours.id.clone(), role: ours.role })
}

/// Direct mode: commits the frame's envelopes, answers their acks. Acks in the
/// request are ignored (acks travel in responses).
async fn envelopes(State(state): State<Arc<ServerState>>, Extension(peer): Extension<PeerId>, body: Bytes) -> Response {
    let frame: Frame = match decode_body(&state, &body) {
        Ok(frame) => frame,
        Err(refusal) => return refusal.into_response(),
    };
    state.peer_seen(&peer.0);
    let worker = state.clone();
    let work = async move { commit(&*worker.receiver, frame.envelopes).await };
    match state.tasks.spawn(work).await {
        Ok(Ok(acks)) => msgpack(&Frame { envelopes: Vec::new(), acks }),
        Ok(Err(error)) => receive_failed(&error),
        Err(error) => internal_failure(&error),
    }
}

/// Decodes a request body; the status and message to answer when it cannot.
pub(crate) fn decode_body<T: DeserializeOwned>(state: &ServerState, body: &[u8]) -> Result<T, (StatusCode, String)> {
    envelope::decode(body, state.config.limits.max_frame_bytes).map_err(|error| {
        let status = match error {
            DecodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            DecodeError::Malformed(_) => StatusCode::BAD_REQUEST,
        };
        tracing::warn!(%error, "message service request refused: undecodable body");
        (status, format!("undecodable body: {error}"))
    })
}

pub(crate) fn msgpack<T: Serialize>(value: &T) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], envelope::encode(value)).into_response()
}

pub(crate) fn receive_failed(error: &ReceiveError) -> Response {
    tracing::warn!(%error, "message service: cannot commit received envelopes now");
    let status = match error {
        ReceiveError::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        ReceiveError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, error.to_string()).into_response()
}

/// The request's work task panicked: a bug, answered as "try again later".
pub(crate) fn internal_failure(error: &tokio::task::JoinError) -> Response {
    tracing::error!(%error, "message service request failed");
    (StatusCode::SERVICE_UNAVAILABLE, "internal failure; retry later").into_response()
}
