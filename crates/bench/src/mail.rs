//! Partner mail into the DMZ: 1,000 messages of 10 KiB over 10 parallel SMTP
//! connections (each pipelines MAIL, RCPT and DATA, then sends the body), against
//! the issue's target of 1,000 durable messages per second. The DMZ answers `250`
//! to each only after its commit; the run counts until the last `250`, then checks
//! that every message reached the inner's inbox whole.
//!
//! Sizes can be changed: `PORTCULLIS_BENCH_MAILS` (1000),
//! `PORTCULLIS_BENCH_MAIL_CONNECTIONS` (10).

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::partners::configs::MAIL_TO;
use crate::partners::pair::Pair;
use crate::peers::BoxError;

const MESSAGE_BYTES: usize = 10 * 1024;
const TARGET_PER_SECOND: f64 = 1000.0;

/// Runs the case; returns a markdown table.
pub fn run() -> Result<String, BoxError> {
    let mails = env_number("PORTCULLIS_BENCH_MAILS", 1000)?;
    let connections = env_number("PORTCULLIS_BENCH_MAIL_CONNECTIONS", 10)?.max(1);
    let mut pair = Pair::start()?;
    pair.smtp_ready.clone()?;
    let port = pair.smtp_port();
    let runtime = tokio::runtime::Runtime::new()?;
    let took = runtime.block_on(send_all(port, mails, connections))?;
    pair.settle(mails, (mails * MESSAGE_BYTES) as u64)?;
    let rate = mails as f64 / took.as_secs_f64();
    let verdict = if rate >= TARGET_PER_SECOND { "met" } else { "**missed**" };
    Ok(format!(
        "| work | portcullis | target |\n|---|---:|---|\n\
         | SMTP, {mails} × 10 KiB over {connections} connections, each 250 after a durable commit \
         | {rate:.0} msg/s ({:.2} s) | ≥ {TARGET_PER_SECOND:.0} msg/s: {verdict} |\n",
        took.as_secs_f64()
    ))
}

/// Spreads `mails` over `connections` sessions; returns the time to the last 250.
async fn send_all(port: u16, mails: usize, connections: usize) -> Result<Duration, BoxError> {
    let message = message();
    let start = Instant::now();
    let mut sessions = tokio::task::JoinSet::new();
    for i in 0..connections {
        let count = mails / connections + usize::from(i < mails % connections);
        let message = message.clone();
        sessions.spawn(async move { session(port, count, &message).await });
    }
    while let Some(done) = sessions.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed())
}

/// One SMTP session sending `count` copies of `message`.
async fn session(port: u16, count: usize, message: &[u8]) -> Result<(), BoxError> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read);
    expect(&mut replies, "220").await?;
    write.write_all(b"EHLO bench.partner\r\n").await?;
    expect(&mut replies, "250").await?;
    let envelope = format!("MAIL FROM:<sender@bench.partner>\r\nRCPT TO:<{MAIL_TO}>\r\nDATA\r\n");
    for _ in 0..count {
        write.write_all(envelope.as_bytes()).await?;
        for code in ["250", "250", "354"] {
            expect(&mut replies, code).await?;
        }
        write.write_all(message).await?;
        write.write_all(b".\r\n").await?;
        expect(&mut replies, "250").await?;
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}

/// Reads one reply (all its lines) and checks its code.
async fn expect(replies: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) -> Result<(), BoxError> {
    let mut line = String::new();
    loop {
        line.clear();
        if replies.read_line(&mut line).await? == 0 {
            return Err(format!("the server closed the connection; expected {code}").into());
        }
        if !line.starts_with(code) {
            return Err(format!("expected {code}, got {}", line.trim_end()).into());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// A 10 KiB message of CRLF lines (no line starts with a dot).
fn message() -> Vec<u8> {
    let mut text = String::from("From: sender@bench.partner\r\nTo: bench@dmz.bench\r\nSubject: bench\r\n\r\n");
    while text.len() + 78 <= MESSAGE_BYTES {
        text.push_str(&"x".repeat(76));
        text.push_str("\r\n");
    }
    while text.len() + 2 < MESSAGE_BYTES {
        text.push('y');
    }
    text.push_str("\r\n");
    text.into_bytes()
}

pub(crate) fn env_number(name: &str, default: usize) -> Result<usize, BoxError> {
    match std::env::var(name) {
        Ok(text) => Ok(text.trim().parse().map_err(|_| format!("{name}={text:?} is not a number"))?),
        Err(_) => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_message_is_exactly_10_kib_of_crlf_lines() {
        let message = super::message();
        assert_eq!(message.len(), super::MESSAGE_BYTES);
        assert!(message.ends_with(b"\r\n"));
        assert!(!message.windows(3).any(|w| w == b"\n.\r" || w == b"\n.."));
    }
}
