//! Messages end to end over the real server: what arrives, what is refused, and when
//! nothing may be committed.

mod common;

use std::sync::atomic::Ordering;

use common::{start, stuff};

const MESSAGE: &[u8] = b"From: sender@partner.test\r\n\
To: orders@acme.test\r\n\
Message-ID: <order-17@partner.test>\r\n\
Subject: dots\r\n\
\r\n\
.leading dot\r\n\
..two leading dots\r\n\
.\r\n\
a line with a bare LF\n.\nstill the same message\r\n\
last line\r\n";

#[tokio::test]
async fn dot_stuffed_message_arrives_byte_identical() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;

    let (code, text) = client.deliver("sender@partner.test", &["orders@acme.test"], &stuff(MESSAGE)).await;

    assert_eq!(code, 250, "{text}");
    let committed = server.gateway.committed();
    assert_eq!(committed.len(), 1);
    let message = &committed[0];
    assert_eq!(message.bytes, MESSAGE);
    assert_eq!(text, format!("250 2.0.0 OK queued as {}\r\n", message.id));
    assert_eq!(message.message_id.as_deref(), Some("<order-17@partner.test>"));
    let envelope = &message.envelope;
    assert_eq!(envelope.channel, "acme");
    assert_eq!(
        (envelope.from.as_str(), envelope.recipients.as_slice()),
        ("sender@partner.test", &["orders@acme.test".to_owned()][..])
    );
    assert_eq!((envelope.helo.as_str(), envelope.login.as_deref(), envelope.tls), ("client.test", None, false));
    assert_eq!(envelope.peer.protocol, envelope::Protocol::Smtp);
    client.cmd("QUIT", 221).await;
    assert!(client.closed().await);
}

#[tokio::test]
async fn pipelined_commands_get_their_replies_in_order() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;

    let batch = "MAIL FROM:<s@partner.test>\r\nRCPT TO:<one@acme.test>\r\nRCPT TO:<nobody@nowhere.test>\r\n\
                 RCPT TO:<two@acme.test>\r\nDATA\r\n";
    client.send(batch.as_bytes()).await.expect("send");
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(client.reply().await.0);
    }
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    // The end of data and the next transaction, pipelined too.
    let next = b"hello\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<three@acme.test>\r\nDATA\r\n";
    client.send(next).await.expect("send");
    let codes: Vec<u16> =
        [client.reply().await.0, client.reply().await.0, client.reply().await.0, client.reply().await.0].into();
    assert_eq!(codes, [250, 250, 250, 354]);
    client.send(b"second\r\n.\r\nQUIT\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 250);
    assert_eq!(client.reply().await.0, 221);

    let committed = server.gateway.committed();
    assert_eq!(committed.len(), 2);
    assert_eq!(committed[0].envelope.recipients, ["one@acme.test", "two@acme.test"]);
    assert_eq!(committed[0].bytes, b"hello\r\n");
    assert_eq!((committed[1].envelope.from.as_str(), committed[1].bytes.as_slice()), ("", &b"second\r\n"[..]));
}

#[tokio::test]
async fn smuggled_end_of_data_stays_in_the_message() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let smuggled =
        b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@x.test>\nRCPT TO:<victim@acme.test>\nDATA\nforged\n.\n\r\n.\r\n";

    let (code, _) = client.deliver("s@partner.test", &["orders@acme.test"], smuggled).await;

    assert_eq!(code, 250);
    client.cmd("NOOP", 250).await;
    let committed = server.gateway.committed();
    assert_eq!(committed.len(), 1, "one message, not two");
    assert_eq!(committed[0].bytes, &smuggled[..smuggled.len() - 3]);
}

#[tokio::test]
async fn recipient_of_a_second_channel_waits_for_its_own_transaction() {
    let server = start(|c| c.tls = None).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    client.cmd("MAIL FROM:<s@partner.test>", 250).await;
    client.cmd("RCPT TO:<a@acme.test>", 250).await;
    client.cmd("RCPT TO:<b@bank.test>", 530).await;
    let text = client.cmd("RCPT TO:<b@ACME.test>", 250).await;
    assert_eq!(text, "250 2.1.5 recipient OK\r\n");
    client.cmd("RCPT TO:<a@acme.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(b"x\r\n.\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 250);
    assert_eq!(server.gateway.committed()[0].envelope.recipients, ["a@acme.test", "b@ACME.test"]);
}

#[tokio::test]
async fn authenticated_second_channel_gets_452() {
    let server = start(|c| {
        c.tls = None;
        c.auth_without_tls = true;
    })
    .await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    client.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235).await;
    client.cmd("MAIL FROM:<s@partner.test>", 250).await;
    client.cmd("RCPT TO:<a@acme.test>", 250).await;
    let text = client.cmd("RCPT TO:<b@bank.test>", 452).await;
    assert_eq!(text, "452 4.5.3 recipient of another channel: send it in a separate transaction\r\n");
    client.cmd("DATA", 354).await;
    client.send(b"first\r\n.\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 250);
    let (code, _) = client.deliver("s@partner.test", &["b@bank.test"], b"second\r\n.\r\n").await;
    assert_eq!(code, 250);
    let channels: Vec<String> = server.gateway.committed().iter().map(|m| m.envelope.channel.clone()).collect();
    assert_eq!(channels, ["acme", "bank"]);
    assert_eq!(server.gateway.committed()[1].envelope.login.as_deref(), Some("alice"));
}

#[tokio::test]
async fn oversize_message_is_refused_and_nothing_committed() {
    let server = start(|c| c.max_message_bytes = 10_000).await;
    let mut client = server.connect().await;
    let ehlo = client.cmd("EHLO client.test", 250).await;
    assert!(ehlo.contains("250-SIZE 10000\r\n"), "{ehlo}");
    client.cmd("MAIL FROM:<s@partner.test> SIZE=10001", 552).await;

    let big = stuff(&b"0123456789012345678901234567890123456789\r\n".repeat(300));
    let (code, text) = client.deliver("s@partner.test", &["a@acme.test"], &big).await;

    assert_eq!(code, 552, "{text}");
    assert!(text.starts_with("552 5.3.4 "), "{text}");
    let counts = server.gateway.settle(|c| c.abandoned == 1).await;
    assert_eq!(counts.committed, 0);
    // The session goes on: the next message fits.
    let (code, _) = client.deliver("s@partner.test", &["a@acme.test"], b"small\r\n.\r\n").await;
    assert_eq!(code, 250);
}

#[tokio::test]
async fn long_text_line_is_refused_with_554() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let data = [b"short\r\n".to_vec(), vec![b'x'; 999], b"\r\n.\r\n".to_vec()].concat();

    let (code, text) = client.deliver("s@partner.test", &["a@acme.test"], &data).await;

    assert_eq!(text, "554 5.6.0 message has a line longer than 1000 octets\r\n", "{code}");
    assert!(server.gateway.committed().is_empty());
}

#[tokio::test]
async fn full_spool_is_452_at_data() {
    let server = start(|_| {}).await;
    server.gateway.shared.spool_full.store(true, Ordering::SeqCst);
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    client.cmd("MAIL FROM:<s@partner.test>", 250).await;
    client.cmd("RCPT TO:<a@acme.test>", 250).await;
    let text = client.cmd("DATA", 452).await;
    assert_eq!(text, "452 4.3.1 insufficient system storage\r\n");
    client.cmd("RCPT TO:<a@acme.test>", 503).await;
    assert_eq!(server.gateway.counts().begun, 0);
}

#[tokio::test]
async fn quota_hit_midway_is_452_after_the_data() {
    let server = start(|_| {}).await;
    server.gateway.shared.quota.store(100_000, Ordering::SeqCst);
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let data = stuff(&b"y".repeat(998).iter().chain(b"\r\n").copied().collect::<Vec<u8>>().repeat(1000));

    let (code, _) = client.deliver("s@partner.test", &["a@acme.test"], &data).await;

    assert_eq!(code, 452);
    assert_eq!(server.gateway.settle(|c| c.abandoned == 1).await.committed, 0);
    client.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn failing_commit_is_451_and_not_250() {
    let server = start(|_| {}).await;
    server.gateway.shared.fail_commit.store(true, Ordering::SeqCst);
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let (code, text) = client.deliver("s@partner.test", &["a@acme.test"], b"x\r\n.\r\n").await;
    assert_eq!(text, "451 4.3.0 temporarily unavailable, try again later\r\n", "{code}");
    assert!(server.gateway.committed().is_empty());
}

#[tokio::test]
async fn dropped_connection_mid_data_commits_nothing() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    client.cmd("MAIL FROM:<s@partner.test>", 250).await;
    client.cmd("RCPT TO:<a@acme.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(&b"partial line\r\n".repeat(50_000)).await.expect("send");
    client.send(b"\r\n.").await.expect("send");
    drop(client);

    let counts = server.gateway.settle(|c| c.abandoned == 1).await;
    assert_eq!((counts.begun, counts.committed), (1, 0));
}

#[tokio::test]
async fn large_message_streams_in_pieces() {
    let server = start(|c| c.max_message_bytes = 64 * 1024 * 1024).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    let message = line.repeat(16 * 1024 * 1024 / line.len());

    let (code, text) = client.deliver("s@partner.test", &["a@acme.test"], &stuff(&message)).await;

    assert_eq!(code, 250, "{text}");
    assert!(server.gateway.committed()[0].bytes == message);
    let largest = server.gateway.shared.largest_write.load(Ordering::SeqCst);
    assert!(largest <= 512 * 1024, "a write of {largest} bytes: the message was not streamed");
}
