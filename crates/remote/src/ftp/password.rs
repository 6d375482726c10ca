//! Keeping the FTP password out of logs. suppaftp traces every control line it
//! sends, `PASS` included, through the `log` crate, which a tracing subscriber
//! may forward. So suppaftp never sees the password: it is asked to send
//! `PASS` with a placeholder, and this [`Encoding`] (which turns each command
//! line into bytes just before they are written) puts the password in place of
//! that one exact line. Installed for the login only.

use std::io;

use suppaftp::Encoding;
use zeroize::Zeroizing;

/// What suppaftp is given as the password.
pub(super) const PLACEHOLDER: &str = "<password withheld>";

/// UTF-8, except that `PASS <placeholder>` becomes `PASS <password>`.
pub(super) struct PasswordLine {
    line: Zeroizing<Vec<u8>>,
}

impl PasswordLine {
    pub(super) fn new(password: &str) -> PasswordLine {
        PasswordLine { line: Zeroizing::new(format!("PASS {password}\r\n").into_bytes()) }
    }
}

impl std::fmt::Debug for PasswordLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordLine(<redacted>)")
    }
}

impl Encoding for PasswordLine {
    fn decode(&self, bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
        if text.strip_suffix("\r\n").and_then(|t| t.strip_prefix("PASS ")) == Some(PLACEHOLDER) {
            Ok(self.line.to_vec())
        } else {
            Ok(text.as_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_placeholder_line_carries_the_password() {
        let encoding = PasswordLine::new("s3cret");
        let pass = encoding.encode(&format!("PASS {PLACEHOLDER}\r\n")).ok();
        assert_eq!(pass.as_deref(), Some(&b"PASS s3cret\r\n"[..]));
        let other = encoding.encode("STOR x\r\n").ok();
        assert_eq!(other.as_deref(), Some(&b"STOR x\r\n"[..]));
        assert!(!format!("{encoding:?}").contains("s3cret"));
    }
}
