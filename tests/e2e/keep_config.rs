//! `keep_config = "memory"`: the pushed config never reaches the DMZ's disk; the
//! partner listeners stop when the link to the inner is lost and, after a DMZ
//! restart with the inner down, none listens until the inner connects again.

use std::time::Duration;

use crate::support::clients::{PASSWORD, assert_ok, curl, write_items};
use crate::support::cluster::DEMO_HASH;
use crate::support::{Cluster, ClusterOptions, Item, any_file_holds, assert_delivered, payload, wait_for};

async fn listening(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

async fn wait_until_not_listening(port: u16) {
    wait_for("the partner port to close", Duration::from_secs(60), || async { (!listening(port).await).then_some(()) })
        .await;
}

#[tokio::test]
async fn the_disk_default_stores_the_pushed_verifiers() {
    // The control for the test below: the grep does find a stored config.
    let cluster = Cluster::start(ClusterOptions::default()).await;
    wait_for("the pushed config on disk", Duration::from_secs(30), || async {
        any_file_holds(&cluster.dmz_data(), DEMO_HASH.as_bytes()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn memory_keeps_the_config_off_disk_and_listens_only_while_the_inner_is_there() {
    let options = ClusterOptions {
        dmz_extra: "keep_config = \"memory\"\n".into(),
        dmz_ms_extra: "long_poll_secs = 1\n".into(),
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::start(options).await;
    let ftp = cluster.ports.ftp;
    assert!(listening(ftp).await, "FTP listens while the inner is connected");
    assert!(!any_file_holds(&cluster.dmz_data(), DEMO_HASH.as_bytes()), "no pushed verifier on the DMZ's disk");

    cluster.inner.kill();
    wait_until_not_listening(ftp).await;

    cluster.dmz.kill();
    cluster.dmz.start();
    wait_for("the restarted DMZ's admin API", Duration::from_secs(30), || async { cluster.dmz_status().await }).await;
    assert!(!listening(ftp).await, "no partner port after a restart with the inner down");
    for port in [cluster.ports.sftp, cluster.ports.smtp, cluster.ports.as2] {
        assert!(!listening(port).await, "port {port} listens without the inner");
    }
    assert!(!any_file_holds(&cluster.dmz_data(), DEMO_HASH.as_bytes()), "still nothing on disk");

    cluster.inner.start();
    cluster.wait_for_channels().await;
    wait_for("the FTP listener", Duration::from_secs(30), || async { listening(ftp).await.then_some(()) }).await;
    let local = tempfile::tempdir().expect("tempdir");
    let item = Item { channel: "demo".into(), path: "back.edi".into(), bytes: payload(5, 2_000) };
    write_items(local.path(), std::slice::from_ref(&item));
    let file = local.path().join("back.edi").to_string_lossy().into_owned();
    let output =
        curl(&["-u", &format!("demo-user:{PASSWORD}"), "-T", &file, &format!("ftp://127.0.0.1:{ftp}/back.edi")]);
    assert_ok("upload once the inner is back", &output, &cluster);
    assert_delivered(&cluster, &[item], &[]).await;
}
