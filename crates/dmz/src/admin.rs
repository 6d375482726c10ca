//! The DMZ admin API (JSON over HTTP; bind it to an internal address):
//!
//! | request | answer |
//! |---|---|
//! | `POST /api/v1/deliveries?channel=C&path=P` (body = payload) | 201 `{id,size,sha256}` once durable; 400 bad path or missing parameter; 404 unknown channel; 413 over `limits.max_payload_bytes`; 507 spool full; 503 spool unavailable |
//! | `GET /api/v1/status` | node, link, config generation, queue depths (`to-inner`, `requests`), whether the seal key is in memory, spool usage |
//! | `GET /api/v1/channels` | the channels the inner pushed (never an invisible one) |
//! | `GET /api/v1/connections` | open partner connections (remote, protocol, user, channel, opened, bytes read/written) and partner traffic per protocol with rates |
//! | `GET /api/v1/stats` | counters since start: connections, logins, deliveries, partner and peer bytes with rates |
//! | `GET /metrics` | the same counters, queues, spool usage and link in Prometheus text format |
//! | `POST /api/v1/listeners/{pause,drain,resume}` | the partner listeners' gate and open sessions |

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use envelope::{Partner, Protocol};
use message_service::Link;
use plumbing::metrics::{CONTENT_TYPE, Metrics};
use plumbing::{link_json, queue_json, usage_json};
use serde::Deserialize;
use serde_json::{Value, json};
use spool::Spool;

use crate::active::ActiveConfig;
use crate::gate::GateState;
use crate::intake::{Arrival, Intake, IntakeError};
use crate::{REQUESTS, TO_INNER};

/// What the admin handlers need.
#[derive(Clone)]
pub struct AdminState {
    pub node_id: String,
    pub intake: Intake,
    pub config: ActiveConfig,
    pub spool: Arc<dyn Spool>,
    pub link: Link,
}

/// The admin routes; `max_payload_bytes` bounds injected bodies (413 above).
pub fn router(state: AdminState, max_payload_bytes: u64) -> Router {
    let limit = usize::try_from(max_payload_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/v1/deliveries", post(inject).layer(DefaultBodyLimit::max(limit)))
        .route("/api/v1/status", get(status))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/connections", get(connections))
        .route("/api/v1/listeners/pause", post(pause))
        .route("/api/v1/listeners/resume", post(resume))
        .route("/api/v1/listeners/drain", post(drain))
        .route("/metrics", get(metrics))
        .route("/api/v1/channels", get(channels))
        .with_state(state)
}

#[derive(Deserialize)]
struct InjectParams {
    channel: String,
    path: String,
}

type Reply = (StatusCode, Json<Value>);

async fn inject(State(state): State<AdminState>, Query(params): Query<InjectParams>, body: Bytes) -> Reply {
    let arrival = Arrival {
        id: envelope::EnvelopeId::generate(),
        channel: params.channel,
        protocol: Protocol::Admin,
        partner: Partner { login: None, remote: None },
        path: params.path,
        mail: None,
        as2: None,
        fetched: None,
    };
    // Spawned: a client that disconnects must not cancel a commit half-way.
    let intake = state.intake.clone();
    let accepted = tokio::spawn(async move { intake.accept(arrival, body.to_vec()).await })
        .await
        .unwrap_or_else(|e| Err(IntakeError::Unavailable(e.to_string())));
    match accepted {
        Ok(accepted) => (
            StatusCode::CREATED,
            Json(json!({"id": accepted.id.to_string(), "size": accepted.size, "sha256": accepted.sha256.to_string()})),
        ),
        Err(error) => intake_error(error),
    }
}

fn intake_error(error: IntakeError) -> Reply {
    let status = match &error {
        IntakeError::UnknownChannel(_) => StatusCode::NOT_FOUND,
        IntakeError::BadPath(_) => StatusCode::BAD_REQUEST,
        IntakeError::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        IntakeError::Unavailable(_) | IntakeError::InnerDown => StatusCode::SERVICE_UNAVAILABLE,
    };
    if status.is_server_error() {
        tracing::warn!(message = "admin injection refused", %error);
    }
    (status, Json(json!({"error": error.to_string()})))
}

async fn status(State(state): State<AdminState>) -> Json<Value> {
    let config = state.config.get();
    let queue = state.spool.queue_stats(TO_INNER);
    let usage = state.spool.usage();
    let mut status = json!({
        "node_id": state.node_id,
        "role": "dmz",
        "link": link_json(&state.link),
        "config_generation": config.generation,
        "channels": config.channels.len(),
        "listeners": config.listeners.iter().map(|l| json!({"protocol": l.protocol.to_string(), "bind": l.bind.to_string()})).collect::<Vec<_>>(),
        "queues": { TO_INNER: queue_json(queue), REQUESTS: queue_json(state.spool.queue_stats(REQUESTS)) },
        // Outbound requests run only while the inner's seal key is in memory.
        "seal_key": config.seal_key.is_some(),
        "spool": usage_json(usage),
    });
    if let (Some(status), Value::Object(listeners)) = (status.as_object_mut(), listeners_json(&state)) {
        status.extend(listeners);
    }
    Json(status)
}

async fn pause(State(state): State<AdminState>) -> Reply {
    set_gate(&state, GateState::Paused).await
}

async fn drain(State(state): State<AdminState>) -> Reply {
    set_gate(&state, GateState::Draining).await
}

async fn resume(State(state): State<AdminState>) -> Reply {
    set_gate(&state, GateState::Open).await
}

/// Keeps the new state (a pause outlives a restart), then applies it; 503 and no
/// change if the spool cannot keep it.
async fn set_gate(state: &AdminState, gate: GateState) -> Reply {
    if let Err(e) = crate::gate::persist(state.spool.as_ref(), gate).await {
        tracing::error!(message = "admin: partner listeners unchanged: cannot record the state", state = gate.name(), error = %e);
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": format!("cannot record the state: {e}")})));
    }
    let changed = state.intake.gate().set(gate);
    tracing::info!(message = "admin: partner listeners", state = gate.name(), changed);
    let mut answer = listeners_json(state);
    answer["changed"] = json!(changed);
    (StatusCode::OK, Json(answer))
}

/// The gate's state, open partner sessions, and whether a drain is complete.
fn listeners_json(state: &AdminState) -> Value {
    let gate = state.intake.gate().state();
    let active = state.intake.stats().active_total();
    json!({"partner_listeners": gate.name(), "active_connections": active, "drained": gate == GateState::Draining && active == 0})
}

async fn stats(State(state): State<AdminState>) -> Json<Value> {
    Json(state.intake.stats().json())
}

async fn connections(State(state): State<AdminState>) -> Json<Value> {
    let stats = state.intake.stats();
    Json(json!({"connections": stats.connections().json(), "traffic": stats.partner_traffic().json()}))
}

/// Prometheus text format: partner counters, spool queues and usage, the link.
async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let mut metrics = Metrics::default();
    state.intake.stats().write(&mut metrics);
    let queues = [TO_INNER, REQUESTS].map(|q| (q, state.spool.queue_stats(q)));
    metrics.queues(&queues);
    metrics.usage(state.spool.usage());
    metrics.link(&state.link);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

async fn channels(State(state): State<AdminState>) -> Json<Value> {
    let config = state.config.get();
    Json(json!(
        config
            .channels
            .iter()
            .map(|c| json!({"name": c.name, "logins": c.logins.iter().map(|l| &l.user).collect::<Vec<_>>()}))
            .collect::<Vec<_>>()
    ))
}
