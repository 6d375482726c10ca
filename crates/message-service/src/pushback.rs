//! Pushback mode, inner side: the exchange loop. Each request carries the inner's
//! outbound batch and the acks it owes; each answer carries the DMZ's batch and the
//! acks for what the inner sent. The DMZ holds an empty request (long-poll) until
//! it has something to send.

use std::future::pending;

use envelope::{Ack, Frame};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::backoff::Retry;
use crate::client::Session;
use crate::outbox::{Batch, release_all, settle};
use crate::peer::ClientError;
use crate::receiver::commit;
use crate::server::EXCHANGE_PATH;

/// How one exchange request ended.
enum Outcome {
    Answer(Result<Frame, ClientError>),
    /// An empty request was abandoned: there is something to send now.
    Interrupted,
    Shutdown,
}

/// The loop's memory between requests.
struct LoopState {
    /// Acks for the DMZ's last answer; resent until a request succeeds (the DMZ
    /// ignores acks it no longer needs).
    acks_owed: Vec<Ack>,
    /// The DMZ could not commit our envelopes (503/507): send none until then, so
    /// that its outbound queue keeps draining meanwhile.
    hold_until: Option<Instant>,
    /// Grows the holds while the DMZ keeps refusing our envelopes. Refusals have
    /// their own delays: the exchanges around them succeed, which resets the
    /// session's retry.
    hold_retry: Retry,
    /// Grows the pauses while our receiver cannot commit the DMZ's envelopes.
    commit_retry: Retry,
}

pub(crate) async fn run(mut session: Session) {
    let mut state = LoopState {
        acks_owed: Vec::new(),
        hold_until: None,
        hold_retry: Retry::new(session.config.backoff.clone()),
        commit_retry: Retry::new(session.config.backoff.clone()),
    };
    let mut outbound = session.spool.subscribe(session.queue);
    loop {
        if !session.connect().await {
            return;
        }
        let hold = state.hold_until.filter(|until| Instant::now() < *until);
        outbound.borrow_and_update();
        let mut batch = if hold.is_some() { Batch::default() } else { session.lease().await };
        let frame = Frame { envelopes: std::mem::take(&mut batch.envelopes), acks: state.acks_owed.clone() };
        // An empty request may wait a whole long-poll: cut it short when there is
        // something to send (new outbound work, or the end of a hold).
        let wake = match (frame.envelopes.is_empty(), hold) {
            (false, _) => Wake::Never,
            (true, Some(until)) => Wake::At(until),
            (true, None) => Wake::OnOutbound(&mut outbound),
        };
        let outcome = exchange(&session, &frame, wake).await;
        let keep_going = match outcome {
            Outcome::Shutdown => false,
            Outcome::Interrupted => true,
            Outcome::Answer(Ok(answer)) => answered(&mut session, &mut batch, &mut state, answer).await,
            Outcome::Answer(Err(error)) => failed(&mut session, &mut state, error).await,
        };
        release_all(&*session.spool, session.queue, &mut batch.leases);
        if !keep_going {
            return;
        }
    }
}

/// When to abandon a waiting request for a new one.
enum Wake<'a> {
    Never,
    At(Instant),
    OnOutbound(&'a mut watch::Receiver<u64>),
}

impl Wake<'_> {
    async fn wait(self) {
        match self {
            Wake::Never => pending().await,
            Wake::At(until) => tokio::time::sleep_until(until).await,
            Wake::OnOutbound(changes) => {
                if changes.changed().await.is_err() {
                    pending::<()>().await;
                }
            }
        }
    }
}

/// Sends one exchange request, unless shutdown or `wake` comes first.
async fn exchange(session: &Session, frame: &Frame, wake: Wake<'_>) -> Outcome {
    tokio::select! {
        result = session.send(EXCHANGE_PATH, frame) => match result {
            Some(result) => Outcome::Answer(result),
            None => Outcome::Shutdown,
        },
        () = wake.wait() => Outcome::Interrupted,
    }
}

/// Applies the DMZ's acks, commits its envelopes; their acks are owed next time.
/// False on shutdown.
async fn answered(session: &mut Session, batch: &mut Batch, state: &mut LoopState, answer: Frame) -> bool {
    session.succeeded();
    if !batch.leases.is_empty() {
        state.hold_retry.reset();
    }
    settle(&*session.spool, session.queue, &mut batch.leases, &answer.acks).await;
    state.acks_owed.clear();
    if answer.envelopes.is_empty() {
        return true;
    }
    match commit(&*session.receiver, answer.envelopes).await {
        Ok(acks) => {
            state.acks_owed = acks;
            state.commit_retry.reset();
            true
        }
        Err(error) => {
            // Not acked: the DMZ redelivers them with its next answer.
            tracing::warn!(%error, "cannot commit envelopes from the DMZ now");
            state.commit_retry.wait(&session.shutdown).await
        }
    }
}

/// A failed request: if the DMZ merely could not commit our envelopes, hold them
/// back for a retry delay and keep polling; otherwise the link is down. False on
/// shutdown.
async fn failed(session: &mut Session, state: &mut LoopState, error: ClientError) -> bool {
    if error.peer_could_not_commit() {
        let delay = state.hold_retry.next_delay();
        tracing::warn!(%error, ?delay, "DMZ cannot take envelopes now; holding them back");
        state.hold_until = Some(Instant::now() + delay);
        return true;
    }
    session.lost(&error);
    session.backoff().await
}
