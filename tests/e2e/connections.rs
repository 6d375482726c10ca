//! Who is connected: an FTP upload in progress shows in `GET /api/v1/connections`
//! and `portcullis ctl connections` with the partner's address, login, channel and
//! the bytes it has sent so far; the partner traffic rate moves while it runs, and
//! the connection leaves the list when it ends.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::clients::{assert_ok, slow_ftp_upload, write_items};
use crate::support::http::get_json;
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload, wait_for};

/// The open connections the DMZ lists.
async fn connections(cluster: &Cluster) -> Option<Vec<Value>> {
    let listed = get_json(&cluster.client, &format!("{}/api/v1/connections", cluster.dmz_admin)).await?;
    listed["connections"].as_array().cloned()
}

#[tokio::test]
async fn an_upload_in_progress_is_listed_with_its_login_and_bytes() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let slow = Item { channel: "demo".into(), path: "slow.bin".into(), bytes: payload(3, 1 << 20) };
    write_items(local.path(), std::slice::from_ref(&slow));
    let upload = slow_ftp_upload(&cluster, &local.path().join("slow.bin"));

    let listed = wait_for("the upload to be listed with bytes", Duration::from_secs(30), || async {
        let open = connections(&cluster).await?;
        open.into_iter().find(|c| c["user"] == "demo-user" && c["bytes_read"].as_u64() > Some(200_000))
    })
    .await;
    assert_eq!(listed["protocol"], "ftp", "{listed}");
    assert_eq!(listed["channel"], "demo", "{listed}");
    let remote = listed["remote"].as_str().expect("remote");
    assert!(remote.starts_with("127.0.0.1:"), "{listed}");
    assert!(listed["bytes_read"].as_u64() <= Some(1 << 20), "{listed}");

    let token = cluster.dir.path().join("admin.token");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.env_remove("PORTCULLIS_ADMIN_TOKEN").args(["ctl", "--admin", &cluster.dmz_admin, "--token-file"]);
    command.arg(&token).arg("connections");
    let ctl = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run ctl");
    let table = String::from_utf8_lossy(&ctl.stdout);
    assert!(ctl.status.success(), "ctl connections: {}", String::from_utf8_lossy(&ctl.stderr));
    let line = table.lines().find(|l| l.contains(remote)).unwrap_or_else(|| panic!("{remote} not in\n{table}"));
    assert!(line.contains("ftp") && line.contains("demo-user") && line.contains("demo"), "{line}");

    // curl sends at about 200 KB/s; the rate covers the last 10 s.
    let rate = wait_for("a partner read rate", Duration::from_secs(15), || async {
        let stats = get_json(&cluster.client, &format!("{}/api/v1/stats", cluster.dmz_admin)).await?;
        let rate = stats["traffic"]["ftp"]["read_per_second"].as_f64()?;
        (rate > 20_000.0).then_some(rate)
    })
    .await;
    assert!(rate < 1_000_000.0, "read rate {rate} B/s for a 200 KB/s upload");

    let output = tokio::task::spawn_blocking(move || upload.wait_with_output()).await.expect("join").expect("curl");
    assert_ok("the slow upload", &output, &cluster);
    assert_delivered(&cluster, &[slow], &[]).await;
    wait_for("the connection to leave the list", Duration::from_secs(30), || async {
        connections(&cluster).await?.is_empty().then_some(())
    })
    .await;
}
