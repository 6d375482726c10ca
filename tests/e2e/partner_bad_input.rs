//! Hostile and broken partners: path escapes, symlinks, control characters, another
//! partner's directories, wrong passwords, garbage instead of SSH or FTP. Each gets
//! the protocol's refusal and nobody else is disturbed.

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use serde_json::Value;

use crate::support::clients::{PASSWORD, assert_ok, curl, paramiko, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload};

fn probe(cluster: &Cluster, user: &str, action: &[&str]) -> Value {
    let port = cluster.ports.sftp.to_string();
    let mut args = vec!["probe", "--port", &port, "--user", user, "--password", PASSWORD];
    args.extend_from_slice(action);
    let output = paramiko(&args);
    assert_ok("paramiko probe", &output, cluster);
    serde_json::from_slice(&output.stdout).expect("probe json")
}

/// The SFTP status paramiko saw, as an errno: 2 = no such file, 13 = permission denied.
const NO_SUCH_FILE: i64 = 2;
const PERMISSION_DENIED: i64 = 13;

fn assert_refused(result: &Value, errno: Option<i64>, what: &str) {
    assert_eq!(result["ok"], false, "{what} must be refused: {result}");
    assert_eq!(result["errno"].as_i64(), errno, "{what}: wrong refusal {result}");
}

#[tokio::test]
async fn sftp_escapes_symlinks_control_characters_and_other_partners_are_refused() {
    let options = ClusterOptions { channels: vec!["demo".into(), "other".into()], ..ClusterOptions::default() };
    let cluster = Cluster::start(options).await;
    assert_eq!(probe(&cluster, "other-user", &["mkdir", "secret"])["ok"], true);
    let denied = Some(PERMISSION_DENIED);
    for path in ["../escape.txt", "/../../etc/passwd", "a/../../x"] {
        assert_refused(&probe(&cluster, "demo-user", &["put", path]), denied, path);
    }
    let missing = Some(NO_SUCH_FILE);
    assert_refused(&probe(&cluster, "demo-user", &["get", "/etc/passwd"]), missing, "reading /etc/passwd");
    assert_refused(&probe(&cluster, "demo-user", &["put", "/etc/passwd"]), missing, "writing /etc/passwd");
    let symlink = probe(&cluster, "demo-user", &["symlink", "/etc/passwd", "link"]);
    assert_eq!(symlink["ok"], false, "a symlink must be refused: {symlink}");
    assert_refused(&probe(&cluster, "demo-user", &["put", "bad\u{1}name"]), denied, "a control character");
    assert_refused(&probe(&cluster, "demo-user", &["put", "new\nline"]), denied, "a newline");
    assert_refused(&probe(&cluster, "demo-user", &["ls", "secret"]), missing, "another partner's directory");
    assert_refused(&probe(&cluster, "demo-user", &["put", "secret/x"]), missing, "a put into another's directory");
    let fine = probe(&cluster, "demo-user", &["put", "fine.txt"]);
    assert_eq!(fine["ok"], true, "{fine}");
    let item = Item { channel: "demo".into(), path: "fine.txt".into(), bytes: b"probe".to_vec() };
    assert_delivered(&cluster, &[item], &[]).await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_a_delay_while_others_go_on() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let port = cluster.ports.sftp.to_string();
    let wrong = paramiko(&["login", "--port", &port, "--user", "demo-user", "--password", "wrong"]);
    let wrong: Value = serde_json::from_slice(&wrong.stdout).expect("login json");
    assert_eq!(wrong["ok"], false);
    assert!(wrong["seconds"].as_f64().is_some_and(|s| s >= 0.9), "refusal came without a delay: {wrong}");
    let url = format!("ftp://127.0.0.1:{}/x.txt", cluster.ports.ftp);
    let bad = curl(&["-u", "demo-user:wrong", "-T", "/dev/null", &url]);
    assert!(!bad.status.success(), "FTP with a wrong password must fail");
    let right = paramiko(&["login", "--port", &port, "--user", "demo-user", "--password", PASSWORD]);
    assert_eq!(serde_json::from_slice::<Value>(&right.stdout).expect("json")["ok"], true);
}

#[tokio::test]
async fn garbage_instead_of_ssh_or_ftp_is_disconnected_and_harms_nobody() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    for port in [cluster.ports.sftp, cluster.ports.ftp, cluster.ports.internal_sftp] {
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        socket.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let garbage = payload(u64::from(port), 64 * 1024);
        let _ = socket.write_all(b"\x00\xff GARBAGE \r\n");
        let _ = socket.write_all(&garbage);
        let mut sink = Vec::new();
        let read = socket.read_to_end(&mut sink);
        let timed_out = read.as_ref().is_err_and(|e| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
        assert!(!timed_out, "port {port}: the server kept a garbage-talking connection open");
    }
    let local = tempfile::tempdir().expect("tempdir");
    let items = vec![Item { channel: "demo".into(), path: "after.txt".into(), bytes: payload(7, 999) }];
    write_items(local.path(), &items);
    let file = local.path().join("after.txt").to_string_lossy().into_owned();
    let url = format!("ftp://127.0.0.1:{}/after.txt", cluster.ports.ftp);
    assert_ok("curl ftp after garbage", &curl(&["-u", &format!("demo-user:{PASSWORD}"), "-T", &file, &url]), &cluster);
    assert_delivered(&cluster, &items, &[]).await;
}
