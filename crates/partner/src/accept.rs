//! The accept loop the partner listeners that own their sessions share (SMTP, AS2):
//! accept until shutdown, back off after a failed accept (e.g. out of file
//! descriptors), and refuse a connection over the session cap with the protocol's own
//! "busy" answer — written by a task of its own, within a second, at most
//! [`MAX_REFUSALS`] at once (more are closed silently), so a client that does not
//! read cannot hold up the loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use meter::Metered;

use crate::{Admission, Ticket};

/// A served partner connection: its socket, counting into the ticket's meter.
pub type Socket = Metered<TcpStream>;

/// Pause after a failed `accept` before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections over the session cap being told "busy" at once.
pub const MAX_REFUSALS: usize = 64;
/// How long telling a refused connection "busy" may take.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// How a listener caps its sessions.
#[derive(Debug, Clone)]
pub struct SessionCap {
    /// For log lines ("SMTP", "AS2").
    pub protocol: &'static str,
    pub max_sessions: usize,
    /// What a connection over the cap is told before it is closed (SMTP `421`, HTTP `503`).
    pub busy: Vec<u8>,
}

/// Accepts on `listener` until `shutdown`; asks `admit` about each connection (a
/// refused one is closed, a busy one told "busy"); `start` spawns each served
/// connection (TCP_NODELAY set) into `sessions`, whose length is what the cap
/// counts, and keeps its [`Ticket`] until the connection ends; the stream it gets
/// counts its bytes into the ticket's meter. Drops the listener and waits for the refusals in progress before it returns.
pub async fn accept_until_shutdown(
    listener: TcpListener,
    cap: SessionCap,
    sessions: &TaskTracker,
    shutdown: &CancellationToken,
    admit: impl Fn(SocketAddr) -> Admission,
    mut start: impl FnMut(Socket, SocketAddr, Ticket),
) {
    let busy: Arc<[u8]> = cap.busy.into();
    let refusals = TaskTracker::new();
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(message = "accept failed", protocol = cap.protocol, %error);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let admission = match admit(remote) {
            Admission::Serve(_) if sessions.len() >= cap.max_sessions => {
                tracing::warn!(message = "session limit reached, connection refused", protocol = cap.protocol, peer = %remote);
                Admission::Busy
            }
            admission => admission,
        };
        let ticket = match admission {
            Admission::Serve(ticket) => ticket,
            Admission::Refuse => continue,
            Admission::Busy => {
                if refusals.len() < MAX_REFUSALS {
                    refusals.spawn(refuse(stream, Arc::clone(&busy)));
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        start(Metered::new(stream, ticket.meter()), remote, ticket);
    }
    drop(listener);
    refusals.close();
    refusals.wait().await;
}

async fn refuse(mut stream: TcpStream, busy: Arc<[u8]>) {
    let refusal = async {
        stream.write_all(&busy).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, refusal).await;
}
