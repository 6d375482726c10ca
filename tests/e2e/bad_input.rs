//! Bad input gets a clear 4xx and harms nothing: garbage, truncated and oversized
//! bodies to the MessageService, peers from denied addresses, bad injections, a
//! full spool.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use envelope::{Body, Envelope, EnvelopeId, Frame, Heartbeat, Hello, NodeRole};

use crate::support::*;

async fn post(client: &reqwest::Client, url: &str, version: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut request = client.post(url).header("content-type", "application/msgpack").body(body);
    if let Some(version) = version {
        request = request.header(envelope::PROTOCOL_HEADER, version).header(envelope::NODE_HEADER, "intruder");
    }
    let response = request.send().await.expect("message service answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

fn heartbeat_frame() -> Vec<u8> {
    let envelope =
        Envelope { id: EnvelopeId::generate(), body: Body::Heartbeat(Heartbeat { sent_at: 1 }), payload: None };
    envelope::encode(&Frame { envelopes: vec![envelope], acks: vec![] })
}

#[tokio::test(flavor = "multi_thread")]
async fn message_service_refuses_bad_bodies_and_keeps_serving() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let base = format!("http://127.0.0.1:{}/ms/v1", cluster.dmz_ms_port);
    let client = &cluster.client;
    let version = envelope::PROTOCOL_VERSION.to_string();
    let version = Some(version.as_str());
    let frame = heartbeat_frame();
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("hello", version, b"\xc1garbage".to_vec(), 400),
        ("exchange", version, b"not messagepack at all".to_vec(), 400),
        ("exchange", version, frame[..frame.len() / 2].to_vec(), 400),
        ("exchange", None, frame.clone(), 400),
        ("exchange", Some("999"), frame.clone(), 400),
        ("exchange", version, vec![0x91; 65 << 20], 413),
    ];
    for (endpoint, version, body, expected) in cases {
        let (status, text) = post(client, &format!("{base}/{endpoint}"), version, body).await;
        assert_eq!(status, expected, "{endpoint} with version {version:?}: {text}");
    }
    let hello = Hello { protocol_version: 999, node_id: "future".into(), role: NodeRole::Inner };
    let (status, text) = post(client, &format!("{base}/hello"), Some("999"), envelope::encode(&hello)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("999") && text.contains(&envelope::PROTOCOL_VERSION.to_string()),
        "unclear version error: {text}"
    );

    let item = Item { channel: "demo".into(), path: "after-garbage.txt".into(), bytes: b"still serving".to_vec() };
    assert_eq!(inject(client, &cluster.dmz_admin, "demo", &item.path, item.bytes.clone()).await.status, Some(201));
    assert_delivered(&cluster, &[item], &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_from_a_denied_address_is_refused() {
    let cluster = Cluster::start(ClusterOptions {
        dmz_ms_extra: "allow = [\"127.0.0.1/32\"]".into(),
        ..ClusterOptions::default()
    })
    .await;
    let stranger = reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, 2])).build().expect("client");
    let hello =
        Hello { protocol_version: envelope::PROTOCOL_VERSION, node_id: "stranger".into(), role: NodeRole::Inner };
    let version = envelope::PROTOCOL_VERSION.to_string();
    let url = format!("http://127.0.0.1:{}/ms/v1/hello", cluster.dmz_ms_port);
    // Closed at accept: no HTTP answer at all.
    let refused = stranger
        .post(&url)
        .header("content-type", "application/msgpack")
        .header(envelope::PROTOCOL_HEADER, version.as_str())
        .header(envelope::NODE_HEADER, "stranger")
        .body(envelope::encode(&hello))
        .send()
        .await;
    assert!(refused.is_err(), "a denied peer got an answer: {refused:?}");
    let (status, text) = post(&cluster.client, &url, Some(&version), envelope::encode(&hello)).await;
    assert_eq!(status, 200, "an allowed peer was refused: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_injections_get_clear_errors() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let (client, admin) = (&cluster.client, &cluster.dmz_admin);
    let limit = cluster.options.streaming_size as usize;
    assert_eq!(inject(client, admin, "nope", "a.txt", b"x".to_vec()).await.status, Some(404));
    for path in ["../escape", "/abs", "a//b", "a/./b", "nul\0byte", "tab\tname"] {
        assert_eq!(inject(client, admin, "demo", path, b"x".to_vec()).await.status, Some(400), "{path}");
    }
    assert_eq!(inject(client, admin, "demo", "big.bin", vec![0; limit + 1]).await.status, Some(413));
    let missing =
        client.post(format!("{admin}/api/v1/deliveries?channel=demo")).body("x").send().await.expect("answer");
    assert_eq!(missing.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn full_spool_refuses_with_507_and_keeps_what_it_accepted() {
    let mut cluster = Cluster::start(ClusterOptions { spool_quota_bytes: 1 << 20, ..ClusterOptions::default() }).await;
    assert!(cluster.inner.stop().is_some_and(|s| s.success()));
    let items: Vec<Item> = (0..40)
        .map(|i| Item { channel: "demo".into(), path: format!("fill-{i:02}.bin"), bytes: payload(i, 60_000) })
        .collect();
    let results =
        inject_many(cluster.client.clone(), cluster.dmz_admin.clone(), items.clone(), 1, Arc::new(AtomicUsize::new(0)))
            .await;
    let statuses: Vec<Option<u16>> = results.iter().map(|r| r.status).collect();
    let accepted = statuses.iter().take_while(|s| **s == Some(201)).count();
    assert!(accepted >= 10, "too few accepted before the quota: {statuses:?}");
    assert!(
        statuses[accepted..].iter().all(|s| *s == Some(507)),
        "after the quota, every injection must get 507: {statuses:?}"
    );
    cluster.inner.start();
    assert_delivered(&cluster, &items[..accepted], &[]).await;
    cluster.wait_for_dmz_drained().await;
    assert_eq!(inject(&cluster.client, &cluster.dmz_admin, "demo", "after.bin", vec![1; 1000]).await.status, Some(201));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_apis_refuse_requests_without_the_token() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let anonymous = reqwest::Client::new();
    let wrong = client_with_token("not-the-admin-token-of-this-cluster");
    let urls = [&cluster.dmz_admin, &cluster.inner_admin]
        .into_iter()
        .flat_map(|admin| ["/api/v1/status", "/api/v1/stats", "/metrics"].map(|path| format!("{admin}{path}")));
    for url in urls {
        for client in [&anonymous, &wrong] {
            let response = client.get(&url).send().await.expect("answer");
            assert_eq!(response.status(), 401, "{url}");
            assert!(response.headers().contains_key("www-authenticate"), "{url}");
        }
        let response = cluster.client.get(&url).send().await.expect("answer");
        assert_eq!(response.status(), 200, "{url} with the token");
    }
    let injected = inject(&anonymous, &cluster.dmz_admin, "demo", "sneaky.txt", b"x".to_vec()).await;
    assert_eq!(injected.status, Some(401));
    let item = Item { channel: "demo".into(), path: "proper.txt".into(), bytes: b"with the token".to_vec() };
    assert_eq!(
        inject(&cluster.client, &cluster.dmz_admin, "demo", &item.path, item.bytes.clone()).await.status,
        Some(201)
    );
    assert_delivered(&cluster, &[item], &[]).await;
}
