//! `portcullis ctl` against a running cluster: transfers (table and `--json`),
//! status, queues, channels, stats, pause/resume, and a wrong or missing token.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, inject, payload};

/// Runs `portcullis ctl --admin ADMIN [--token-file FILE] ARGS…` off the runtime.
async fn ctl(admin: &str, token_file: Option<&Path>, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.env_remove("PORTCULLIS_ADMIN_TOKEN").args(["ctl", "--admin", admin]);
    if let Some(file) = token_file {
        command.arg("--token-file").arg(file);
    }
    command.args(args);
    tokio::task::spawn_blocking(move || command.output().expect("run portcullis ctl")).await.expect("join")
}

/// Standard output of a run that must succeed.
async fn ok(admin: &str, token_file: &Path, args: &[&str]) -> String {
    let output = ctl(admin, Some(token_file), args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ctl {args:?} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn ctl_shows_a_delivery_the_link_and_the_queues() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let item = Item { channel: "demo".into(), path: "orders/ctl-check.edi".into(), bytes: payload(6, 5_000) };
    let injected = inject(&cluster.client, &cluster.dmz_admin, "demo", &item.path, item.bytes.clone()).await;
    assert_eq!(injected.status, Some(201));
    assert_delivered(&cluster, std::slice::from_ref(&item), &[]).await;
    let token: PathBuf = cluster.dir.path().join("admin.token");
    let (dmz, inner) = (cluster.dmz_admin.as_str(), cluster.inner_admin.as_str());

    let table = ok(inner, &token, &["transfers"]).await;
    assert!(table.starts_with("TIME (UTC)"), "{table}");
    let line = table.lines().find(|l| l.contains("orders/ctl-check.edi")).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("demo") && line.contains("4.9 KiB") && line.contains("delivered"), "{line}");
    let filtered = ok(inner, &token, &["transfers", "--channel", "no-such-channel"]).await;
    assert!(filtered.ends_with("(none)\n"), "{filtered}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(inner, &token, &["--json", "transfers"]).await).expect("JSON");
    let records = json.as_array().unwrap_or_else(|| panic!("{json}"));
    assert!(records.iter().any(|r| r["path"] == item.path.as_str() && r["size"] == 5_000), "{json}");

    let status = ok(dmz, &token, &["status"]).await;
    assert!(status.contains("role       dmz") && status.contains("link       up"), "{status}");
    assert!(status.lines().any(|l| l.starts_with("to-inner")), "{status}");
    let queues = ok(dmz, &token, &["queues"]).await;
    assert!(queues.starts_with("QUEUE"), "{queues}");
    assert!(queues.lines().any(|l| l.starts_with("to-inner") && l.split_whitespace().nth(1) == Some("0")), "{queues}");
    let inner_queues = ok(inner, &token, &["queues"]).await;
    assert!(inner_queues.lines().any(|l| l.starts_with("inbound")), "{inner_queues}");

    let channels = ok(dmz, &token, &["channels"]).await;
    assert!(channels.lines().any(|l| l.starts_with("demo") && l.contains("demo-user")), "{channels}");
    assert!(ok(inner, &token, &["channels"]).await.lines().any(|l| l.starts_with("demo ")));
    let stats = ok(inner, &token, &["stats"]).await;
    assert!(stats.contains("deliveries:") && stats.contains("demo"), "{stats}");

    assert_eq!(ok(dmz, &token, &["pause"]).await, "partner listeners paused, 0 active connection(s)\n");
    assert_eq!(cluster.dmz_status().await.expect("status")["partner_listeners"], "paused");
    assert!(ok(dmz, &token, &["resume"]).await.starts_with("partner listeners open"));
}

#[tokio::test]
async fn ctl_with_a_wrong_or_missing_token_exits_1() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let wrong = cluster.dir.path().join("wrong.token");
    std::fs::write(&wrong, "not-the-token-of-this-cluster\n").expect("write");
    let output = ctl(&cluster.dmz_admin, Some(&wrong), &["status"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, "error: the admin API refused the token (401)\n");
    assert!(output.stdout.is_empty());

    let output = ctl(&cluster.inner_admin, None, &["status"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ctl needs --token-file FILE or PORTCULLIS_ADMIN_TOKEN"));

    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    let output = ctl(&closed, Some(&wrong), &["status"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.starts_with("error: cannot reach the admin API at http://127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("not-the-token"), "{stderr}");
}
