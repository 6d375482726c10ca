//! Pushback mode end to end: a real DMZ server and a real inner client.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use envelope::{AckOutcome, NodeRole};
use message_service::{LinkState, Mode, ServerConfig};

const TO_INNER: &str = "to-inner";
const TO_DMZ: &str = "to-dmz";
const LIMIT: Duration = Duration::from_secs(20);

struct Pair {
    dmz: Side,
    inner: Side,
    server: Server,
}

async fn pair() -> Pair {
    init_logs();
    let dmz = Side::new();
    let inner = Side::new();
    let config = ServerConfig::new(node("dmz-1", NodeRole::Dmz), Mode::Pushback);
    let server = start_server(config, &dmz, TO_INNER).await;
    Pair { dmz, inner, server }
}

fn inner_client(pair: &Pair) -> common::Client {
    let config = client_config(node("inner-1", NodeRole::Inner), Mode::Pushback, pair.server.url());
    start_client(config, &pair.inner, TO_DMZ)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_flow_both_ways_exactly_once_and_in_order() {
    let pair = pair().await;
    // Small batches so that many exchanges are needed.
    let mut config = client_config(node("inner-1", NodeRole::Inner), Mode::Pushback, pair.server.url());
    config.limits.batch_items = 7;
    let to_inner = deliveries(&["acme", "globex", "initech"], 60);
    let to_dmz: Vec<_> = (1..=5).map(config_push).collect();
    pair.dmz.enqueue(TO_INNER, &to_inner[..30]).await;
    pair.inner.enqueue(TO_DMZ, &to_dmz).await;
    let client = start_client(config, &pair.inner, TO_DMZ);
    pair.dmz.enqueue(TO_INNER, &to_inner[30..]).await;

    within(
        LIMIT,
        eventually(LIMIT, "all envelopes committed and acked", || {
            pair.inner.recorder.count() == 60
                && pair.dmz.recorder.count() == 5
                && pair.dmz.depth(TO_INNER) == 0
                && pair.inner.depth(TO_DMZ) == 0
        }),
    )
    .await;

    assert_exactly_once_in_order(&to_inner, &pair.inner.recorder.committed());
    assert_exactly_once_in_order(&to_dmz, &pair.dmz.recorder.committed());
    assert_eq!(pair.inner.depth(RECEIVED), 60);
    assert_eq!(pair.dmz.depth(RECEIVED), 5);
    assert!(matches!(pair.dmz.link.state(), LinkState::Up { ref peer, .. } if peer == "inner-1"));
    assert!(matches!(pair.inner.link.state(), LinkState::Up { ref peer, .. } if peer == "dmz-1"));
    assert!(pair.dmz.link.last_contact().is_some());

    within(LIMIT, client.stop()).await;
    within(LIMIT, pair.server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_long_poll_delivers_new_envelopes_at_once() {
    let pair = pair().await;
    let client = inner_client(&pair);

    // Once the first envelope is acked, the inner's next (empty) exchange waits.
    let first = delivery("acme", 0);
    pair.dmz.enqueue(TO_INNER, std::slice::from_ref(&first)).await;
    within(LIMIT, eventually(LIMIT, "first envelope acked", || pair.dmz.depth(TO_INNER) == 0)).await;

    for index in 1..=3 {
        let started = Instant::now();
        pair.dmz.enqueue(TO_INNER, &[delivery("acme", index)]).await;
        eventually(Duration::from_secs(5), "envelope received", || pair.inner.recorder.count() == index + 1).await;
        let latency = started.elapsed();
        assert!(latency < Duration::from_secs(1), "long-poll latency {latency:?}");
        within(LIMIT, eventually(LIMIT, "acked", || pair.dmz.depth(TO_INNER) == 0)).await;
    }

    // The other way: an enqueue on the inner interrupts its waiting poll.
    let started = Instant::now();
    pair.inner.enqueue(TO_DMZ, &[config_push(1)]).await;
    eventually(Duration::from_secs(5), "config push received", || pair.dmz.recorder.count() == 1).await;
    assert!(started.elapsed() < Duration::from_secs(1), "inner → DMZ latency {:?}", started.elapsed());

    within(LIMIT, client.stop()).await;
    within(LIMIT, pair.server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_received_but_not_acked_are_redelivered_and_deduplicated() {
    let pair = pair().await;
    let sent = deliveries(&["acme", "globex"], 4);
    pair.dmz.enqueue(TO_INNER, &sent).await;

    // The first client stops right after committing, before it can send the acks.
    let config = client_config(node("inner-1", NodeRole::Inner), Mode::Pushback, pair.server.url());
    let shutdown = tokio_util::sync::CancellationToken::new();
    *pair.inner.recorder.cancel_after_receive.lock().unwrap() = Some(shutdown.clone());
    let first = start_client_with(config.clone(), &pair.inner, TO_DMZ, shutdown);
    within(LIMIT, first.task).await.unwrap();
    assert_eq!(pair.inner.recorder.committed().len(), 4, "first client committed the batch");
    assert_eq!(pair.dmz.depth(TO_INNER), 4, "nothing was acked");

    let second = start_client(config, &pair.inner, TO_DMZ);
    within(LIMIT, eventually(LIMIT, "redelivered and acked", || pair.dmz.depth(TO_INNER) == 0)).await;

    for envelope in &sent {
        assert_eq!(
            pair.inner.recorder.outcomes(envelope.id),
            [AckOutcome::Committed, AckOutcome::Duplicate],
            "envelope {}",
            envelope.id
        );
    }
    assert_exactly_once_in_order(&sent, &pair.inner.recorder.committed());
    assert_eq!(pair.inner.depth(RECEIVED), 4, "nothing committed twice, nothing lost");

    within(LIMIT, second.stop()).await;
    within(LIMIT, pair.server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmz_that_cannot_commit_still_drains_its_outbound_queue() {
    let pair = pair().await;
    *pair.dmz.recorder.fail.lock().unwrap() = Some(|| message_service::ReceiveError::InsufficientStorage);
    pair.inner.enqueue(TO_DMZ, &[config_push(7)]).await;
    let sent = deliveries(&["acme"], 5);
    pair.dmz.enqueue(TO_INNER, &sent).await;
    let client = inner_client(&pair);

    within(LIMIT, eventually(LIMIT, "DMZ drained", || pair.dmz.depth(TO_INNER) == 0)).await;
    assert_exactly_once_in_order(&sent, &pair.inner.recorder.committed());
    assert_eq!(pair.inner.depth(TO_DMZ), 1, "the config push waits for the DMZ");

    *pair.dmz.recorder.fail.lock().unwrap() = None;
    within(LIMIT, eventually(LIMIT, "config push delivered", || pair.inner.depth(TO_DMZ) == 0)).await;
    assert_eq!(pair.dmz.recorder.committed().len(), 1);

    within(LIMIT, client.stop()).await;
    within(LIMIT, pair.server.stop()).await;
}
