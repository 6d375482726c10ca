//! [`serve`]: the accept loop, the session limit (RFC 5321 §3.8: `421` and close) and
//! the drain on shutdown.
//!
//! Shutdown: the listener is dropped (no new connections), idle sessions are told
//! `421 4.3.2 shutting down` at once, a session receiving or committing a message gets
//! `SmtpConfig::drain_grace` to finish it (its `250` is sent before the `421`), then
//! whatever is left is cut: an upload that was not committed is dropped, never
//! forwarded.

use std::io;
use std::sync::Arc;

use envelope::Protocol;
use partner::accept::{SessionCap, accept_until_shutdown};
use partner::{MailGateway, Peer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::SmtpConfig;
use crate::connection::{self, Shared};
use crate::reply;

/// Serves SMTP on `listener` until `shutdown` is cancelled, then drains the sessions.
/// Accept errors are logged and retried, so this returns `Ok` once drained.
pub async fn serve(
    listener: TcpListener,
    config: SmtpConfig,
    gateway: Arc<dyn MailGateway>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let (max_sessions, grace) = (config.max_sessions, config.drain_grace);
    let tls = config.tls.clone().map(TlsAcceptor::from);
    let shared = Arc::new(Shared { config: Arc::new(config), gateway, tls });
    let sessions = TaskTracker::new();
    let cut = CancellationToken::new();
    let mut busy = Vec::new();
    reply::TOO_MANY_CONNECTIONS.encode(&mut busy);
    let cap = SessionCap { protocol: "SMTP", max_sessions, busy };
    let admit = |remote| shared.gateway.admission(Peer { remote, protocol: Protocol::Smtp });
    accept_until_shutdown(listener, cap, &sessions, &shutdown, admit, |stream, remote, ticket| {
        let session = connection::run(stream, remote, shared.clone(), shutdown.clone());
        let cut = cut.clone();
        sessions.spawn(async move {
            let _ticket = ticket;
            tokio::select! {
                () = cut.cancelled() => tracing::info!(message = "SMTP session cut at shutdown", peer = %remote),
                () = session => {}
            }
        });
    })
    .await;
    sessions.close();
    if !sessions.is_empty() {
        tracing::info!(message = "SMTP shutting down: draining sessions", sessions = sessions.len());
    }
    if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
        tracing::info!(message = "SMTP drain grace over: cutting sessions", sessions = sessions.len());
        cut.cancel();
        sessions.wait().await;
    }
    Ok(())
}
