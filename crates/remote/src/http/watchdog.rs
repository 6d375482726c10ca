//! A stall deadline for a whole HTTP exchange. reqwest's `read_timeout` runs
//! from the moment the request starts, so a large upload would trip it however
//! fast it goes; instead, every chunk of body read from the file counts as
//! progress, and the exchange fails only when nothing moved for the I/O timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Instant;

/// When something last moved, in milliseconds since `start`.
#[derive(Clone)]
pub(super) struct Progress {
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Progress {
    pub(super) fn new() -> Progress {
        Progress { start: Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }

    pub(super) fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Runs `work` until it finishes, or until nothing moved for `stall` (`None`).
    pub(super) async fn watch<T>(&self, stall: Duration, work: impl Future<Output = T>) -> Option<T> {
        self.touch();
        tokio::pin!(work);
        loop {
            let deadline = self.last() + stall;
            tokio::select! {
                done = &mut work => return Some(done),
                () = tokio::time::sleep_until(deadline) => {
                    if self.last() + stall <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

/// A reader that counts each successful read as progress.
pub(super) struct Touching<R> {
    pub(super) inner: R,
    pub(super) progress: Progress,
}

impl<R: AsyncRead + Unpin> AsyncRead for Touching<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) {
            self.progress.touch();
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn progress_keeps_it_alive_and_silence_ends_it() {
        let progress = Progress::new();
        let ticking = {
            let progress = progress.clone();
            async move {
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    progress.touch();
                }
                "done"
            }
        };
        assert_eq!(progress.watch(Duration::from_secs(5), ticking).await, Some("done"));
        let silent = tokio::time::sleep(Duration::from_secs(60));
        assert_eq!(progress.watch(Duration::from_secs(5), silent).await, None);
    }
}
