//! Sends that start inside without an API call: a file an internal system drops
//! into the inner's outbox folder, and a profile's response to a partner's
//! delivery. Both reach the partner's HTTP server through the DMZ once, with the
//! file's name.

use std::path::Path;
use std::time::Duration;

use sha2::Digest;

use crate::support::clients::{PASSWORD, assert_ok, curl};
use crate::support::outbound::{delivered_count, http_remote};
use crate::support::partners::{HttpSink, Received};
use crate::support::{Cluster, ClusterOptions, free_port, payload, wait_for};

/// Waits until the inner logged `count` delivered sends, then returns what the
/// sink received (so a second copy would have been seen).
async fn received_after_sends(cluster: &Cluster, sink: &HttpSink, count: usize) -> Vec<Received> {
    wait_for(&format!("{count} sends delivered"), Duration::from_secs(60), || async {
        (cluster.inner.log_text().matches("send delivered").count() >= count).then_some(())
    })
    .await;
    sink.received()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_dropped_in_the_outbox_folder_is_sent_once_and_removed() {
    let port = free_port();
    let sink = HttpSink::start(port).await;
    let options = ClusterOptions {
        channel_keys: "outbox_remote = \"web\"\n".into(),
        channel_tables: http_remote("web", port, 2),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await;
    let outbox = cluster.dir.path().join("inner/outbox/demo");
    std::fs::create_dir_all(&outbox).expect("outbox folder");
    std::fs::write(outbox.join(".hidden"), b"never sent").expect("hidden file");
    // Written under a temporary name, then renamed: the usual way to hand a file over.
    let bytes = payload(40, 600_000);
    std::fs::write(outbox.join("order.xml.part"), &bytes).expect("part file");
    std::fs::rename(outbox.join("order.xml.part"), outbox.join("order.xml")).expect("rename");

    let received = received_after_sends(&cluster, &sink, 1).await;
    assert_eq!(received.len(), 1, "the partner got {} requests", received.len());
    assert_eq!(received[0].body, bytes);
    assert_eq!(received[0].disposition.as_deref(), Some("attachment; filename=\"order.xml\""));
    wait_for("the sent file to leave the outbox", Duration::from_secs(30), || async {
        (!outbox.join("order.xml").exists() && empty(&outbox.join(".taken"))).then_some(())
    })
    .await;
    assert!(outbox.join(".hidden").exists(), "a hidden file was taken");
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false)
}

const ACK_PROFILE: &str = "\n[[profiles]]\nname = \"acks\"\nchannel = \"demo\"\npath = \"*.xml\"\n\
    [profiles.respond]\nremote = \"web\"\nname = \"{stem}.ack\"\ntext = \"ok {name} {size} {sha256}\\n\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_answers_each_delivery_it_makes_once() {
    let port = free_port();
    let sink = HttpSink::start(port).await;
    let options = ClusterOptions {
        channel_tables: http_remote("web", port, 2),
        profiles: ACK_PROFILE.into(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await;
    let local = tempfile::tempdir().expect("tempdir");
    let user = format!("demo-user:{PASSWORD}");
    let base = format!("ftp://127.0.0.1:{}", cluster.ports.ftp);
    let other = local.path().join("other.bin");
    std::fs::write(&other, payload(41, 1_000)).expect("other");
    assert_ok(
        "curl ftp upload",
        &curl(&["-u", &user, "-T", &other.to_string_lossy(), &format!("{base}/other.bin")]),
        &cluster,
    );
    let order_bytes = payload(42, 30_000);
    let order = local.path().join("order.xml");
    std::fs::write(&order, &order_bytes).expect("order");
    assert_ok(
        "curl ftp upload",
        &curl(&["-u", &user, "-T", &order.to_string_lossy(), &format!("{base}/order.xml")]),
        &cluster,
    );

    let received = received_after_sends(&cluster, &sink, 1).await;
    assert_eq!(delivered_count(&cluster, "order.xml").await, 1);
    assert_eq!(delivered_count(&cluster, "other.bin").await, 1);
    assert_eq!(received.len(), 1, "responses: {}", received.len());
    let digest = hex(&sha2::Sha256::digest(&order_bytes));
    assert_eq!(String::from_utf8_lossy(&received[0].body), format!("ok order.xml 30000 {digest}\n"));
    assert_eq!(received[0].disposition.as_deref(), Some("attachment; filename=\"order.ack\""));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
