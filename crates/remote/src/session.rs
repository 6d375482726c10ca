//! The protocol-neutral session: what the callers (fetch and push jobs) use.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::RemoteError;

/// A plain file in a remote directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteEntry {
    /// The file name, without directory.
    pub name: String,
    /// Its size, when the server said.
    pub size: Option<u64>,
    /// Whether it is a regular file (listings return only those; kept for
    /// callers that build entries themselves).
    pub is_file: bool,
}

/// One logged-in connection to a partner's server. Paths are the server's:
/// absolute, or relative to the login directory.
///
/// A refusal (`Refused`, `NotFound`) leaves the session usable. After a
/// `Timeout` or `Broken` error the connection may be out of step (an FTP reply
/// may still be on its way): drop the session and connect again.
#[async_trait::async_trait]
pub trait Session: Send {
    /// The plain files of `dir` (no directories, links or specials; `.`/`..` never).
    async fn list(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, RemoteError>;

    /// Streams the file at `path` into `sink`; returns the bytes written. The sink
    /// is flushed; on error it may hold part of the file.
    async fn download(&mut self, path: &str, sink: &mut (dyn AsyncWrite + Unpin + Send)) -> Result<u64, RemoteError>;

    /// Streams `source` to `dir/name`: written under a temporary name in `dir`
    /// (see [`temporary_name`]) and renamed to `name` only when complete, so a
    /// partner never sees half a file under `name`. An existing `name` is
    /// replaced. On failure the temporary file is removed if the connection
    /// still allows it. Returns the bytes sent.
    async fn upload(
        &mut self,
        dir: &str,
        name: &str,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<u64, RemoteError>;

    /// Removes the file at `path`.
    async fn delete(&mut self, path: &str) -> Result<(), RemoteError>;

    /// Renames (moves) `from` to `to` on the server.
    async fn rename(&mut self, from: &str, to: &str) -> Result<(), RemoteError>;

    /// Logs out and closes the connection (errors here are not worth a retry, but
    /// are reported).
    async fn close(self: Box<Self>) -> Result<(), RemoteError>;
}

/// The name an upload of `name` is written under until complete:
/// `.<name>.<6 random letters>.part` (hidden from most listings, never matching a
/// pattern meant for `name`), shortened to stay within 255 bytes.
pub fn temporary_name(name: &str) -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    const LIMIT: usize = 255;
    let tag: String = rand::rng().sample_iter(&Alphanumeric).take(6).map(char::from).collect();
    let suffix = format!(".{tag}.part");
    let mut kept = name;
    while 1 + kept.len() + suffix.len() > LIMIT {
        let mut end = kept.len().saturating_sub(1);
        while !kept.is_char_boundary(end) {
            end -= 1;
        }
        kept = kept.get(..end).unwrap_or_default();
    }
    format!(".{kept}{suffix}")
}

/// `dir/name`, without doubling a `/`; an empty `dir` is the login directory.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A plain file name: not empty, not `.` or `..`, no `/`, no control characters
/// (which could end an FTP command line).
pub(crate) fn check_name(name: &str) -> Result<(), RemoteError> {
    let bad =
        name.is_empty() || name == "." || name == ".." || name.contains('/') || name.chars().any(char::is_control);
    if bad { Err(RemoteError::Config(format!("{name:?} is not a plain file name"))) } else { Ok(()) }
}

/// No control characters in a path (CR/LF would end an FTP command).
pub(crate) fn check_path(path: &str) -> Result<(), RemoteError> {
    if path.chars().any(char::is_control) {
        Err(RemoteError::Config(format!("{path:?} contains control characters")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden_and_bounded() {
        let short = temporary_name("a.xml");
        assert!(short.starts_with(".a.xml.") && short.ends_with(".part"), "{short}");
        assert_ne!(temporary_name("a.xml"), temporary_name("a.xml"));
        let long = temporary_name(&"é".repeat(127));
        assert!(long.len() <= 255, "{}", long.len());
    }

    #[test]
    fn paths_are_joined_once() {
        assert_eq!(join("/out", "a"), "/out/a");
        assert_eq!(join("/out/", "a"), "/out/a");
        assert_eq!(join("", "a"), "a");
    }

    #[test]
    fn only_plain_names() {
        assert!(check_name("a b.xml").is_ok());
        for bad in ["", ".", "..", "a/b", "a\r\nDELE x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
