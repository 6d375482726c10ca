//! `portcullis demo` per the demo contract: both nodes on 127.0.0.1, a delivery to
//! channel `demo` (injected, a mail by swaks, an AS2 message by pyas2lib with the
//! identities the demo made) lands in `<data>/inner/inbox/demo/`, Ctrl-C stops cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::as2;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn demo_delivers_and_stops_cleanly_on_ctrl_c() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut demo = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["demo", "--data"])
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start demo"),
    );
    let dmz_admin = "http://127.0.0.1:9000";
    let token_file = data.path().join("admin.token");
    let token = wait_for("the demo's admin token", Duration::from_secs(30), || async {
        std::fs::read_to_string(&token_file).ok().filter(|t| t.ends_with('\n'))
    })
    .await;
    let client = client_with_token(token.trim());
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
    as2_to_the_demo(&client, data.path()).await;

    let _ = Command::new("kill").args(["-INT", &demo.0.id().to_string()]).status();
    let status = demo.0.wait().expect("demo exits");
    assert!(status.success(), "demo did not stop cleanly: {status}");
    let mut banner = String::new();
    std::io::Read::read_to_string(demo.0.stdout.as_mut().expect("stdout"), &mut banner).expect("banner");
    let expected =
        ["127.0.0.1:8020", "127.0.0.1:2525", "http://127.0.0.1:9000", "http://127.0.0.1:9001", "demo / password demo"];
    for expected in expected {
        assert!(banner.contains(expected), "banner lacks {expected:?}:\n{banner}");
    }
}

/// The demo process, killed if the test fails before stopping it (it holds the
/// demo's fixed ports; left running, it would fail every later run).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// DEMO-PARTNER sends a signed, encrypted AS2 message with the identities the demo
/// made; the MDN says processed with the right MIC and the payload lands.
async fn as2_to_the_demo(client: &reqwest::Client, data: &std::path::Path) {
    let keys = data.join("inner/as2");
    let work = tempfile::tempdir().expect("tempdir");
    let partner = work.path().join("partner.pem");
    let pem = [
        std::fs::read(keys.join("demo-partner.key")).expect("key"),
        std::fs::read(keys.join("demo-partner.pem")).expect("cert"),
    ];
    std::fs::write(&partner, pem.concat()).expect("pyas2lib key file");
    let (ours, bytes) = (keys.join("portcullis.pem"), payload(77, 20_000));
    let args =
        ["--sender", "DEMO-PARTNER", "--receiver", "PORTCULLIS", "--sign", "--encrypt", "--filename", "demo-as2.bin"];
    let (sign, encrypt) = (partner.to_str().expect("utf-8"), ours.to_str().expect("utf-8"));
    let built = as2::build(
        work.path(),
        "demo",
        &bytes,
        &[&args[..], &["--sign-key", sign, "--encrypt-cert", encrypt]].concat(),
    );
    let (status, mdn) = as2::post(client, "http://127.0.0.1:4080/as2", &built.headers, built.body.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&mdn));
    let verdict = as2::verdict(work.path(), &built, &mdn, &ours);
    assert_eq!((&verdict["status"], &verdict["mic_matched"]), (&"processed".into(), &true.into()), "{verdict}");
    let file = data.join("inner/inbox/demo/demo-as2.bin");
    let got =
        wait_for("the AS2 payload in the inbox", Duration::from_secs(30), || async { std::fs::read(&file).ok() }).await;
    assert!(got == bytes, "the AS2 payload arrived changed");
}
