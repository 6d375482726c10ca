//! What libunftp needs to describe a file ([`Meta`]) and to answer a failure (FTP reply code
//! from a [`FsError`]).
//!
//! Reply codes: not found, permission, not empty and not a directory → 550; a bad name (NUL,
//! control characters, `..` above the home) → 553; quota full → 452; the DMZ failing → 451.

use std::time::SystemTime;

use partner::{Entry, EntryKind, FsError};
use unftp_core::storage::{self, ErrorKind, Metadata, Permissions};

/// The metadata of one entry of the virtual home.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    kind: EntryKind,
    size: u64,
    modified: SystemTime,
    writable: bool,
}

impl From<&Entry> for Meta {
    fn from(entry: &Entry) -> Self {
        Meta { kind: entry.kind, size: entry.size, modified: entry.modified, writable: entry.writable }
    }
}

impl Metadata for Meta {
    fn len(&self) -> u64 {
        self.size
    }

    fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }

    fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    fn is_symlink(&self) -> bool {
        false
    }

    fn modified(&self) -> storage::Result<SystemTime> {
        Ok(self.modified)
    }

    fn gid(&self) -> u32 {
        0
    }

    fn uid(&self) -> u32 {
        0
    }

    fn permissions(&self) -> Permissions {
        Permissions(match (self.is_dir(), self.writable) {
            (true, true) => 0o755,
            (true, false) => 0o555,
            (false, true) => 0o644,
            (false, false) => 0o444,
        })
    }
}

/// The libunftp error (and so the FTP reply) for a gateway failure.
pub(crate) fn storage_error(error: FsError) -> storage::Error {
    let kind = match &error {
        FsError::NotFound | FsError::AlreadyExists | FsError::IsADirectory => ErrorKind::PermanentFileNotAvailable,
        FsError::PermissionDenied(_) => ErrorKind::PermissionDenied,
        FsError::NotEmpty => ErrorKind::PermanentDirectoryNotEmpty,
        FsError::NotADirectory => ErrorKind::PermanentDirectoryNotAvailable,
        FsError::BadPath(_) => ErrorKind::FileNameNotAllowedError,
        FsError::InsufficientStorage => ErrorKind::InsufficientStorageSpaceError,
        FsError::Unavailable(_) => ErrorKind::LocalError,
    };
    storage::Error::new(kind, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_failures_map_to_the_agreed_reply_kinds() {
        let kind = |e| storage_error(e).kind();
        assert_eq!(kind(FsError::NotFound), ErrorKind::PermanentFileNotAvailable);
        assert_eq!(kind(FsError::PermissionDenied("pickup")), ErrorKind::PermissionDenied);
        assert_eq!(kind(FsError::BadPath("x".into())), ErrorKind::FileNameNotAllowedError);
        assert_eq!(kind(FsError::InsufficientStorage), ErrorKind::InsufficientStorageSpaceError);
        assert_eq!(kind(FsError::Unavailable("spool".into())), ErrorKind::LocalError);
    }
}
