//! The byte stream an SFTP handler runs on, with the channel's inbound side drained
//! by its own task so that a blocked writer can never stall the SSH connection.
//!
//! Why: russh delivers a channel's inbound data by awaiting a bounded queue inside the
//! connection loop, and the SFTP loop answers one request at a time. During a
//! download the SFTP loop waits for the client's window to send a READ answer; the
//! client's WINDOW_ADJUST sits unread in the socket because the connection loop is
//! itself waiting for the SFTP loop to take the next queued request: a deadlock
//! (seen with OpenSSH `sftp -B 131072` after a few hundred MiB). Here a pump task
//! always takes inbound data at once, up to a byte budget, so the connection loop
//! keeps reading and window adjustments get through. A client would have to
//! pipeline more than the budget of unanswered requests to stall, and then only its
//! own session stalls. Data is passed as russh's `Bytes`, without copying.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use russh::server::Msg;
use russh::{Channel, ChannelMsg};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::listen::Busy;

type Chunk = (Bytes, OwnedSemaphorePermit);

/// A session channel as a byte stream with a pumped inbound side (see the module doc).
pub(crate) struct PumpedStream {
    inbound: UnboundedReceiver<Chunk>,
    current: Option<Chunk>,
    writer: Pin<Box<dyn AsyncWrite + Send>>,
    busy: Busy,
}

/// Starts pumping `channel`; at most `budget` inbound bytes wait unread. Each
/// completed flush (one per SFTP reply) is reported to `busy`.
pub(crate) fn pumped(channel: Channel<Msg>, budget: u32, busy: Busy) -> PumpedStream {
    let writer = Box::pin(channel.make_writer());
    let (tx, inbound) = unbounded_channel();
    tokio::spawn(pump(channel, tx, Arc::new(Semaphore::new(budget as usize)), budget));
    PumpedStream { inbound, current: None, writer, busy }
}

async fn pump(mut channel: Channel<Msg>, tx: UnboundedSender<Chunk>, budget: Arc<Semaphore>, max: u32) {
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                let cost = u32::try_from(data.len()).unwrap_or(max).min(max);
                let Ok(permit) = budget.clone().acquire_many_owned(cost).await else { break };
                if tx.send((data, permit)).is_err() {
                    break;
                }
            }
            ChannelMsg::Eof | ChannelMsg::Close => break,
            _ => {}
        }
    }
}

impl AsyncRead for PumpedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if let Some((bytes, _permit)) = &mut self.current {
                if !bytes.is_empty() {
                    let n = buf.remaining().min(bytes.len());
                    buf.put_slice(&bytes[..n]);
                    bytes.advance(n);
                    return Poll::Ready(Ok(()));
                }
                self.current = None;
            }
            match self.inbound.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.current = Some(chunk),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for PumpedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.writer.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = self.writer.as_mut().poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            self.busy.reply_sent();
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.writer.as_mut().poll_shutdown(cx)
    }
}
