//! [`Metered`]: a stream that counts the bytes crossing it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Meter;

/// Wraps `S`, adding every byte read from it and written to it to a [`Meter`].
#[derive(Debug)]
pub struct Metered<S> {
    inner: S,
    meter: Meter,
}

impl<S> Metered<S> {
    pub fn new(inner: S, meter: Meter) -> Self {
        Metered { inner, meter }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn meter(&self) -> &Meter {
        &self.meter
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.meter.add_read((buf.filled().len() - before) as u64);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.meter.add_written(n as u64);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            self.meter.add_written(n as u64);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::Traffic;

    #[tokio::test]
    async fn counts_what_crosses_the_stream_both_ways() {
        let traffic = Traffic::new();
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut metered = Metered::new(ours, Meter::new([traffic.clone()]));
        metered.write_all(b"hello").await.expect("duplex");
        theirs.write_all(b"partner!").await.expect("duplex");
        let mut got = [0u8; 8];
        metered.read_exact(&mut got).await.expect("duplex");
        let mut echoed = [0u8; 5];
        theirs.read_exact(&mut echoed).await.expect("duplex");
        assert_eq!((traffic.read(), traffic.written()), (8, 5));
    }
}
