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
use std::time::Duration;

use partner::MailGateway;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::SmtpConfig;
use crate::connection::{self, Shared};
use crate::reply;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Connections over the session limit being told `421` at once; more are closed silently.
const MAX_REFUSALS: usize = 64;

/// How long telling a refused connection `421` may take.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

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
    let refusals = TaskTracker::new();
    let cut = CancellationToken::new();
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(message = "SMTP accept failed", %error);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        if sessions.len() >= max_sessions {
            tracing::warn!(message = "SMTP session limit reached, connection refused", peer = %remote);
            if refusals.len() < MAX_REFUSALS {
                refusals.spawn(refuse(stream));
            }
            continue;
        }
        let _ = stream.set_nodelay(true);
        let session = connection::run(stream, remote, shared.clone(), shutdown.clone());
        let cut = cut.clone();
        sessions.spawn(async move {
            tokio::select! {
                () = cut.cancelled() => tracing::info!(message = "SMTP session cut at shutdown", peer = %remote),
                () = session => {}
            }
        });
    }
    drop(listener);
    sessions.close();
    if !sessions.is_empty() {
        tracing::info!(message = "SMTP shutting down: draining sessions", sessions = sessions.len());
    }
    if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
        tracing::info!(message = "SMTP drain grace over: cutting sessions", sessions = sessions.len());
        cut.cancel();
        sessions.wait().await;
    }
    refusals.close();
    refusals.wait().await;
    Ok(())
}

/// `421 4.3.2` and close, in a task of its own so that a client that does not read
/// cannot hold up the accept loop.
async fn refuse(mut stream: TcpStream) {
    let mut bytes = Vec::new();
    reply::TOO_MANY_CONNECTIONS.encode(&mut bytes);
    let refusal = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, refusal).await;
}
