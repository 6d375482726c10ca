//! What can go wrong in a partner's virtual home, in protocol-neutral terms. Each
//! protocol maps these to its own replies (SFTP status codes, FTP reply codes).

/// Why a file operation was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("no such file or directory")]
    NotFound,
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    #[error("already exists")]
    AlreadyExists,
    #[error("directory not empty")]
    NotEmpty,
    #[error("not a directory")]
    NotADirectory,
    #[error("is a directory")]
    IsADirectory,
    /// The client's path or name breaks the path rules (NUL, control characters,
    /// climbing above the home, too long).
    #[error("bad path: {0}")]
    BadPath(String),
    /// The spool quota would be exceeded (FTP 452, SFTP failure "no space").
    #[error("insufficient storage")]
    InsufficientStorage,
    /// Something on the DMZ failed (spool error); trying again later may work.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}
