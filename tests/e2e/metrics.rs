//! `/metrics` on both admin ports: scraped before and after a known set of
//! partner deliveries and refused logins, the counters move by exactly those
//! amounts; partner bytes (FTP: data connections) by exactly the file bytes, and
//! the bytes between the nodes by at least the payloads they carried.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::clients::{PASSWORD, assert_ok, curl, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload, wait_for};

/// A scrape: `name{labels}` → value.
async fn scrape(cluster: &Cluster, admin: &str) -> HashMap<String, f64> {
    let response = cluster.client.get(format!("{admin}/metrics")).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.expect("metrics text");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').expect("sample line");
            (key.to_owned(), value.parse().expect("sample value"))
        })
        .collect()
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_by_exactly_the_deliveries_and_refused_logins_made() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let (dmz_before, inner_before) =
        (scrape(&cluster, &cluster.dmz_admin).await, scrape(&cluster, &cluster.inner_admin).await);
    let local = tempfile::tempdir().expect("tempdir");
    let items: Vec<Item> = (0..3u64)
        .map(|i| Item {
            channel: "demo".into(),
            path: format!("m{i}.edi"),
            bytes: payload(i, 1_000 + 500 * i as usize),
        })
        .collect();
    write_items(local.path(), &items);
    let base = format!("ftp://127.0.0.1:{}", cluster.ports.ftp);
    for item in &items {
        let file = local.path().join(&item.path).to_string_lossy().into_owned();
        let output = curl(&["-u", &format!("demo-user:{PASSWORD}"), "-T", &file, &format!("{base}/{}", item.path)]);
        assert_ok("curl ftp upload", &output, &cluster);
    }
    for _ in 0..2 {
        let output = curl(&["-u", "demo-user:wrong", &format!("{base}/")]);
        assert_eq!(output.status.code(), Some(67), "a wrong password is refused: {output:?}");
    }
    assert_delivered(&cluster, &items, &[]).await;
    let bytes: usize = items.iter().map(|i| i.bytes.len()).sum();

    // A connection counts as closed once the server has seen the client go.
    let closed = "portcullis_partner_connections_closed_total{protocol=\"ftp\"}";
    let dmz = wait_for("the DMZ to see the five FTP connections close", Duration::from_secs(30), || async {
        let dmz = scrape(&cluster, &cluster.dmz_admin).await;
        (delta(&dmz_before, &dmz, closed) == 5.0).then_some(dmz)
    })
    .await;
    assert_eq!(dmz.get("portcullis_partner_connections_active{protocol=\"ftp\"}"), Some(&0.0));
    let expected = [
        ("portcullis_deliveries_total{channel=\"demo\",protocol=\"ftp\"}", 3.0),
        ("portcullis_delivery_bytes_total{channel=\"demo\",protocol=\"ftp\"}", bytes as f64),
        ("portcullis_partner_logins_total{protocol=\"ftp\",outcome=\"accepted\"}", 3.0),
        ("portcullis_partner_logins_total{protocol=\"ftp\",outcome=\"refused\"}", 2.0),
        ("portcullis_partner_connections_total{protocol=\"ftp\",outcome=\"admitted\"}", 5.0),
        ("portcullis_partner_connections_total{protocol=\"ftp\",outcome=\"refused\"}", 0.0),
    ];
    for (key, want) in expected {
        assert_eq!(delta(&dmz_before, &dmz, key), want, "DMZ {key}");
    }
    let partner = |direction| format!("portcullis_partner_bytes_total{{protocol=\"ftp\",direction=\"{direction}\"}}");
    assert_eq!(delta(&dmz_before, &dmz, &partner("read")), bytes as f64, "FTP data bytes read");
    assert_eq!(delta(&dmz_before, &dmz, &partner("written")), 0.0, "nothing downloaded");
    let peer = "portcullis_peer_bytes_total{channel=\"message_service\",direction=\"written\"}";
    assert!(delta(&dmz_before, &dmz, peer) >= bytes as f64, "the DMZ sent the payloads to the inner: {peer}");
    assert!(dmz.contains_key("portcullis_partner_bytes_per_second{protocol=\"ftp\",direction=\"read\"}"));
    assert_eq!(dmz.get("portcullis_link_up"), Some(&1.0));
    assert_eq!(dmz.get("portcullis_queue_depth{queue=\"to-inner\"}"), Some(&0.0), "everything forwarded");

    // The inner counts a delivery once it is in place, after the DMZ saw it acked.
    let key = "portcullis_inner_deliveries_total{channel=\"demo\",protocol=\"ftp\",outcome=\"delivered\"}";
    let inner = wait_for("the inner's counters", Duration::from_secs(30), || async {
        let inner = scrape(&cluster, &cluster.inner_admin).await;
        (delta(&inner_before, &inner, key) >= 3.0).then_some(inner)
    })
    .await;
    assert_eq!(delta(&inner_before, &inner, key), 3.0, "inner {key}");
    let key = "portcullis_inner_delivery_bytes_total{channel=\"demo\",protocol=\"ftp\",outcome=\"delivered\"}";
    assert_eq!(delta(&inner_before, &inner, key), bytes as f64, "inner {key}");
    assert_eq!(inner.get("portcullis_dead_letters"), Some(&0.0));
    let peer = "portcullis_peer_bytes_total{channel=\"message_service\",direction=\"read\"}";
    assert!(delta(&inner_before, &inner, peer) >= bytes as f64, "the inner received the payloads: {peer}");
    assert_eq!(inner.get("portcullis_link_up"), Some(&1.0));
}
