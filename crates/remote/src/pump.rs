//! Copying a stream in chunks, with a deadline on every chunk: a transfer may be
//! long, but it may not stand still. Failures say which side failed: the remote
//! connection (transient, `Broken`) or the local file (`Local`).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::RemoteError;

const CHUNK: usize = 256 << 10;

/// Which end of the copy is the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Download,
    Upload,
}

/// Copies `reader` to `writer` until end of input, then flushes. `what` names the
/// transfer in errors.
pub(crate) async fn pump(
    reader: &mut (dyn AsyncRead + Unpin + Send),
    writer: &mut (dyn AsyncWrite + Unpin + Send),
    direction: Direction,
    stall: Duration,
    what: &str,
) -> Result<u64, RemoteError> {
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let read_side = if direction == Direction::Download { Side::Remote } else { Side::Local };
        let n = within(stall, reader.read(&mut buffer), read_side, what, "read").await?;
        if n == 0 {
            break;
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        let write_side = if direction == Direction::Download { Side::Local } else { Side::Remote };
        within(stall, writer.write_all(chunk), write_side, what, "write").await?;
        total += n as u64;
    }
    let write_side = if direction == Direction::Download { Side::Local } else { Side::Remote };
    within(stall, writer.flush(), write_side, what, "flush").await?;
    Ok(total)
}

#[derive(Clone, Copy)]
enum Side {
    Remote,
    Local,
}

async fn within<T>(
    stall: Duration,
    step: impl Future<Output = std::io::Result<T>>,
    side: Side,
    what: &str,
    verb: &str,
) -> Result<T, RemoteError> {
    match tokio::time::timeout(stall, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(match side {
            Side::Remote => RemoteError::Broken { what: what.to_owned(), reason: source.to_string() },
            Side::Local => RemoteError::Local { what: format!("{verb} ({what})"), source },
        }),
        Err(_) => Err(RemoteError::Timeout { what: format!("{what} ({verb})"), after: stall }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_everything_and_counts() {
        let data: Vec<u8> = (0..(700u32 << 10)).map(|i| (i % 251) as u8).collect();
        let mut reader = std::io::Cursor::new(data.clone());
        let mut out = Vec::new();
        let n = pump(&mut reader, &mut out, Direction::Download, Duration::from_secs(5), "t").await;
        assert_eq!(n.ok(), Some(data.len() as u64));
        assert!(out == data);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_source_times_out() {
        let (_keep_open, mut reader) = tokio::io::duplex(64);
        let mut out = Vec::new();
        let result = pump(&mut reader, &mut out, Direction::Upload, Duration::from_secs(5), "t").await;
        assert!(matches!(result, Err(RemoteError::Timeout { .. })), "{result:?}");
    }
}
