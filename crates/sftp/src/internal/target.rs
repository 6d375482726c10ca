//! What a client path names on the internal server, and the blocking file-system
//! calls behind it (run on tokio's blocking pool, errors as SFTP status replies).
//!
//! Paths are normalised with [`VPath::resolve`] (no climbing above `/`), then only
//! `/`, `/payloads`, `/payloads/<name>`, `/outbound` and `/outbound/<name>` exist.
//! An outbound name must pass [`envelope::validate_segment`], so a client can never
//! reach outside the outbound directory or create hidden files there.

use std::path::PathBuf;

use partner::VPath;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use russh_sftp::server::StatusReply;

use super::PayloadStore;

pub(crate) const PAYLOADS: &str = "payloads";
pub(crate) const OUTBOUND: &str = "outbound";

/// A resolved client path.
#[derive(Debug)]
pub(crate) enum Target {
    Root,
    PayloadsDir,
    Payload(PathBuf),
    OutboundDir(PathBuf),
    Outbound(PathBuf),
}

/// The normalised form of a client path (for REALPATH).
pub(crate) fn normalise(path: &str) -> Result<String, StatusReply> {
    VPath::resolve(&VPath::root(), path).map(|p| p.to_string()).map_err(|e| denied(&e.to_string()))
}

/// Maps a client path to what it names.
pub(crate) fn resolve(store: &dyn PayloadStore, path: &str) -> Result<Target, StatusReply> {
    let path = VPath::resolve(&VPath::root(), path).map_err(|e| denied(&e.to_string()))?;
    match path.segments() {
        [] => Ok(Target::Root),
        [dir] if dir == PAYLOADS => Ok(Target::PayloadsDir),
        [dir, name] if dir == PAYLOADS => store.payload(name).map(Target::Payload).ok_or_else(no_such_file),
        [dir] if dir == OUTBOUND => Ok(Target::OutboundDir(store.outbound_dir())),
        [dir, name] if dir == OUTBOUND => {
            envelope::validate_segment(name).map_err(|e| denied(&e.to_string()))?;
            Ok(Target::Outbound(store.outbound_dir().join(name)))
        }
        _ => Err(no_such_file()),
    }
}

pub(crate) fn no_such_file() -> StatusReply {
    StatusCode::NoSuchFile.with_message("no such file or directory")
}

pub(crate) fn denied(message: &str) -> StatusReply {
    StatusCode::PermissionDenied.with_message(message)
}

/// An I/O error as a status reply.
pub(crate) fn io_status(error: &std::io::Error) -> StatusReply {
    match error.kind() {
        std::io::ErrorKind::NotFound => no_such_file(),
        std::io::ErrorKind::PermissionDenied => denied("permission denied"),
        kind => StatusCode::Failure.with_message(kind.to_string()),
    }
}

/// Runs blocking file-system work off the async threads.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, StatusReply>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(io_status(&e)),
        Err(_) => Err(StatusCode::Failure.with_message("internal error")),
    }
}

/// Attributes of a virtual directory.
pub(crate) fn dir_attrs(writable: bool) -> FileAttributes {
    let mode = if writable { 0o755 } else { 0o555 };
    FileAttributes { size: Some(0), permissions: Some(0o040000 | mode), ..FileAttributes::default() }
}

/// Attributes of a file or directory on disk.
pub(crate) async fn disk_attrs(path: PathBuf) -> Result<FileAttributes, StatusReply> {
    blocking(move || std::fs::metadata(&path)).await.map(|m| FileAttributes::from(&m))
}
