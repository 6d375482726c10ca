//! Shutdown: idle sessions are told at once, a message in progress may finish within
//! the grace and still gets its 250, and whatever is left after the grace is cut.

mod common;

use std::time::Duration;

use common::start;

#[tokio::test]
async fn shutdown_drains_a_message_in_progress() {
    let server = start(|c| c.drain_grace = Duration::from_secs(20)).await;
    let mut sending = server.connect().await;
    sending.cmd("EHLO client.test", 250).await;
    sending.cmd("MAIL FROM:<s@partner.test>", 250).await;
    sending.cmd("RCPT TO:<a@acme.test>", 250).await;
    sending.cmd("DATA", 354).await;
    sending.send(b"first half\r\n").await.expect("send");
    let mut idle = server.connect().await;
    idle.cmd("EHLO client.test", 250).await;

    server.shutdown.cancel();

    let (code, text) = idle.reply().await;
    assert_eq!((code, text.as_str()), (421, "421 4.3.2 shutting down\r\n"));
    assert!(idle.closed().await);
    assert!(!server.task.is_finished(), "serve must wait for the message in progress");
    sending.send(b"second half\r\n.\r\n").await.expect("send");
    let (code, text) = sending.reply().await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(sending.reply().await.0, 421);
    assert!(sending.closed().await);
    assert_eq!(server.gateway.committed()[0].bytes, b"first half\r\nsecond half\r\n");
    server.stop().await;
}

#[tokio::test]
async fn a_message_that_does_not_finish_within_the_grace_is_cut() {
    let server = start(|c| c.drain_grace = Duration::from_millis(200)).await;
    let mut sending = server.connect().await;
    sending.cmd("EHLO client.test", 250).await;
    sending.cmd("MAIL FROM:<s@partner.test>", 250).await;
    sending.cmd("RCPT TO:<a@acme.test>", 250).await;
    sending.cmd("DATA", 354).await;
    sending.send(b"never finished\r\n").await.expect("send");

    let gateway = server.gateway.clone();
    server.stop().await;

    assert!(sending.closed().await);
    let counts = gateway.settle(|c| c.abandoned == 1).await;
    assert_eq!(counts.committed, 0);
}

#[tokio::test]
async fn no_new_connections_after_shutdown() {
    let server = start(|_| {}).await;
    let addr = server.addr;
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
