//! An in-process HTTP(S) server (axum) that records what it receives:
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, log)
}

/// The same server over TLS with this certificate and key (PEM).
pub async fn start_tls(cert_pem: &str, key_pem: &str) -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener { tcp, acceptor: acceptor(cert_pem, key_pem) };
    let app = router(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, log)
}

fn acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Accepts TCP, then TLS; connections whose handshake fails are dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn router(log: Log) -> Router {
    Router::new()
        .route("/ok", any(ok))
        .route("/accepted", any(accepted))
        .route("/unavailable", any(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy, try later") }))
        .route("/missing", any(|| async { (StatusCode::NOT_FOUND, "no such endpoint") }))
        .route("/moved", any(|| async { (StatusCode::FOUND, [("location", "/elsewhere")], "moved") }))
        .with_state(log)
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
