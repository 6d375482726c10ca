//! Pausing the partner listeners from the admin API: new connections get the
//! protocol's "try again later" while an upload already in progress completes; a
//! pause outlives a DMZ crash and restart; resume restores service.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::Value;

use crate::support::clients::{HTTP_PROBE, PASSWORD, assert_ok, curl, first_bytes, slow_ftp_upload, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload, wait_for};

async fn post(cluster: &Cluster, path: &str) -> Value {
    let response = cluster.client.post(format!("{}{path}", cluster.dmz_admin)).send().await.expect("admin answer");
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_slice(&response.bytes().await.expect("admin body")).expect("admin JSON")
}

/// The DMZ's count of FTP logins accepted so far.
async fn ftp_logins(cluster: &Cluster) -> Option<u64> {
    let url = format!("{}/api/v1/stats", cluster.dmz_admin);
    let stats = crate::support::http::get_json(&cluster.client, &url).await?;
    let logins = stats["logins"].as_array()?;
    let accepted = logins.iter().find(|l| l["protocol"] == "ftp" && l["outcome"] == "accepted");
    Some(accepted.and_then(|l| l["count"].as_u64()).unwrap_or(0))
}

/// Starts a curl FTP upload of `file` as `slow.bin` at 200 KB/s and waits until it
/// logged in.
async fn start_slow_upload(cluster: &Cluster, file: &std::path::Path) -> std::process::Child {
    let upload = slow_ftp_upload(cluster, file);
    wait_for("the slow upload to log in", Duration::from_secs(30), || async {
        (ftp_logins(cluster).await? == 1).then_some(())
    })
    .await;
    upload
}

#[tokio::test]
async fn pause_turns_new_partners_away_while_an_upload_in_progress_completes() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let slow = Item { channel: "demo".into(), path: "slow.bin".into(), bytes: payload(1, 1 << 20) };
    let after = Item { channel: "demo".into(), path: "after.bin".into(), bytes: payload(2, 10_000) };
    write_items(local.path(), &[slow.clone(), after.clone()]);
    let base = format!("ftp://127.0.0.1:{}", cluster.ports.ftp);
    let user = format!("demo-user:{PASSWORD}");
    let upload = start_slow_upload(&cluster, &local.path().join("slow.bin")).await;

    assert_eq!(post(&cluster, "/api/v1/listeners/pause").await["partner_listeners"], "paused");
    let status = cluster.dmz_status().await.expect("status");
    assert_eq!(status["partner_listeners"], "paused");
    assert_eq!(status["active_connections"], 1, "the upload in progress: {status}");
    let p = cluster.ports;
    let local_ip = Ipv4Addr::LOCALHOST;
    for (name, port, probe, answer) in [
        ("FTP", p.ftp, &b""[..], &b"421 "[..]),
        ("SMTP", p.smtp, b"", b"421 "),
        ("AS2", p.as2, HTTP_PROBE, b"HTTP/1.1 503"),
        ("SFTP", p.sftp, b"", b""),
    ] {
        let got = first_bytes(local_ip, port, probe).await;
        assert!(got.starts_with(answer) && (!answer.is_empty() || got.is_empty()), "{name} while paused: {got:?}");
    }

    let output = tokio::task::spawn_blocking(move || upload.wait_with_output()).await.expect("join").expect("curl");
    assert_ok("the upload in progress when paused", &output, &cluster);

    cluster.dmz.kill();
    cluster.dmz.start();
    let greeting = wait_for("the restarted DMZ's FTP listener", Duration::from_secs(30), || async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", cluster.ports.ftp)).await.ok()?;
        let mut buffer = vec![0u8; 64];
        let read = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await.ok()?;
        buffer.truncate(read);
        Some(buffer)
    })
    .await;
    assert!(greeting.starts_with(b"421 "), "FTP after a restart while paused: {greeting:?}");
    assert_eq!(cluster.dmz_status().await.expect("status")["partner_listeners"], "paused");
    assert_eq!(post(&cluster, "/api/v1/listeners/resume").await["partner_listeners"], "open");
    let file = local.path().join("after.bin").to_string_lossy().into_owned();
    assert_ok("an upload after resume", &curl(&["-u", &user, "-T", &file, &format!("{base}/after.bin")]), &cluster);
    assert_delivered(&cluster, &[slow, after], &[]).await;
}

#[tokio::test]
async fn drain_lets_the_open_session_finish_accepts_no_new_one_and_reports_drained() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let slow = Item { channel: "demo".into(), path: "slow.bin".into(), bytes: payload(3, 1 << 20) };
    write_items(local.path(), std::slice::from_ref(&slow));
    let upload = start_slow_upload(&cluster, &local.path().join("slow.bin")).await;

    let answer = post(&cluster, "/api/v1/listeners/drain").await;
    assert_eq!((answer["partner_listeners"].as_str(), answer["drained"].as_bool()), (Some("draining"), Some(false)));
    let got = first_bytes(Ipv4Addr::LOCALHOST, cluster.ports.ftp, b"").await;
    assert!(got.starts_with(b"421 "), "a new FTP connection while draining: {got:?}");

    let output = tokio::task::spawn_blocking(move || upload.wait_with_output()).await.expect("join").expect("curl");
    assert_ok("the upload in progress when draining", &output, &cluster);
    wait_for("the drain to complete", Duration::from_secs(30), || async {
        let status = cluster.dmz_status().await?;
        (status["drained"] == true && status["active_connections"] == 0).then_some(())
    })
    .await;
    assert_delivered(&cluster, &[slow], &[]).await;
    assert_eq!(post(&cluster, "/api/v1/listeners/resume").await["partner_listeners"], "open");
}
