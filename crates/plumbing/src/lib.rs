//! Plumbing shared by the DMZ and the inner node: binding listeners with errors that
//! name them, serving an admin router with graceful shutdown, the JSON shapes both
//! status endpoints use, the admin token (`admin_auth.rs`), and start-up errors. The routes themselves belong to each
//! role.

#![forbid(unsafe_code)]

mod admin_auth;
pub mod html;
pub mod human;
pub mod metrics;
mod sign_in;
pub mod tallies;
pub mod traffic;

pub use admin_auth::{AdminToken, COOKIE as ADMIN_COOKIE};

use std::net::SocketAddr;

use axum::Router;
use message_service::{Link, LinkState};
use serde_json::{Value, json};
use spool::SpoolError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves an admin `router`, every route behind `token`, until `shutdown`; in-flight
/// requests finish first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    token: AdminToken,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = token.guard(router).merge(sign_in::routes(token));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

/// The MessageService link as JSON.
pub fn link_json(link: &Link) -> Value {
    let last_contact = link.last_contact();
    match link.state() {
        LinkState::Up { peer, since } => {
            json!({"state": "up", "peer": peer, "since": since, "last_contact": last_contact})
        }
        LinkState::Down { since, reason } => {
            json!({"state": "down", "reason": reason, "since": since, "last_contact": last_contact})
        }
    }
}

/// A spool queue's depth and age as JSON.
pub fn queue_json(stats: spool::QueueStats) -> Value {
    let now = envelope::now_millis();
    json!({
        "depth": stats.depth,
        "bytes": stats.bytes,
        "oldest_age_ms": stats.oldest_enqueued_at.map(|t| now.saturating_sub(t)),
    })
}

/// Spool usage against its quota as JSON.
pub fn usage_json(usage: spool::Usage) -> Value {
    json!({"used_bytes": usage.used_bytes, "quota_bytes": usage.quota_bytes})
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("cannot open the spool: {0}")]
    Spool(#[from] SpoolError),
    /// Key or certificate material could not be loaded or made.
    #[error("{0}")]
    Material(String),
}

/// Binds a listener, naming it in the error.
pub async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Io { what: format!("cannot bind the {what} listener on {addr}"), source })
}

/// The address a listener is bound to (its port, when bound to port 0).
pub fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Io { what: "listener address".into(), source })
}

/// Logs how a service ended.
pub fn log_exit(service: &str, result: std::io::Result<()>) {
    match result {
        Ok(()) => tracing::debug!(message = "service stopped", service),
        Err(error) => tracing::error!(message = "service failed", service, %error),
    }
}

/// Maps the config's mode onto the MessageService's.
pub fn mode(mode: config::Mode) -> message_service::Mode {
    match mode {
        config::Mode::Direct => message_service::Mode::Direct,
        config::Mode::Pushback => message_service::Mode::Pushback,
    }
}

/// The MessageService server config of either role: its defaults plus what the
/// role's settings say.
pub fn server_config(
    node: message_service::Node,
    mode: config::Mode,
    allow: &[ipnet::IpNet],
    deny: &[ipnet::IpNet],
    long_poll: std::time::Duration,
) -> message_service::ServerConfig {
    let mut server = message_service::ServerConfig::new(node, self::mode(mode));
    (server.allow, server.deny, server.long_poll) = (allow.to_vec(), deny.to_vec(), long_poll);
    server
}

/// The MessageService client config of either role: its defaults plus what the
/// role's settings say.
pub fn client_config(
    node: message_service::Node,
    mode: config::Mode,
    peer_url: &str,
    long_poll: std::time::Duration,
    reconnect_max: std::time::Duration,
) -> message_service::ClientConfig {
    let mut client = message_service::ClientConfig::new(node, self::mode(mode), peer_url);
    (client.long_poll, client.backoff.max) = (long_poll, reconnect_max);
    client
}
