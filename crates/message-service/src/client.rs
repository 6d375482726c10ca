//! The dialling side: [`run_client`] and the connection state its loops share.

use std::sync::Arc;

use envelope::{Frame, NodeRole};
use spool::Spool;
use tokio_util::sync::CancellationToken;

use crate::backoff::Retry;
use crate::config::{ClientConfig, Mode};
use crate::link::Link;
use crate::outbox::{Batch, lease_batch};
use crate::peer::{ClientError, Peer};
use crate::receiver::Receiver;
use crate::{direct, pushback};

/// The dialling side, until `shutdown`: in Direct mode, sends the outbound queue to
/// the peer; in Pushback mode (inner only) runs the exchange/long-poll loop. A DMZ
/// in Pushback mode does not dial: this then only waits for `shutdown`.
pub async fn run_client(
    config: ClientConfig,
    spool: Arc<dyn Spool>,
    outbound_queue: &'static str,
    receiver: Arc<dyn Receiver>,
    link: Link,
    shutdown: CancellationToken,
) {
    if config.mode == Mode::Pushback && config.node.role == NodeRole::Dmz {
        tracing::debug!("pushback mode: the inner dials the DMZ; no client to run");
        shutdown.cancelled().await;
        return;
    }
    let peer = match Peer::new(&config) {
        Ok(peer) => peer,
        Err(error) => {
            tracing::error!(%error, "message service client cannot start");
            link.set_down(&error.to_string());
            shutdown.cancelled().await;
            return;
        }
    };
    let session = Session {
        retry: Retry::new(config.backoff.clone()),
        config,
        peer,
        spool,
        queue: outbound_queue,
        receiver,
        link,
        shutdown,
        peer_id: None,
        frames_refused: false,
    };
    match session.config.mode {
        Mode::Direct => direct::run(session).await,
        Mode::Pushback => pushback::run(session).await,
    }
}

/// What the client loops share: the peer, the spool, and whether a handshake holds.
pub(crate) struct Session {
    pub(crate) config: ClientConfig,
    pub(crate) peer: Peer,
    pub(crate) spool: Arc<dyn Spool>,
    pub(crate) queue: &'static str,
    pub(crate) receiver: Arc<dyn Receiver>,
    pub(crate) link: Link,
    pub(crate) shutdown: CancellationToken,
    pub(crate) retry: Retry,
    /// The peer's node id after a successful handshake; `None` = handshake needed.
    peer_id: Option<String>,
    /// The peer answered our last frame with a refusal (e.g. 404, 413, 507). Until
    /// a frame gets through, a successful handshake does not mark the link up:
    /// otherwise every retry would log "up" and "down" again.
    frames_refused: bool,
}

impl Session {
    /// Handshakes unless one holds, retrying with backoff. False on shutdown.
    pub(crate) async fn connect(&mut self) -> bool {
        while self.peer_id.is_none() {
            let result = tokio::select! {
                () = self.shutdown.cancelled() => return false,
                result = self.peer.hello() => result,
            };
            match result {
                // The retry delay is reset only by a successful frame: a peer that
                // answers handshakes but refuses frames still gets growing delays.
                Ok(hello) => {
                    if !self.frames_refused {
                        self.link.set_up(&hello.node_id);
                    }
                    self.peer_id = Some(hello.node_id);
                }
                Err(error) => {
                    self.link.set_down(&error.to_string());
                    if !self.backoff().await {
                        return false;
                    }
                }
            }
        }
        !self.shutdown.is_cancelled()
    }

    /// A request succeeded: the link is up, retries start over.
    pub(crate) fn succeeded(&mut self) {
        if let Some(peer) = &self.peer_id {
            self.link.set_up(peer);
        }
        self.frames_refused = false;
        self.retry.reset();
    }

    /// A request failed: the link is down and the next request handshakes again.
    pub(crate) fn lost(&mut self, error: &ClientError) {
        tracing::debug!(%error, "message service request failed");
        self.link.set_down(&error.to_string());
        self.peer_id = None;
        self.frames_refused = error.is_refusal();
    }

    /// Waits the next retry delay. False on shutdown.
    pub(crate) async fn backoff(&mut self) -> bool {
        self.retry.wait(&self.shutdown).await
    }

    /// Sends a frame; `None` when shutdown came first.
    pub(crate) async fn send(&self, path: &str, frame: &Frame) -> Option<Result<Frame, ClientError>> {
        tokio::select! {
            () = self.shutdown.cancelled() => None,
            result = self.peer.send(path, frame) => Some(result),
        }
    }

    /// The next batch of the outbound queue; an empty one if the spool fails.
    pub(crate) async fn lease(&self) -> Batch {
        match lease_batch(&*self.spool, self.queue, &self.config.limits, self.config.by_reference.as_ref()).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, queue = self.queue, "cannot lease outbound envelopes");
                Batch::default()
            }
        }
    }
}
