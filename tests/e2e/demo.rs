//! `portcullis demo` per the demo contract: both nodes on 127.0.0.1, a delivery to
//! channel `demo` (injected, and a mail by swaks) lands in `<data>/inner/inbox/demo/`,
//! Ctrl-C stops cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn demo_delivers_and_stops_cleanly_on_ctrl_c() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["demo", "--data"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let client = reqwest::Client::new();
    let dmz_admin = "http://127.0.0.1:9000";
    wait_for("the demo to serve channel demo", Duration::from_secs(30), || async {
        let status = inject(&client, dmz_admin, "demo", "hello.txt", b"hello, partner".to_vec()).await.status?;
        (status == 201).then_some(())
    })
    .await;
    let file = data.path().join("inner/inbox/demo/hello.txt");
    let bytes =
        wait_for("hello.txt in the inbox", Duration::from_secs(30), || async { std::fs::read(&file).ok() }).await;
    assert_eq!(bytes, b"hello, partner");
    let mail = Command::new("swaks")
        .args(["--server", "127.0.0.1:2525", "--from", "a@partner.example", "--to", "demo@dmz.localhost"])
        .args(["--body", "mail for the demo", "--timeout", "30"])
        .output()
        .expect("swaks (apt: swaks)");
    assert!(mail.status.success(), "swaks to the demo failed:\n{}", String::from_utf8_lossy(&mail.stdout));
    let inbox = data.path().join("inner/inbox/demo");
    let eml = wait_for("a mail in the inbox", Duration::from_secs(30), || async {
        let entries = std::fs::read_dir(&inbox).ok()?;
        entries.filter_map(Result::ok).map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "eml"))
    })
    .await;
    let text = std::fs::read_to_string(&eml).expect("mail");
    assert!(text.contains("mail for the demo"), "{text}");

    let _ = Command::new("kill").args(["-INT", &demo.id().to_string()]).status();
    let status = demo.wait().expect("demo exits");
    assert!(status.success(), "demo did not stop cleanly: {status}");
    let mut banner = String::new();
    std::io::Read::read_to_string(demo.stdout.as_mut().expect("stdout"), &mut banner).expect("banner");
    let expected =
        ["127.0.0.1:8020", "127.0.0.1:2525", "http://127.0.0.1:9000", "http://127.0.0.1:9001", "demo / password demo"];
    for expected in expected {
        assert!(banner.contains(expected), "banner lacks {expected:?}:\n{banner}");
    }
}
