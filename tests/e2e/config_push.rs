//! The inner owns the config: a reload (SIGHUP) pushes it, and the DMZ keeps the
//! last push so that after its own restart it serves partners while the inner is
//! down.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn sighup_pushes_new_channels_but_never_invisible_ones() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let path = cluster.inner.config_path().to_path_buf();
    let mut text = std::fs::read_to_string(&path).expect("inner.toml");
    for (name, invisible) in [("late-partner", false), ("late-secret", true)] {
        text += &format!(
            "\n[[channels]]\nname = \"{name}\"\ninvisible_to_dmz = {invisible}\n[[channels.logins]]\nuser = \"{name}\"\npassword_hash = \"{}\"\n",
            crate::support::cluster::DEMO_HASH
        );
    }
    std::fs::write(&path, text).expect("rewrite inner.toml");
    cluster.inner.signal("HUP");
    let late = Item { channel: "late-partner".into(), path: "first.txt".into(), bytes: b"after reload".to_vec() };
    wait_for("the reloaded channel on the DMZ", Duration::from_secs(30), || async {
        let status =
            inject(&cluster.client, &cluster.dmz_admin, &late.channel, &late.path, late.bytes.clone()).await.status?;
        (status == 201).then_some(())
    })
    .await;
    assert_delivered(&cluster, &[late], &[]).await;
    let channels = cluster.client.get(format!("{}/api/v1/channels", cluster.dmz_admin)).send().await.expect("channels");
    assert!(!channels.text().await.expect("body").contains("late-secret"));
    assert_eq!(inject(&cluster.client, &cluster.dmz_admin, "late-secret", "x", b"x".to_vec()).await.status, Some(404));
}

#[tokio::test(flavor = "multi_thread")]
async fn restarted_dmz_serves_the_last_pushed_config_while_the_inner_is_down() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    assert!(cluster.inner.stop().is_some_and(|s| s.success()));
    cluster.dmz.kill();
    cluster.dmz.start();
    let item = Item { channel: "demo".into(), path: "while-inner-down.txt".into(), bytes: b"buffered".to_vec() };
    let status = wait_for("the restarted DMZ to answer", Duration::from_secs(30), || async {
        inject(&cluster.client, &cluster.dmz_admin, &item.channel, &item.path, item.bytes.clone()).await.status
    })
    .await;
    assert_eq!(status, 201, "the restarted DMZ forgot the pushed channels");
    cluster.inner.start();
    assert_delivered(&cluster, &[item], &[]).await;
}
