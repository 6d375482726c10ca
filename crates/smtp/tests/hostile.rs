//! Clients that misbehave: the right refusal, bounded memory, and the server keeps
//! serving the next client.

mod common;

use std::time::Duration;

use common::{Client, TestServer, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A well-behaved client still gets served.
async fn still_serves(server: &TestServer) {
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let (code, _) = client.deliver("s@partner.test", &["a@acme.test"], b"fine\r\n.\r\n").await;
    assert_eq!(code, 250);
}

#[tokio::test]
async fn commands_before_ehlo_and_garbage() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    for (line, code) in [
        ("MAIL FROM:<s@partner.test>", 503),
        ("RCPT TO:<a@acme.test>", 503),
        ("DATA", 503),
        ("AUTH PLAIN", 503),
        ("EHLO", 501),
        ("HELLO there", 500),
        ("BDAT 5 LAST", 500),
    ] {
        client.cmd(line, code).await;
    }
    client.send(b"\xff\xfe\x00\x01garbage\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 500);
    client.cmd("HELO client.test", 250).await;
    client.cmd("MAIL FROM:<s@partner.test> SMTPUTF8", 555).await;
    still_serves(&server).await;
}

#[tokio::test]
async fn over_long_command_line_is_500_and_the_session_goes_on() {
    let server = start(|_| {}).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    let long = format!("NOOP {}", "x".repeat(5000));
    let text = client.cmd(&long, 500).await;
    assert_eq!(text, "500 5.5.2 line too long\r\n");
    let path = format!("MAIL FROM:<{}@partner.test>", "l".repeat(65));
    client.cmd(&path, 501).await;
    client.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn endless_line_ends_the_session_with_421() {
    let server = start(|_| {}).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let junk = vec![b'A'; 1024 * 1024];
        for _ in 0..10 {
            if write.write_all(&junk).await.is_err() {
                return;
            }
        }
    });
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut received)).await;
    let text = String::from_utf8_lossy(&received);
    assert_eq!(text, "220 mx.test ESMTP portcullis\r\n421 4.7.0 line too long, closing\r\n");
    let _ = writer.await;
    still_serves(&server).await;
}

#[tokio::test]
async fn too_many_errors_end_the_session() {
    let server = start(|c| c.max_errors = 3).await;
    let mut client = server.connect().await;
    client.cmd("XYZZY", 500).await;
    client.cmd("RCPT TO:<a@acme.test>", 503).await;
    client.send(b"PLUGH\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 500);
    let (code, text) = client.reply().await;
    assert_eq!((code, text.as_str()), (421, "421 4.7.0 too many errors\r\n"));
    assert!(client.closed().await);
    still_serves(&server).await;
}

#[tokio::test]
async fn unknown_recipients_count_as_errors() {
    let server = start(|c| c.max_errors = 2).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    client.cmd("MAIL FROM:<s@partner.test>", 250).await;
    client.cmd("RCPT TO:<guess1@nowhere.test>", 550).await;
    client.send(b"RCPT TO:<guess2@nowhere.test>\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 550);
    assert_eq!(client.reply().await.0, 421);
    assert!(client.closed().await);
}

#[tokio::test]
async fn session_limit_refuses_with_421() {
    let server = start(|c| c.max_sessions = 2).await;
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    let mut third = Client::connect_raw(server.addr).await;
    let (code, text) = third.reply().await;
    assert_eq!((code, text.as_str()), (421, "421 4.3.2 too many connections\r\n"));
    assert!(third.closed().await);
    first.cmd("QUIT", 221).await;
    assert!(first.closed().await);
    second.cmd("NOOP", 250).await;
    // The slot is free again once the first session has ended.
    let mut fourth = None;
    for _ in 0..1000 {
        let mut client = Client::connect_raw(server.addr).await;
        match client.reply().await.0 {
            220 => {
                fourth = Some(client);
                break;
            }
            421 => tokio::task::yield_now().await,
            other => panic!("unexpected greeting {other}"),
        }
    }
    let mut fourth = fourth.expect("a free slot after the first session ended");
    fourth.cmd("EHLO client.test", 250).await;
}

#[tokio::test]
async fn idle_client_gets_421() {
    let server = start(|c| c.idle_timeout = Duration::from_millis(300)).await;
    let mut client = server.connect().await;
    let (code, text) = client.reply().await;
    assert_eq!((code, text.as_str()), (421, "421 4.4.2 idle timeout\r\n"));
    assert!(client.closed().await);
}

#[tokio::test]
async fn idle_client_in_data_gets_421_and_nothing_is_committed() {
    let server = start(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let mut client = server.connect().await;
    client.cmd("EHLO client.test", 250).await;
    client.cmd("MAIL FROM:<s@partner.test>", 250).await;
    client.cmd("RCPT TO:<a@acme.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(b"half a message\r\n").await.expect("send");
    assert_eq!(client.reply().await.0, 421);
    let counts = server.gateway.settle(|c| c.abandoned == 1).await;
    assert_eq!(counts.committed, 0);
}

#[tokio::test]
async fn session_too_long_gets_421() {
    let server = start(|c| c.session_timeout = Duration::from_millis(300)).await;
    let mut client = server.connect().await;
    let (code, text) = client.reply().await;
    assert_eq!((code, text.as_str()), (421, "421 4.4.2 session too long\r\n"));
}
