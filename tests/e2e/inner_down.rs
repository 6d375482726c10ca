//! `when_inner_down`: while the inner is unreachable a `refuse` channel's partners
//! get the protocol's transient error and nothing is spooled, a `buffer` channel
//! keeps accepting; both deliver once the inner is back.

use std::path::Path;
use std::time::Duration;

use crate::support::clients::{PASSWORD, assert_ok, curl, write_items};
use crate::support::mail::swaks;
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload, wait_for};

fn item(channel: &str, path: &str, seed: u64) -> Item {
    Item { channel: channel.into(), path: path.into(), bytes: payload(seed, 4_000) }
}

fn ftp_put(cluster: &Cluster, dir: &Path, item: &Item) -> std::process::Output {
    let file = dir.join(&item.path).to_string_lossy().into_owned();
    let url = format!("ftp://127.0.0.1:{}/{}", cluster.ports.ftp, item.path);
    curl(&["-u", &format!("{}-user:{PASSWORD}", item.channel), "-T", &file, &url])
}

async fn wait_for_link(cluster: &Cluster, state: &str) {
    wait_for(&format!("the DMZ to see the link {state}"), Duration::from_secs(60), || async {
        let status = cluster.dmz_status().await?;
        (status["link"]["state"] == state).then_some(())
    })
    .await;
}

async fn to_inner_depth(cluster: &Cluster) -> u64 {
    let status = cluster.dmz_status().await.expect("DMZ status");
    status["queues"]["to-inner"]["depth"].as_u64().expect("to-inner depth")
}

#[tokio::test]
async fn a_refuse_channel_takes_nothing_while_the_inner_is_down_and_a_buffer_channel_goes_on() {
    let options = ClusterOptions {
        channels: vec!["r".into(), "b".into()],
        channel_keys: "when_inner_down = \"refuse\"\n".into(),
        dmz_ms_extra: "long_poll_secs = 1\n".into(),
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::start(options).await;
    let local = tempfile::tempdir().expect("tempdir");
    let (refused, buffered, later) =
        (item("r", "while-down.edi", 1), item("b", "buffered.edi", 2), item("r", "after.edi", 3));
    write_items(local.path(), &[refused.clone(), buffered.clone(), later.clone()]);
    cluster.inner.kill();
    wait_for_link(&cluster, "down").await;

    let output = ftp_put(&cluster, local.path(), &refused);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("451"), "refuse channel while down: {output:?}");
    let output = swaks(&cluster, &["--to", "r@dmz.test", "--from", "p@partner.test", "--quit-after", "RCPT"]);
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(transcript.contains("<** 451"), "RCPT for the refuse channel while down:\n{transcript}");
    assert_eq!(to_inner_depth(&cluster).await, 0, "nothing spooled for the refuse channel");

    assert_ok("buffer channel while down", &ftp_put(&cluster, local.path(), &buffered), &cluster);
    assert_eq!(to_inner_depth(&cluster).await, 1, "the buffer channel's upload is spooled");

    cluster.inner.start();
    wait_for_link(&cluster, "up").await;
    assert_ok("refuse channel after the inner is back", &ftp_put(&cluster, local.path(), &later), &cluster);
    assert_delivered(&cluster, &[buffered, later], &[]).await;
    assert!(!cluster.inbox().join("r/while-down.edi").exists(), "the refused upload was never taken");
}
