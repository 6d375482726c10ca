//! The checked download pipe: a remote download streams into a bounded in-memory
//! pipe, the sink reads the other end. The sink's reader ends cleanly only after
//! the download returned `Ok` with the listed size; a failed, short or long
//! download makes the reader return an error, so the sink never sees a clean end
//! of a partial file.
//!
//! Order of events on the writing side: the download returns, its outcome is
//! recorded, *then* the writer is dropped. The reader meets the pipe's end only
//! after the writer is gone, so the outcome is always there to check.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use remote::{RemoteError, Session};
use tokio::io::{AsyncRead, DuplexStream, ReadBuf};

/// The pipe's capacity: all of a file that is in memory at once.
pub(crate) const PIPE_BYTES: usize = 256 << 10;

/// The download's outcome: the bytes it wrote, or why it failed.
type Outcome = Arc<Mutex<Option<Result<u64, String>>>>;

/// The writing end and its outcome slot.
pub(crate) struct Writer {
    pipe: DuplexStream,
    outcome: Outcome,
}

/// The sink's end of the pipe.
pub(crate) struct Checked {
    pipe: DuplexStream,
    outcome: Outcome,
    /// The listed size, when the listing gave one.
    expected: Option<u64>,
    read: u64,
    /// Why the end was refused, once it was: the fetch reports this rather than
    /// whatever the sink made of the read error.
    refused: Option<String>,
}

/// A pipe for a file of `expected` bytes (if known).
pub(crate) fn pipe(expected: Option<u64>) -> (Writer, Checked) {
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let outcome = Outcome::default();
    (
        Writer { pipe: writer, outcome: outcome.clone() },
        Checked { pipe: reader, outcome, expected, read: 0, refused: None },
    )
}

impl Writer {
    /// Downloads `path` into the pipe, records the outcome, then closes the pipe.
    pub(crate) async fn download(mut self, session: &mut dyn Session, path: &str) -> Result<u64, RemoteError> {
        let result = session.download(path, &mut self.pipe).await;
        let recorded = match &result {
            Ok(bytes) => Ok(*bytes),
            Err(error) => Err(error.to_string()),
        };
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(recorded);
        drop(self.pipe);
        result
    }
}

impl Checked {
    /// Why the reader returned an error instead of its end, if it did.
    pub(crate) fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// The pipe ended: a clean end only for a complete download of the listed size.
    fn end(&self) -> std::io::Result<()> {
        use std::io::{Error, ErrorKind};
        let outcome = self.outcome.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match outcome {
            Some(Ok(written)) if written != self.read => Err(Error::new(
                ErrorKind::UnexpectedEof,
                format!("the download wrote {written} bytes, {} arrived", self.read),
            )),
            Some(Ok(_)) => match self.expected {
                Some(listed) if listed != self.read => Err(Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("the file has {} bytes, the listing said {listed}: it changed while fetched", self.read),
                )),
                _ => Ok(()),
            },
            Some(Err(reason)) => Err(Error::other(format!("the download failed: {reason}"))),
            None => Err(Error::new(ErrorKind::UnexpectedEof, "the download ended without an outcome")),
        }
    }
}

impl AsyncRead for Checked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.pipe).poll_read(cx, buf))?;
        let arrived = buf.filled().len() - before;
        if arrived > 0 {
            self.read += arrived as u64;
            return Poll::Ready(Ok(()));
        }
        let end = self.end();
        if let Err(error) = &end {
            self.refused = Some(error.to_string());
        }
        Poll::Ready(end)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn ends_with(
        outcome: Option<Result<u64, String>>,
        expected: Option<u64>,
        bytes: &[u8],
    ) -> std::io::Result<Vec<u8>> {
        let (mut writer, mut reader) = pipe(expected);
        writer.pipe.write_all(bytes).await?;
        *writer.outcome.lock().unwrap_or_else(PoisonError::into_inner) = outcome;
        drop(writer);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.map(|_| got)
    }

    #[tokio::test]
    async fn only_a_complete_download_of_the_listed_size_ends_cleanly() {
        assert_eq!(ends_with(Some(Ok(3)), Some(3), b"abc").await.expect("complete"), b"abc");
        assert_eq!(ends_with(Some(Ok(3)), None, b"abc").await.expect("no listed size"), b"abc");
        let failed = ends_with(Some(Err("550 gone".into())), Some(3), b"ab").await.expect_err("failed");
        assert!(failed.to_string().contains("550 gone"), "{failed}");
        let short = ends_with(Some(Ok(2)), Some(3), b"ab").await.expect_err("short");
        assert!(short.to_string().contains("changed while fetched"), "{short}");
        assert!(ends_with(Some(Ok(4)), None, b"abc").await.is_err(), "bytes lost in the pipe");
        assert!(ends_with(None, None, b"abc").await.is_err(), "no outcome");
    }
}
