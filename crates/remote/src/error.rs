//! Why a remote operation failed, and whether trying again later may help.
//!
//! Transient: the server could not be reached or stopped answering, the
//! connection broke, FTP 4xx replies, SFTP's generic failure, HTTP 5xx, 429, 408,
//! local I/O trouble (a full disk clears). Permanent: authentication, TLS or host
//! key refused, FTP 5xx, a missing file, HTTP's other 4xx, a bad endpoint.
//! Messages carry the server's reply text; they never carry a secret.

use std::time::Duration;

/// A failed remote operation.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The endpoint or request cannot work as configured.
    #[error("invalid endpoint: {0}")]
    Config(String),
    /// The server could not be reached (refused, unreachable, name unknown).
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    /// A step did not finish in time.
    #[error("{what}: no answer within {} s", .after.as_secs())]
    Timeout { what: String, after: Duration },
    /// The connection broke during an operation.
    #[error("{what}: connection lost: {reason}")]
    Broken { what: String, reason: String },
    /// The server's TLS certificate is not trusted, or TLS could not be set up.
    #[error("TLS with {peer} failed: {reason}")]
    Tls { peer: String, reason: String },
    /// The SSH host key is not the expected one (nothing was sent after it).
    #[error("refusing {address}: {reason}")]
    HostKey { address: String, reason: String },
    /// The server refused the login.
    #[error("login as {user} refused: {reply}")]
    Login { user: String, reply: String },
    /// The server refused a command; `reply` is its answer (`550 No such file`).
    #[error("{what}: {reply}")]
    Refused { what: String, reply: String, transient: bool },
    /// The file or directory does not exist.
    #[error("{path}: not found: {reply}")]
    NotFound { path: String, reply: String },
    /// The HTTP endpoint answered with a status other than 2xx.
    #[error("HTTP {status}: {excerpt}")]
    Http { status: u16, excerpt: String },
    /// Reading the local source or writing the local sink failed.
    #[error("local {what}: {source}")]
    Local { what: String, source: std::io::Error },
}

impl RemoteError {
    /// Whether the same operation may succeed later without a change of config.
    pub fn is_transient(&self) -> bool {
        match self {
            RemoteError::Connect { .. } | RemoteError::Timeout { .. } | RemoteError::Broken { .. } => true,
            RemoteError::Refused { transient, .. } => *transient,
            RemoteError::Http { status, .. } => http_status_is_transient(*status),
            RemoteError::Local { source, .. } => local_error_is_transient(source),
            RemoteError::Config(_)
            | RemoteError::Tls { .. }
            | RemoteError::HostKey { .. }
            | RemoteError::Login { .. }
            | RemoteError::NotFound { .. } => false,
        }
    }

    /// The server's own words, if it answered (`550 No such file`, an HTTP body
    /// excerpt), for the result shown to the operator.
    pub fn reply(&self) -> Option<&str> {
        match self {
            RemoteError::Login { reply, .. }
            | RemoteError::Refused { reply, .. }
            | RemoteError::NotFound { reply, .. } => Some(reply),
            RemoteError::Http { excerpt, .. } => Some(excerpt),
            _ => None,
        }
    }
}

/// 5xx, 429 Too Many Requests and 408 Request Timeout are worth retrying.
pub(crate) fn http_status_is_transient(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

fn local_error_is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{InvalidData, InvalidInput, NotFound, PermissionDenied};
    !matches!(error.kind(), NotFound | PermissionDenied | InvalidInput | InvalidData)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_are_classified() {
        for status in [500, 502, 503, 504, 429, 408] {
            assert!(RemoteError::Http { status, excerpt: String::new() }.is_transient(), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 413] {
            assert!(!RemoteError::Http { status, excerpt: String::new() }.is_transient(), "{status}");
        }
    }

    #[test]
    fn the_reply_is_kept_for_the_result() {
        let error = RemoteError::NotFound { path: "/in/a.xml".into(), reply: "550 Failed to open file.".into() };
        assert_eq!(error.reply(), Some("550 Failed to open file."));
        assert!(!error.is_transient());
        assert!(error.to_string().contains("550 Failed to open file."));
    }
}
