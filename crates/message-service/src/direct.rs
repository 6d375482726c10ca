//! Direct mode, dialling side: send the outbound queue to the peer's `/envelopes`,
//! with a heartbeat when there is nothing to send.

use envelope::{Body, Envelope, EnvelopeId, Frame, Heartbeat, now_millis};
use tokio::sync::watch;

use crate::client::Session;
use crate::outbox::{Batch, release_all, settle};
use crate::server::ENVELOPES_PATH;

/// What ended a wait for outbound work.
enum Idle {
    Work,
    HeartbeatDue,
    Shutdown,
}

pub(crate) async fn run(mut session: Session) {
    let mut changes = session.spool.subscribe(session.queue);
    loop {
        if !session.connect().await {
            return;
        }
        let mut batch = session.lease().await;
        if batch.is_empty() {
            match idle(&session, &mut changes).await {
                Idle::Work => continue,
                Idle::HeartbeatDue => batch.envelopes.push(heartbeat()),
                Idle::Shutdown => return,
            }
        }
        if !send(&mut session, batch).await {
            return;
        }
    }
}

/// Waits until the outbound queue may have work or a heartbeat is due.
async fn idle(session: &Session, changes: &mut watch::Receiver<u64>) -> Idle {
    let heartbeat = tokio::time::sleep(session.config.heartbeat);
    tokio::pin!(heartbeat);
    tokio::select! {
        () = session.shutdown.cancelled() => Idle::Shutdown,
        changed = changes.changed() => match changed {
            Ok(()) => Idle::Work,
            // The spool went away: nothing will ever be enqueued; keep the heartbeat.
            Err(_) => {
                (&mut heartbeat).await;
                Idle::HeartbeatDue
            }
        },
        () = &mut heartbeat => Idle::HeartbeatDue,
    }
}

/// Sends one batch; deletes what the peer acked, releases the rest. On failure the
/// link goes down and the retry delay is waited. False on shutdown.
async fn send(session: &mut Session, mut batch: Batch) -> bool {
    let frame = Frame { envelopes: std::mem::take(&mut batch.envelopes), acks: Vec::new() };
    match session.send(ENVELOPES_PATH, &frame).await {
        None => {
            release_all(&*session.spool, session.queue, &mut batch.leases);
            false
        }
        Some(Ok(answer)) => {
            session.succeeded();
            settle(&*session.spool, session.queue, &mut batch.leases, &answer.acks).await;
            true
        }
        Some(Err(error)) => {
            release_all(&*session.spool, session.queue, &mut batch.leases);
            session.lost(&error);
            session.backoff().await
        }
    }
}

/// Heartbeats are never spooled: lost ones are simply not resent.
fn heartbeat() -> Envelope {
    Envelope { id: EnvelopeId::generate(), body: Body::Heartbeat(Heartbeat { sent_at: now_millis() }), payload: None }
}
