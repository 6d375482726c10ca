//! Pushback mode, DMZ side: the inner's long-poll `/exchange`, and the check that
//! marks the link down when the inner stops polling.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use envelope::Frame;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::REQUEST_MARGIN;
use crate::outbox::{Batch, Leases, delete_acked, lease_batch, settle};
use crate::receiver::{ReceiveError, commit};
use crate::server::{ServerState, decode_body, internal_failure, msgpack, receive_failed};

/// State of the one exchange served at a time.
pub(crate) struct Exchange {
    /// Envelopes sent in the last answer, awaiting the inner's acks. Holding the
    /// lock is what makes exchanges run one at a time.
    in_flight: Arc<tokio::sync::Mutex<Leases>>,
    /// Cancelled when a newer exchange arrives.
    current: Mutex<CancellationToken>,
    /// When the last valid request from the inner arrived.
    last_contact: watch::Sender<Option<Instant>>,
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange {
            in_flight: Arc::default(),
            current: Mutex::new(CancellationToken::new()),
            last_contact: watch::Sender::new(None),
        }
    }
}

impl Exchange {
    /// Makes the caller the newest exchange; an older one still waiting returns.
    fn supersede(&self) -> CancellationToken {
        let mine = CancellationToken::new();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, mine.clone()).cancel();
        mine
    }

    pub(crate) fn note_contact(&self) {
        self.last_contact.send_replace(Some(Instant::now()));
    }
}

/// `POST /ms/v1/exchange`.
pub(crate) async fn handle(
    State(state): State<Arc<ServerState>>,
    Extension(peer): Extension<crate::server::PeerId>,
    body: Bytes,
) -> Response {
    let request: Frame = match decode_body(&state, &body) {
        Ok(frame) => frame,
        Err(refusal) => return refusal.into_response(),
    };
    state.peer_seen(&peer.0);
    let superseded = state.exchange.supersede();
    let worker = state.clone();
    let work = async move { run(&worker, request, superseded).await };
    match state.tasks.spawn(work).await {
        Ok(Ok(answer)) => msgpack(&answer),
        Ok(Err(error)) => receive_failed(&error),
        Err(error) => internal_failure(&error),
    }
}

/// One exchange: settle the previous answer, commit the inner's envelopes, then
/// answer with the next batch (waiting for one if the inner sent nothing).
async fn run(state: &ServerState, request: Frame, superseded: CancellationToken) -> Result<Frame, ReceiveError> {
    let mut in_flight = state.exchange.in_flight.clone().lock_owned().await;
    let (spool, queue) = (&*state.spool, state.outbound_queue);
    if superseded.is_cancelled() {
        // A newer exchange exists and may even have been answered already: only
        // the newest one may decide that the rest of an answer was lost.
        delete_acked(spool, queue, &mut in_flight, &request.acks).await;
    } else {
        // Acked envelopes are deleted; the rest of the last answer was lost or not
        // committed by the inner, so it goes back to the queue for redelivery.
        settle(spool, queue, &mut in_flight, &request.acks).await;
    }
    let wait = request.envelopes.is_empty();
    let acks = commit(&*state.receiver, request.envelopes).await?;
    let batch = next_batch(state, wait, &superseded).await;
    in_flight.extend(batch.leases);
    Ok(Frame { envelopes: batch.envelopes, acks })
}

/// Leases the next batch. With `wait`, waits up to the long-poll for one; returns
/// empty at once when superseded or shutting down.
async fn next_batch(state: &ServerState, wait: bool, superseded: &CancellationToken) -> Batch {
    let queue = state.outbound_queue;
    let mut changes = state.spool.subscribe(queue);
    let deadline = Instant::now() + state.config.long_poll;
    loop {
        if superseded.is_cancelled() || state.shutdown.is_cancelled() {
            return Batch::default();
        }
        match lease_batch(&*state.spool, queue, &state.config.limits, state.config.by_reference.as_ref()).await {
            Ok(batch) if !batch.is_empty() || !wait => return batch,
            Ok(_) => {}
            Err(error) => {
                // Answer empty, but only at the end of the long-poll: answering
                // at once would make the inner poll again at once, in a loop.
                tracing::error!(%error, queue, "cannot lease outbound envelopes");
                tokio::select! {
                    () = superseded.cancelled() => {}
                    () = state.shutdown.cancelled() => {}
                    () = sleep_until(deadline) => {}
                }
                return Batch::default();
            }
        }
        tokio::select! {
            () = superseded.cancelled() => return Batch::default(),
            () = state.shutdown.cancelled() => return Batch::default(),
            () = sleep_until(deadline) => return Batch::default(),
            changed = changes.changed() => if changed.is_err() {
                return Batch::default();
            },
        }
    }
}

/// Marks the link down when no request came from the inner for the long-poll plus
/// a margin; runs until shutdown.
pub(crate) async fn watch_inner(state: Arc<ServerState>) {
    let silence = state.config.long_poll + REQUEST_MARGIN;
    let mut contacts = state.exchange.last_contact.subscribe();
    loop {
        let last = *contacts.borrow_and_update();
        if let Some(last) = last {
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                changed = contacts.changed() => match changed {
                    Ok(()) => continue,
                    Err(_) => return,
                },
                () = sleep_until(last + silence) => {
                    let reason = format!("no exchange from inner for {} s", silence.as_secs());
                    state.link.set_down(&reason);
                }
            }
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            changed = contacts.changed() => if changed.is_err() {
                return;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use envelope::{Ack, Envelope, NodeRole};
    use spool::{SledSpool, SpoolOptions};

    use super::*;
    use crate::config::{Mode, Node, ServerConfig};
    use crate::link::{Link, LinkState};
    use crate::receiver::Receiver;

    struct Nothing;

    #[async_trait::async_trait]
    impl Receiver for Nothing {
        async fn receive(&self, _: Vec<Envelope>) -> Result<Vec<Ack>, ReceiveError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_link_goes_down_when_the_inner_stops_polling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("spool opens");
        let node = Node { id: "dmz-1".into(), role: NodeRole::Dmz };
        let config = ServerConfig::new(node, Mode::Pushback); // 25 s long-poll
        let (link, shutdown) = (Link::new(), CancellationToken::new());
        let state = ServerState::new(config, spool, "to-inner", Arc::new(Nothing), link.clone(), shutdown.clone());
        let state = Arc::new(state);
        let watchdog = tokio::spawn(watch_inner(state.clone()));

        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(matches!(link.state(), LinkState::Down { ref reason, .. } if reason == "not connected yet"));

        state.peer_seen("inner-1");
        tokio::time::sleep(Duration::from_secs(34)).await;
        assert!(matches!(link.state(), LinkState::Up { .. }), "still within long-poll + 10 s");
        state.peer_seen("inner-1");
        tokio::time::sleep(Duration::from_secs(34)).await;
        assert!(matches!(link.state(), LinkState::Up { .. }), "each exchange restarts the clock");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let expected = "no exchange from inner for 35 s";
        assert!(matches!(link.state(), LinkState::Down { ref reason, .. } if reason == expected));

        state.peer_seen("inner-1");
        assert!(matches!(link.state(), LinkState::Up { .. }));
        shutdown.cancel();
        watchdog.await.expect("watchdog ends on shutdown");
    }
}
