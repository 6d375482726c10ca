//! Direct mode end to end: each node runs a server and a client.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use envelope::NodeRole;
use message_service::{LinkState, Mode, ServerConfig};

const TO_INNER: &str = "to-inner";
const TO_DMZ: &str = "to-dmz";
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_arrive_exactly_once_and_in_order() {
    init_logs();
    let dmz = Side::new();
    let inner = Side::new();
    let dmz_node = node("dmz-1", NodeRole::Dmz);
    let inner_node = node("inner-1", NodeRole::Inner);
    let dmz_server = start_server(ServerConfig::new(dmz_node.clone(), Mode::Direct), &dmz, TO_INNER).await;
    let inner_server = start_server(ServerConfig::new(inner_node.clone(), Mode::Direct), &inner, TO_DMZ).await;

    let to_inner = deliveries(&["acme", "globex"], 40);
    let to_dmz: Vec<_> = (1..=6).map(config_push).collect();
    dmz.enqueue(TO_INNER, &to_inner[..20]).await;
    inner.enqueue(TO_DMZ, &to_dmz[..3]).await;

    let mut dmz_config = client_config(dmz_node, Mode::Direct, inner_server.url());
    dmz_config.limits.batch_items = 6;
    let dmz_client = start_client(dmz_config, &dmz, TO_INNER);
    let inner_client = start_client(client_config(inner_node, Mode::Direct, dmz_server.url()), &inner, TO_DMZ);
    dmz.enqueue(TO_INNER, &to_inner[20..]).await;
    inner.enqueue(TO_DMZ, &to_dmz[3..]).await;

    within(
        LIMIT,
        eventually(LIMIT, "both queues delivered and acked", || {
            inner.recorder.count() == 40
                && dmz.recorder.count() == 6
                && dmz.depth(TO_INNER) == 0
                && inner.depth(TO_DMZ) == 0
        }),
    )
    .await;
    assert_exactly_once_in_order(&to_inner, &inner.recorder.committed());
    assert_exactly_once_in_order(&to_dmz, &dmz.recorder.committed());
    assert_eq!(inner.depth(RECEIVED), 40);
    assert_eq!(dmz.depth(RECEIVED), 6);
    assert!(matches!(dmz.link.state(), LinkState::Up { ref peer, .. } if peer == "inner-1"));
    assert!(matches!(inner.link.state(), LinkState::Up { ref peer, .. } if peer == "dmz-1"));

    within(LIMIT, dmz_client.stop()).await;
    within(LIMIT, inner_client.stop()).await;
    within(LIMIT, dmz_server.stop()).await;
    within(LIMIT, inner_server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_send_heartbeats_that_never_reach_the_receiver() {
    init_logs();
    let dmz = Side::new();
    let inner = Side::new();
    let server = start_server(ServerConfig::new(node("inner-1", NodeRole::Inner), Mode::Direct), &inner, TO_DMZ).await;
    let mut config = client_config(node("dmz-1", NodeRole::Dmz), Mode::Direct, server.url());
    config.heartbeat = Duration::from_millis(50);
    let client = start_client(config, &dmz, TO_INNER);

    within(LIMIT, eventually(LIMIT, "first contact", || inner.link.last_contact().is_some())).await;
    let first = inner.link.last_contact();
    within(LIMIT, eventually(LIMIT, "a later heartbeat", || inner.link.last_contact() > first)).await;
    assert_eq!(inner.recorder.count(), 0, "heartbeats are acked by the service itself");
    assert_eq!(inner.depth(RECEIVED), 0);

    within(LIMIT, client.stop()).await;
    within(LIMIT, server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_handshake_keeps_the_link_down_with_the_reason() {
    init_logs();
    let dmz = Side::new();
    let other_dmz = Side::new();
    let server =
        start_server(ServerConfig::new(node("dmz-2", NodeRole::Dmz), Mode::Direct), &other_dmz, TO_INNER).await;
    dmz.enqueue(TO_INNER, &deliveries(&["acme"], 2)).await;
    let client = start_client(client_config(node("dmz-1", NodeRole::Dmz), Mode::Direct, server.url()), &dmz, TO_INNER);

    within(
        LIMIT,
        eventually(LIMIT, "link down with the handshake's reason", || {
            matches!(dmz.link.state(), LinkState::Down { ref reason, .. }
            if reason.contains("400") && reason.contains("a dmz node does not talk to another dmz node"))
        }),
    )
    .await;
    assert_eq!(other_dmz.recorder.count(), 0);
    assert_eq!(dmz.depth(TO_INNER), 2, "nothing sent without a handshake");

    within(LIMIT, client.stop()).await;
    within(LIMIT, server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_peer_is_retried_until_it_appears() {
    init_logs();
    let dmz = Side::new();
    let inner = Side::new();
    // Reserve a port, then free it: the client starts against a closed port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let sent = deliveries(&["acme"], 3);
    dmz.enqueue(TO_INNER, &sent).await;
    let client = start_client(
        client_config(node("dmz-1", NodeRole::Dmz), Mode::Direct, format!("http://{addr}")),
        &dmz,
        TO_INNER,
    );
    within(LIMIT, eventually(LIMIT, "link down: cannot reach peer", || {
        matches!(dmz.link.state(), LinkState::Down { ref reason, .. } if reason.starts_with("cannot reach peer"))
    }))
    .await;

    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let config = ServerConfig::new(node("inner-1", NodeRole::Inner), Mode::Direct);
    let server = tokio::spawn(message_service::serve(
        listener,
        config,
        inner.dyn_spool(),
        TO_DMZ,
        inner.recorder.clone(),
        inner.link.clone(),
        shutdown.clone(),
    ));
    within(LIMIT, eventually(LIMIT, "delivered after the peer appeared", || dmz.depth(TO_INNER) == 0)).await;
    assert_exactly_once_in_order(&sent, &inner.recorder.committed());
    assert!(matches!(dmz.link.state(), LinkState::Up { .. }));

    within(LIMIT, client.stop()).await;
    shutdown.cancel();
    within(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_refuses_frames_keeps_the_link_down_without_flapping() {
    init_logs();
    let dmz = Side::new();
    let inner = Side::new();
    // The DMZ runs in direct mode, the inner in pushback mode: hellos succeed, but
    // the DMZ does not serve /exchange.
    let server = start_server(ServerConfig::new(node("dmz-1", NodeRole::Dmz), Mode::Direct), &dmz, TO_INNER).await;
    let config = client_config(node("inner-1", NodeRole::Inner), Mode::Pushback, server.url());
    let client = start_client(config, &inner, TO_DMZ);

    let reason = "peer does not serve /ms/v1/exchange";
    within(
        LIMIT,
        eventually(
            LIMIT,
            "link down: mode mismatch",
            || matches!(inner.link.state(), LinkState::Down { reason: ref r, .. } if r.contains(reason)),
        ),
    )
    .await;
    let mut changes = inner.link.subscribe();
    changes.mark_unchanged();
    // Each retry handshakes (which updates the server's last contact) and fails again.
    for _ in 0..3 {
        let before = dmz.link.last_contact();
        within(LIMIT, eventually(LIMIT, "another retry", || dmz.link.last_contact() > before)).await;
    }
    assert!(!changes.has_changed().unwrap(), "retries changed the link state: {:?}", inner.link.state());

    within(LIMIT, client.stop()).await;
    within(LIMIT, server.stop()).await;
}
