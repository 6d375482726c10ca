//! An in-process HTTP server (axum) that records what it receives:
//! `/ok` answers 200 with a 100 KiB body, `/accepted` 201 with a short one,
//! `/unavailable` 503, `/missing` 404, `/moved` 302.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub type Log = Arc<Mutex<Vec<Received>>>;

/// Starts the server; returns its address and what it received.
pub async fn start() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/ok", any(ok))
        .route("/accepted", any(accepted))
        .route("/unavailable", any(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy, try later") }))
        .route("/missing", any(|| async { (StatusCode::NOT_FOUND, "no such endpoint") }))
        .route("/moved", any(|| async { (StatusCode::FOUND, [("location", "/elsewhere")], "moved") }))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, log)
}

async fn record(log: &Log, method: axum::http::Method, headers: HeaderMap, body: Body) {
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
    log.lock().unwrap().push(Received { method: method.to_string(), headers, body });
}

async fn ok(State(log): State<Log>, method: axum::http::Method, headers: HeaderMap, body: Body) -> impl IntoResponse {
    record(&log, method, headers, body).await;
    (StatusCode::OK, "y".repeat(100 << 10))
}

async fn accepted(
    State(log): State<Log>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Body,
) -> impl IntoResponse {
    record(&log, method, headers, body).await;
    (StatusCode::CREATED, "accepted, thank you")
}
