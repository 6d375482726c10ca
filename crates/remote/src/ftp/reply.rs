//! suppaftp's errors as [`RemoteError`]s: the reply code decides (4xx transient,
//! 5xx permanent), the reply text is kept.

use suppaftp::FtpError;
use suppaftp::types::Response;

use crate::error::RemoteError;

/// `error` of the operation `what`; `path` is the file it was about, if any.
pub(super) fn classify(what: &str, path: Option<&str>, error: FtpError) -> RemoteError {
    match error {
        FtpError::UnexpectedResponse(response) => refused(what, path, reply_text(&response)),
        FtpError::ConnectionError(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            RemoteError::Config(format!("{what}: {e}"))
        }
        FtpError::ConnectionError(e) => RemoteError::Broken { what: what.to_owned(), reason: e.to_string() },
        FtpError::SecureError(reason) if reason.contains("certificate") => {
            RemoteError::Tls { peer: format!("the data connection of {what}"), reason }
        }
        FtpError::SecureError(reason) => RemoteError::Broken { what: what.to_owned(), reason },
        FtpError::BadResponse => RemoteError::Refused {
            what: what.to_owned(),
            reply: "the server's reply cannot be parsed".into(),
            transient: false,
        },
        FtpError::InvalidAddress(e) => {
            RemoteError::Refused { what: what.to_owned(), reply: format!("bad passive address: {e}"), transient: false }
        }
        FtpError::DataConnectionAlreadyOpen => {
            RemoteError::Broken { what: what.to_owned(), reason: "a data connection is still open".into() }
        }
    }
}

/// A refusal by reply: 4xx transient; 550 naming a missing file is `NotFound`;
/// anything else permanent.
pub(super) fn refused(what: &str, path: Option<&str>, reply: String) -> RemoteError {
    let code = reply_code(&reply);
    if let (Some(550), Some(path)) = (code, path)
        && says_missing(&reply)
    {
        return RemoteError::NotFound { path: path.to_owned(), reply };
    }
    let transient = code.is_some_and(|c| (400..500).contains(&c));
    RemoteError::Refused { what: what.to_owned(), reply, transient }
}

/// The reply as the server wrote it (all lines, trimmed), e.g. `550 Failed to open file.`
pub(super) fn reply_text(response: &Response) -> String {
    let text = String::from_utf8_lossy(&response.body);
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    lines.join(" / ")
}

/// The reply's three-digit code.
pub(super) fn reply_code(reply: &str) -> Option<u16> {
    reply.get(..3).filter(|c| c.bytes().all(|b| b.is_ascii_digit())).and_then(|c| c.parse().ok())
}

fn says_missing(reply: &str) -> bool {
    let reply = reply.to_ascii_lowercase();
    ["no such file", "not found", "not exist", "does not exist"].iter().any(|p| reply.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_transience() {
        assert!(refused("STOR", None, "452 Insufficient storage".into()).is_transient());
        assert!(refused("LIST", None, "421 Too many users".into()).is_transient());
        assert!(!refused("STOR", None, "553 Could not create file.".into()).is_transient());
        let missing = refused("RETR", Some("/a"), "550 No such file or directory".into());
        assert!(matches!(missing, RemoteError::NotFound { .. }), "{missing:?}");
        let denied = refused("RETR", Some("/a"), "550 Permission denied".into());
        assert!(matches!(denied, RemoteError::Refused { transient: false, .. }), "{denied:?}");
    }

    #[test]
    fn reply_codes_are_read() {
        assert_eq!(reply_code("550 Failed"), Some(550));
        assert_eq!(reply_code("oops"), None);
    }
}
