//! Files the inner places for pickup appear in the channel's `outbox/` on the DMZ:
//! the partner downloads them with OpenSSH sftp and with curl over FTP, the inner
//! learns of each complete download, a file marked for it is deleted afterwards,
//! and another channel's partner sees none of them.

use std::time::Duration;

use crate::support::clients::{PASSWORD, SshAuth, assert_ok, curl, sftp_batch};
use crate::support::outbound::{pickups, send_file, wait_for_send};
use crate::support::{Cluster, ClusterOptions, payload, wait_for};

const PICKUP_REMOTES: &str = "\n[[channels.remotes]]\nname = \"pickup\"\nprotocol = \"pickup\"\n\
     \n[[channels.remotes]]\nname = \"pickup-once\"\nprotocol = \"pickup\"\ndelete_after_pickup = true\n";

#[tokio::test(flavor = "multi_thread")]
async fn partners_download_pickup_files_with_sftp_and_curl_and_only_their_own() {
    let options = ClusterOptions {
        channels: vec!["demo".into(), "other".into()],
        channel_tables: PICKUP_REMOTES.into(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await;
    let report = payload(40, 250_000);
    let once = payload(41, 3_000);
    let id = send_file(&cluster, "pickup", "report.csv", None, report.clone()).await;
    wait_for_send(&cluster, &id, "delivered").await;
    let id = send_file(&cluster, "pickup-once", "once.txt", None, once.clone()).await;
    wait_for_send(&cluster, &id, "delivered").await;

    let local = tempfile::tempdir().expect("tempdir");
    let output = sftp_batch(&cluster, "demo-user", SshAuth::Password, local.path(), "get outbox/report.csv\n");
    assert_ok("sftp get of a pickup file", &output, &cluster);
    assert_eq!(std::fs::read(local.path().join("report.csv")).expect("downloaded"), report);

    let url = format!("ftp://127.0.0.1:{}/outbox/once.txt", cluster.ports.ftp);
    let target = local.path().join("once.txt").to_string_lossy().into_owned();
    let output = curl(&["-u", &format!("demo-user:{PASSWORD}"), "-o", &target, &url]);
    assert_ok("curl ftp download of a pickup file", &output, &cluster);
    assert_eq!(std::fs::read(&target).expect("downloaded"), once);

    let events = wait_for("the inner to learn of both downloads", Duration::from_secs(30), || async {
        let events = pickups(&cluster).await;
        (events.len() >= 2).then_some(events)
    })
    .await;
    let paths: Vec<&str> = events.iter().filter_map(|e| e["path"].as_str()).collect();
    assert!(paths.contains(&"outbox/report.csv") && paths.contains(&"outbox/once.txt"), "{events:?}");

    let listing = sftp_batch(&cluster, "demo-user", SshAuth::Password, local.path(), "ls -1 outbox\n");
    let listed = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(listed.contains("report.csv"), "the kept pickup file is gone: {listed}");
    assert!(!listed.contains("once.txt"), "a delete-after-pickup file is still listed: {listed}");

    let theirs =
        sftp_batch(&cluster, "other-user", SshAuth::Password, local.path(), "ls -1 outbox\nget outbox/report.csv\n");
    let stdout = String::from_utf8_lossy(&theirs.stdout).into_owned();
    // sftp echoes each batch command after `sftp> `; the rest is its answers.
    let seen: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("sftp>")).collect();
    assert!(!seen.iter().any(|l| l.contains("report.csv")), "another channel sees demo's pickup file: {stdout}");
    assert!(!theirs.status.success(), "another channel downloaded demo's pickup file");
}
