//! The same checks for every protocol: upload (only the temporary name exists
//! until the upload completes), list, download, replace, rename, delete, a
//! missing file.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use remote::{Endpoint, RemoteError, Session};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;

use super::payload;

/// Serves `data`, but stops after `pause_at` bytes until `gate` opens.
pub struct GatedReader {
    data: Vec<u8>,
    position: usize,
    pause_at: usize,
    gate: Option<oneshot::Receiver<()>>,
}

impl GatedReader {
    pub fn new(data: Vec<u8>, pause_at: usize, gate: oneshot::Receiver<()>) -> GatedReader {
        GatedReader { data, position: 0, pause_at, gate: Some(gate) }
    }
}

impl AsyncRead for GatedReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.position >= this.pause_at
            && let Some(gate) = this.gate.as_mut()
        {
            match Pin::new(gate).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(_) => this.gate = None,
            }
        }
        let end = if this.gate.is_some() { this.pause_at } else { this.data.len() };
        let n = buf.remaining().min(end - this.position);
        buf.put_slice(&this.data[this.position..this.position + n]);
        this.position += n;
        Poll::Ready(Ok(()))
    }
}

/// Names in `dir` on disk.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn temporaries(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.");
    names(dir).into_iter().filter(|n| n.starts_with(&prefix) && n.ends_with(".part")).collect()
}

/// Uploads `len` bytes as `name` into `remote_dir` (`local_dir` on disk) with
/// the source paused half-way: until it resumes, only a temporary file exists.
pub async fn gated_upload(session: &mut dyn Session, remote_dir: &str, local_dir: &Path, name: &str, data: &[u8]) {
    let (open, gate) = oneshot::channel();
    let mut source = GatedReader::new(data.to_vec(), data.len() / 2, gate);
    let watch = async {
        let start = tokio::time::Instant::now();
        loop {
            let partial = temporaries(local_dir, name)
                .iter()
                .any(|t| std::fs::metadata(local_dir.join(t)).map(|m| m.len() > 0).unwrap_or(false));
            if partial {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no temporary file appeared in {}", local_dir.display());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!local_dir.join(name).exists(), "{name} is visible before the upload completed");
        open.send(()).unwrap();
    };
    let (sent, ()) = tokio::join!(session.upload(remote_dir, name, &mut source), watch);
    assert_eq!(sent.unwrap(), data.len() as u64);
    assert!(std::fs::read(local_dir.join(name)).unwrap() == data, "{name} differs after upload");
    assert_eq!(temporaries(local_dir, name), Vec::<String>::new(), "a temporary file was left");
}

/// Everything a session does, against a server whose `remote_dir` is
/// `local_dir` on disk.
pub async fn round_trip(endpoint: &Endpoint, remote_dir: &str, local_dir: &Path) {
    let mut session = remote::connect(endpoint).await.unwrap();
    let big = payload((5 << 20) + 12345);
    gated_upload(session.as_mut(), remote_dir, local_dir, "big.bin", &big).await;

    std::fs::write(local_dir.join("small.txt"), b"old").unwrap();
    let mut replacement: &[u8] = b"new contents";
    session.upload(remote_dir, "small.txt", &mut replacement).await.unwrap();
    assert_eq!(std::fs::read(local_dir.join("small.txt")).unwrap(), b"new contents");

    let mut listed = session.list(remote_dir).await.unwrap();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    let listed: Vec<(String, Option<u64>)> = listed.into_iter().map(|e| (e.name, e.size)).collect();
    assert_eq!(
        listed,
        vec![("big.bin".into(), Some(big.len() as u64)), ("small.txt".into(), Some(12))],
        "the listing shows the plain files (not the archive/ directory)"
    );

    let mut downloaded = Vec::new();
    let received = session.download(&remote::join(remote_dir, "big.bin"), &mut downloaded).await.unwrap();
    assert_eq!(received, big.len() as u64);
    assert!(downloaded == big, "download differs");

    let archived = remote::join(remote_dir, "archive/big.bin");
    session.rename(&remote::join(remote_dir, "big.bin"), &archived).await.unwrap();
    assert!(local_dir.join("archive/big.bin").exists() && !local_dir.join("big.bin").exists());
    session.delete(&archived).await.unwrap();
    assert!(!local_dir.join("archive/big.bin").exists());

    let missing = session.download(&remote::join(remote_dir, "missing.bin"), &mut Vec::new()).await.unwrap_err();
    assert!(!missing.is_transient(), "a missing file is permanent: {missing:?}");
    assert!(missing.reply().is_some(), "the server's reply is kept: {missing:?}");

    let after_error = session.list(remote_dir).await.unwrap();
    assert_eq!(after_error.len(), 1, "the session still works after a refusal");
    session.close().await.unwrap();
}

/// A refused login: permanent, and the password appears nowhere.
pub fn assert_refused_login(result: Result<Box<dyn Session>, RemoteError>, password: &str) {
    let Err(error) = result else { panic!("the login should have been refused") };
    assert!(matches!(error, RemoteError::Login { .. }), "{error:?}");
    assert!(!error.is_transient());
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(password), "the password leaked: {shown}");
}
