//! The connection over a scripted stream: what goes out in which write, and the
//! timeouts under paused time.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use async_trait::async_trait;
use envelope::{EnvelopeId, Sha256};
use partner::{Login, MailEnvelope, Receipt, RecipientError};
use tokio::io::ReadBuf;

use super::*;

/// Hands out `reads` one per `poll_read`, then ends the stream (or, with `hang`, never
/// answers again); records every `poll_write` separately.
struct Script {
    reads: VecDeque<Vec<u8>>,
    hang: bool,
    writes: Arc<Mutex<Vec<String>>>,
}

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.reads.pop_front() {
            Some(mut chunk) => {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.reads.push_front(chunk.split_off(n));
                }
                Poll::Ready(Ok(()))
            }
            None if self.hang => Poll::Pending,
            None => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Script {
    fn poll_write(self: Pin<&mut Self>, _: &mut TaskContext<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.writes.lock().expect("writes").push(String::from_utf8_lossy(buf).into_owned());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `*@a.test` is channel `a`; messages are kept in `messages` on commit.
#[derive(Default)]
struct Gateway {
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
}

struct Upload {
    bytes: Vec<u8>,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[async_trait]
impl MailGateway for Gateway {
    async fn authenticate(&self, _: Peer, _: &str, _: &str) -> Option<Login> {
        None
    }

    fn recipient(&self, _: Peer, address: &str, _: Option<&Login>) -> Result<String, RecipientError> {
        address.ends_with("@a.test").then(|| "a".to_owned()).ok_or(RecipientError::Unknown)
    }

    async fn begin_message(&self, _: MailEnvelope) -> Result<Box<dyn MessageUpload>, FsError> {
        Ok(Box::new(Upload { bytes: Vec::new(), messages: self.messages.clone() }))
    }
}

#[async_trait]
impl MessageUpload for Upload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn written(&self) -> u64 {
        self.bytes.len() as u64
    }

    async fn commit(self: Box<Self>, _: Option<String>) -> Result<Receipt, FsError> {
        let size = self.bytes.len() as u64;
        self.messages.lock().expect("messages").push(self.bytes);
        Ok(Receipt { id: EnvelopeId::from_u128(1), size, sha256: Sha256([0; 32]) })
    }
}

struct Outcome {
    flow: Flow,
    writes: Vec<String>,
    messages: Vec<Vec<u8>>,
}

async fn serve(reads: &[&[u8]], hang: bool, config: SmtpConfig, deadline: Option<Instant>) -> Outcome {
    let writes = Arc::new(Mutex::new(Vec::new()));
    let script = Script { reads: reads.iter().map(|r| r.to_vec()).collect(), hang, writes: writes.clone() };
    let gateway = Gateway::default();
    let messages = gateway.messages.clone();
    let shared = Shared { config: Arc::new(config), gateway: Arc::new(gateway), tls: None };
    let shutdown = CancellationToken::new();
    let context = Context { shared: &shared, shutdown: &shutdown, deadline };
    let peer = Peer { remote: "192.0.2.1:1000".parse().expect("address"), protocol: Protocol::Smtp };
    let mut session = Session::new(shared.config.clone(), peer);
    let flow = Conn::new(script, &shared.config).serve(&mut session, &context).await;
    let writes = writes.lock().expect("writes").clone();
    let messages = messages.lock().expect("messages").clone();
    Outcome { flow, writes, messages }
}

fn config() -> SmtpConfig {
    SmtpConfig { hostname: "mx.test".into(), ..SmtpConfig::default() }
}

#[tokio::test]
async fn pipelined_replies_go_out_in_one_write() {
    let batch = b"HELO c.test\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<r@a.test>\r\nRCPT TO:<r@b.test>\r\nDATA\r\n";
    let outcome =
        serve(&[batch, b"line 1\r\n..line 2\r\n", b".\r\nNOOP\r\nQUIT\r\nNOOP\r\n"], false, config(), None).await;

    let queued = format!("250 2.0.0 OK queued as {}\r\n", EnvelopeId::from_u128(1));
    assert_eq!(
        outcome.writes,
        [
            "220 mx.test ESMTP portcullis\r\n".to_owned(),
            "250 mx.test\r\n250 2.1.0 sender OK\r\n250 2.1.5 recipient OK\r\n550 5.1.1 no such recipient\r\n\
             354 End data with <CR><LF>.<CR><LF>\r\n"
                .to_owned(),
            format!("{queued}250 2.0.0 OK\r\n221 2.0.0 bye\r\n"),
        ]
    );
    assert_eq!(outcome.messages, [b"line 1\r\n.line 2\r\n".to_vec()]);
    assert_eq!(outcome.flow, Flow::Closed);
}

#[tokio::test]
async fn end_of_stream_mid_data_commits_nothing() {
    let outcome =
        serve(&[b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<r@a.test>\r\nDATA\r\n", b"unfinished\r\n"], false, config(), None)
            .await;
    assert_eq!(outcome.writes.len(), 2);
    assert!(outcome.messages.is_empty());
}

#[tokio::test]
async fn starttls_stops_reading_the_buffer() {
    let config = SmtpConfig { tls: Some(crate::session::tests::tls_config()), ..config() };
    let outcome = serve(&[b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"], false, config, None).await;
    assert_eq!(outcome.flow, Flow::StartTls);
    let last = outcome.writes.last().cloned().unwrap_or_default();
    assert!(last.ends_with("250 HELP\r\n220 2.0.0 ready to start TLS\r\n"), "{last}");
}

#[tokio::test(start_paused = true)]
async fn idle_client_is_told_and_closed() {
    let started = Instant::now();
    let outcome = serve(&[b"EHLO c\r\n"], true, config(), None).await;
    assert_eq!(outcome.writes.last().map(String::as_str), Some("421 4.4.2 idle timeout\r\n"));
    assert_eq!(started.elapsed(), config().idle_timeout);
}

#[tokio::test(start_paused = true)]
async fn session_deadline_ends_the_session() {
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs(60);
    let outcome = serve(&[b"EHLO c\r\n"], true, config(), Some(deadline)).await;
    assert_eq!(outcome.writes.last().map(String::as_str), Some("421 4.4.2 session too long\r\n"));
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(60));
}
