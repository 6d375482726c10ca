//! Translations from the gateway's vocabulary to SFTP's: [`FsError`] to status
//! replies with a clear message, [`Entry`] to file attributes and listing lines.

use std::time::UNIX_EPOCH;

use partner::{Entry, EntryKind, FsError};
use russh_sftp::protocol::{File, FileAttributes, FileMode, StatusCode};
use russh_sftp::server::StatusReply;

/// The status reply for a gateway error.
pub(crate) fn status(error: &FsError) -> StatusReply {
    let code = match error {
        FsError::NotFound => StatusCode::NoSuchFile,
        FsError::PermissionDenied(_) | FsError::BadPath(_) => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    };
    let message = match error {
        FsError::InsufficientStorage => "insufficient storage (quota exceeded)".to_owned(),
        other => other.to_string(),
    };
    code.with_message(message)
}

/// A plain failure with a message.
pub(crate) fn failure(message: &str) -> StatusReply {
    StatusCode::Failure.with_message(message)
}

/// The attributes of an entry: type, size, a plausible mode, modification time.
pub(crate) fn attrs(entry: &Entry) -> FileAttributes {
    let (kind, mode) = match (entry.kind, entry.writable) {
        (EntryKind::Directory, true) => (FileMode::DIR, 0o755),
        (EntryKind::Directory, false) => (FileMode::DIR, 0o555),
        (EntryKind::File, true) => (FileMode::REG, 0o644),
        (EntryKind::File, false) => (FileMode::REG, 0o444),
    };
    let mtime = entry.modified.duration_since(UNIX_EPOCH).map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(0));
    FileAttributes {
        size: Some(entry.size),
        uid: Some(0),
        gid: Some(0),
        permissions: Some(kind.bits() | mode),
        atime: Some(mtime),
        mtime: Some(mtime),
        ..FileAttributes::default()
    }
}

/// A listing line for an entry.
pub(crate) fn file(entry: &Entry) -> File {
    File::new(entry.name.clone(), attrs(entry))
}
