//! STARTTLS with a rustls client trusting the test certificate.

mod common;

use common::{Client, start, stuff};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn starttls_then_auth_plain_then_a_message() {
    let server = start(|_| {}).await;
    let mut plain = server.connect().await;
    let ehlo = plain.cmd("EHLO client.test", 250).await;
    assert!(ehlo.contains("250-STARTTLS\r\n") && !ehlo.contains("AUTH"), "{ehlo}");
    plain.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 538).await;
    plain.cmd("STARTTLS", 220).await;
    let mut tls = plain.upgrade().await;

    tls.cmd("MAIL FROM:<s@partner.test>", 503).await;
    let ehlo = tls.cmd("EHLO client.test", 250).await;
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n") && !ehlo.contains("STARTTLS"), "{ehlo}");
    tls.cmd("STARTTLS", 503).await;
    tls.cmd("MAIL FROM:<s@partner.test>", 250).await;
    tls.cmd("RCPT TO:<treasury@bank.test>", 530).await;
    tls.cmd("RSET", 250).await;
    tls.cmd("AUTH PLAIN AGFsaWNlAHdyb25n", 535).await;
    tls.cmd("AUTH PLAIN", 334).await;
    tls.cmd("AGFsaWNlAHNlY3JldA==", 235).await;
    let message = b"Subject: statement\r\n\r\n.balance 100\r\n";
    let (code, text) = tls.deliver("s@partner.test", &["treasury@bank.test"], &stuff(message)).await;
    assert_eq!(code, 250, "{text}");
    tls.cmd("QUIT", 221).await;

    let committed = server.gateway.committed();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].bytes, message);
    let envelope = &committed[0].envelope;
    assert_eq!((envelope.channel.as_str(), envelope.login.as_deref(), envelope.tls), ("bank", Some("alice"), true));
}

#[tokio::test]
async fn auth_login_under_tls() {
    let server = start(|_| {}).await;
    let mut tls = server.connect().await.starttls().await;
    tls.cmd("EHLO client.test", 250).await;
    let prompt = tls.cmd("AUTH LOGIN", 334).await;
    assert_eq!(prompt, "334 VXNlcm5hbWU6\r\n");
    let prompt = tls.cmd("YWxpY2U=", 334).await;
    assert_eq!(prompt, "334 UGFzc3dvcmQ6\r\n");
    tls.cmd("c2VjcmV0", 235).await;
    tls.cmd("AUTH LOGIN", 503).await;
}

#[tokio::test]
async fn plaintext_injected_after_starttls_is_ignored() {
    let server = start(|_| {}).await;
    let mut plain = server.connect().await;
    plain.cmd("EHLO client.test", 250).await;
    // The classic injection: commands in the same packet as STARTTLS.
    plain.send(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<a@acme.test>\r\n").await.expect("send");
    assert_eq!(plain.reply().await.0, 220);
    let mut tls = plain.upgrade().await;

    // Had the injected commands run, this would be 503 (nested MAIL) or the replies to
    // them would arrive first; instead the session is fresh and wants EHLO.
    tls.cmd("RCPT TO:<a@acme.test>", 503).await;
    tls.cmd("EHLO client.test", 250).await;
    tls.cmd("MAIL FROM:<good@partner.test>", 250).await;
    tls.cmd("RCPT TO:<a@acme.test>", 250).await;
    tls.cmd("DATA", 354).await;
    tls.send(b"ok\r\n.\r\n").await.expect("send");
    assert_eq!(tls.reply().await.0, 250);
    assert_eq!(server.gateway.committed()[0].envelope.from, "good@partner.test");
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_closes_only_that_connection() {
    let server = start(|_| {}).await;
    let mut plain = server.connect().await;
    plain.cmd("EHLO client.test", 250).await;
    plain.cmd("STARTTLS", 220).await;
    plain.send(b"this is not a TLS ClientHello\r\n\r\n").await.expect("send");
    assert!(plain.closed().await);

    let mut next = server.connect().await;
    next.cmd("EHLO client.test", 250).await;
    let mut tls = next.starttls().await;
    tls.cmd("EHLO client.test", 250).await;
}

#[tokio::test]
async fn starttls_not_configured_or_with_arguments() {
    let server = start(|c| c.tls = None).await;
    let mut plain = server.connect().await;
    let ehlo = plain.cmd("EHLO client.test", 250).await;
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    plain.cmd("STARTTLS", 502).await;

    let server = start(|_| {}).await;
    let mut plain = server.connect().await;
    plain.cmd("EHLO client.test", 250).await;
    plain.cmd("STARTTLS now", 501).await;
    plain.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn client_that_hangs_up_during_the_handshake() {
    let server = start(|_| {}).await;
    let mut plain = Client::connect(server.addr).await;
    plain.cmd("EHLO client.test", 250).await;
    plain.cmd("STARTTLS", 220).await;
    let mut raw = plain.upgrade_raw();
    raw.shutdown().await.expect("shutdown");
    drop(raw);
    let mut next = server.connect().await;
    next.cmd("NOOP", 250).await;
}
