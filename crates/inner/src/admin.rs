//! The inner admin API (JSON over HTTP; bind it to an internal address):
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/status` | node, link, queues, spool usage, channels |
//! | `GET /api/v1/deliveries[?channel=C]` | the delivery journal, oldest first |
//! | `POST /api/v1/reload` | re-read the config file and push it; 200, or 400 with every problem |
//! | `GET /api/v1/channels` | the configured channels, their logins and remotes |
//! | `GET /api/v1/stats`, `GET /metrics` | delivery counters (JSON, Prometheus) |
//! | `GET /status` | the status page (HTML; browsers sign in at `/sign-in`) |
//!
//! and the outbound routes of [`crate::outbound::api`] (jobs, sends, dead letters,
//! pickups).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use message_service::Link;
use plumbing::metrics::{CONTENT_TYPE, Metrics};
use plumbing::{link_json, queue_json, usage_json};
use serde::Deserialize;
use serde_json::{Value, json};
use spool::Spool;

use crate::deliver::journal::{DeliveryRecord, RECORD_PREFIX};
use crate::outbound::record::{self, DEAD_PREFIX};
use crate::outbound::{Jobs, SENDS, Sends};
use crate::settings::CurrentSettings;
use crate::stats::DeliveryStats;
use crate::{INBOUND, TO_DMZ};

/// What the admin handlers need.
#[derive(Clone)]
pub struct AdminState {
    pub settings: CurrentSettings,
    pub spool: Arc<dyn Spool>,
    pub link: Link,
    pub jobs: Arc<Jobs>,
    pub sends: Arc<Sends>,
    pub stats: Arc<DeliveryStats>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/deliveries", get(deliveries))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/channels", get(channels))
        .route("/status", get(crate::status_page::page))
        .route("/metrics", get(metrics))
        .route("/api/v1/reload", post(reload))
        .merge(crate::outbound::api::routes())
        .with_state(state)
}

async fn status(State(state): State<AdminState>) -> Json<Value> {
    let settings = state.settings.get();
    Json(json!({
        "node_id": settings.node_id,
        "role": "inner",
        "link": link_json(&state.link),
        "queues": {
            INBOUND: queue_json(state.spool.queue_stats(INBOUND)),
            TO_DMZ: queue_json(state.spool.queue_stats(TO_DMZ)),
        },
        "spool": usage_json(state.spool.usage()),
        "channels": settings.channels.iter().map(|c| json!({"name": c.name, "invisible_to_dmz": c.invisible_to_dmz})).collect::<Vec<_>>(),
    }))
}

/// The configured channels: name, whether only the inner knows it, logins, remotes.
async fn channels(State(state): State<AdminState>) -> Json<Value> {
    let settings = state.settings.get();
    let channels = settings.channels.iter().map(|c| {
        let logins: Vec<&str> = c.logins.iter().map(|l| l.user.as_str()).collect();
        let remotes: Vec<&str> = c.remotes.iter().map(|r| r.name.as_str()).collect();
        json!({"name": c.name, "invisible_to_dmz": c.invisible_to_dmz, "logins": logins, "remotes": remotes})
    });
    Json(Value::Array(channels.collect()))
}

async fn stats(State(state): State<AdminState>) -> Json<Value> {
    Json(state.stats.json())
}

/// Prometheus text format: delivery counters, spool queues and usage, dead
/// letters, the link.
async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let mut metrics = Metrics::default();
    state.stats.write(&mut metrics);
    let queues = [INBOUND, TO_DMZ, SENDS].map(|q| (q, state.spool.queue_stats(q)));
    metrics.queues(&queues);
    metrics.usage(state.spool.usage());
    if let Ok(dead) = record::list(state.spool.as_ref(), DEAD_PREFIX) {
        let help = "Sends that failed for good and wait to be replayed.";
        metrics.gauge("portcullis_dead_letters", help, [(Vec::new(), dead.len() as f64)]);
    }
    metrics.link(&state.link);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    channel: Option<String>,
}

async fn deliveries(
    State(state): State<AdminState>,
    Query(query): Query<DeliveriesQuery>,
) -> (StatusCode, Json<Value>) {
    let entries = match state.spool.scan_state(RECORD_PREFIX) {
        Ok(entries) => entries,
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": error.to_string()}))),
    };
    let records: Vec<DeliveryRecord> = entries
        .into_iter()
        .filter_map(|(_, bytes)| serde_json::from_slice::<DeliveryRecord>(&bytes).ok())
        .filter(|r| query.channel.as_ref().is_none_or(|c| *c == r.channel))
        .collect();
    (StatusCode::OK, Json(json!(records)))
}

async fn reload(State(state): State<AdminState>) -> (StatusCode, Json<Value>) {
    // Spawned: a client that disconnects must not cancel the push half-way.
    let (settings, spool) = (state.settings.clone(), state.spool.clone());
    let reloaded = tokio::spawn(async move { crate::node::reload(&settings, spool.as_ref()).await })
        .await
        .unwrap_or_else(|e| Err(vec![e.to_string()]));
    match reloaded {
        Ok(()) => (StatusCode::OK, Json(json!({"reloaded": true}))),
        Err(problems) => (StatusCode::BAD_REQUEST, Json(json!({"reloaded": false, "problems": problems}))),
    }
}
