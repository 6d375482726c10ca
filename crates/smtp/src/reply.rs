//! Replies: RFC 5321 §4.2 (code and text, multi-line form §4.2.1), with enhanced status
//! codes (RFC 3463 classes and subjects, RFC 2034 usage) on every reply after the
//! greeting and EHLO, as `ENHANCEDSTATUSCODES` promises.
//!
//! Reply texts never echo what the client sent (no addresses, no AUTH data).

use std::borrow::Cow;

use partner::FsError;

/// One reply: a code and one line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: Cow<'static, str>,
}

impl Reply {
    const fn fixed(code: u16, text: &'static str) -> Reply {
        Reply { code, text: Cow::Borrowed(text) }
    }

    /// A permanent refusal (`5xx`), which the session counts as a client error.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// Appends `code SP text CRLF`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_lines(self.code, &[&self.text], out);
    }
}

/// Appends a reply of several lines (`code-text` … `code SP text`).
pub fn encode_lines(code: u16, lines: &[&str], out: &mut Vec<u8>) {
    for (i, line) in lines.iter().enumerate() {
        let separator = if i + 1 == lines.len() { ' ' } else { '-' };
        out.extend_from_slice(format!("{code}{separator}{line}\r\n").as_bytes());
    }
}

pub const OK: Reply = Reply::fixed(250, "2.0.0 OK");
pub const SENDER_OK: Reply = Reply::fixed(250, "2.1.0 sender OK");
pub const RECIPIENT_OK: Reply = Reply::fixed(250, "2.1.5 recipient OK");
pub const START_DATA: Reply = Reply::fixed(354, "End data with <CR><LF>.<CR><LF>");
pub const BYE: Reply = Reply::fixed(221, "2.0.0 bye");
pub const HELP: Reply =
    Reply::fixed(214, "2.0.0 commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
pub const CANNOT_VRFY: Reply =
    Reply::fixed(252, "2.5.0 cannot VRFY user, but will accept message and attempt delivery");
pub const READY_FOR_TLS: Reply = Reply::fixed(220, "2.0.0 ready to start TLS");
pub const AUTH_OK: Reply = Reply::fixed(235, "2.7.0 authentication succeeded");
/// RFC 4616 §2 / RFC 4954 §4: PLAIN without an initial response gets an empty challenge.
pub const AUTH_EMPTY_CHALLENGE: Reply = Reply::fixed(334, "");
/// `Username:` in base64 (the LOGIN mechanism's customary prompt).
pub const AUTH_USERNAME: Reply = Reply::fixed(334, "VXNlcm5hbWU6");
/// `Password:` in base64.
pub const AUTH_PASSWORD: Reply = Reply::fixed(334, "UGFzc3dvcmQ6");

pub const NEED_HELO: Reply = Reply::fixed(503, "5.5.1 send EHLO or HELO first");
pub const NEED_MAIL: Reply = Reply::fixed(503, "5.5.1 send MAIL first");
pub const NESTED_MAIL: Reply = Reply::fixed(503, "5.5.1 a transaction is already open");
pub const NO_VALID_RECIPIENTS: Reply = Reply::fixed(554, "5.5.1 no valid recipients");
pub const ALREADY_AUTHENTICATED: Reply = Reply::fixed(503, "5.5.1 already authenticated");
pub const AUTH_IN_TRANSACTION: Reply = Reply::fixed(503, "5.5.1 AUTH is not allowed during a transaction");
pub const ALREADY_TLS: Reply = Reply::fixed(503, "5.5.1 TLS already active");
pub const TLS_NOT_AVAILABLE: Reply = Reply::fixed(502, "5.5.1 STARTTLS not available");
pub const UNKNOWN_COMMAND: Reply = Reply::fixed(500, "5.5.1 command not recognized");
pub const SYNTAX: Reply = Reply::fixed(500, "5.5.2 syntax error");
pub const LINE_TOO_LONG: Reply = Reply::fixed(500, "5.5.2 line too long");
pub const ARGUMENTS: Reply = Reply::fixed(501, "5.5.4 invalid arguments");
pub const BAD_SENDER_SYNTAX: Reply = Reply::fixed(501, "5.1.7 bad sender address syntax");
pub const BAD_RECIPIENT_SYNTAX: Reply = Reply::fixed(501, "5.1.3 bad recipient address syntax");
pub const UNSUPPORTED_PARAMETER: Reply = Reply::fixed(555, "5.5.4 unsupported parameter");

pub const UNKNOWN_RECIPIENT: Reply = Reply::fixed(550, "5.1.1 no such recipient");
pub const ADDRESS_REFUSED: Reply = Reply::fixed(550, "5.7.1 mail for this recipient is not accepted from your address");
pub const AUTH_REQUIRED: Reply = Reply::fixed(530, "5.7.0 authentication required");
pub const OTHER_CHANNEL: Reply =
    Reply::fixed(452, "4.5.3 recipient of another channel: send it in a separate transaction");
pub const TOO_MANY_RECIPIENTS: Reply = Reply::fixed(452, "4.5.3 too many recipients");
pub const TRY_LATER: Reply = Reply::fixed(451, "4.3.0 temporarily unavailable, try again later");
pub const INSUFFICIENT_STORAGE: Reply = Reply::fixed(452, "4.3.1 insufficient system storage");

pub const AUTH_CANCELLED: Reply = Reply::fixed(501, "5.7.0 authentication cancelled");
pub const AUTH_BAD_ENCODING: Reply = Reply::fixed(501, "5.5.2 cannot decode the response");
pub const AUTH_FAILED: Reply = Reply::fixed(535, "5.7.8 authentication credentials invalid");
pub const ENCRYPTION_REQUIRED: Reply =
    Reply::fixed(538, "5.7.11 encryption required for requested authentication mechanism");
pub const UNKNOWN_MECHANISM: Reply = Reply::fixed(504, "5.5.4 unrecognized authentication type");

pub const RUNAWAY_LINE: Reply = Reply::fixed(421, "4.7.0 line too long, closing");
pub const TOO_MANY_ERRORS: Reply = Reply::fixed(421, "4.7.0 too many errors");
pub const IDLE_TIMEOUT: Reply = Reply::fixed(421, "4.4.2 idle timeout");
pub const SESSION_TOO_LONG: Reply = Reply::fixed(421, "4.4.2 session too long");
pub const SHUTTING_DOWN: Reply = Reply::fixed(421, "4.3.2 shutting down");
pub const TOO_MANY_CONNECTIONS: Reply = Reply::fixed(421, "4.3.2 too many connections");

/// `220 <hostname> ESMTP portcullis` (RFC 5321 §4.3.1; RFC 1869 §4.2 "ESMTP").
pub fn greeting(hostname: &str) -> Reply {
    Reply { code: 220, text: format!("{hostname} ESMTP portcullis").into() }
}

/// The answer to HELO (RFC 5321 §4.1.1.1).
pub fn helo(hostname: &str) -> Reply {
    Reply { code: 250, text: hostname.to_owned().into() }
}

/// RFC 1870 §6: declared or actual size over the limit.
pub fn too_big(max: u64) -> Reply {
    Reply { code: 552, text: format!("5.3.4 message size exceeds fixed maximum message size ({max} octets)").into() }
}

/// RFC 5321 §4.5.3.1.6: a text line over the limit (RFC 3463 5.6.0: other media error).
pub fn line_too_long_in_message(max: usize) -> Reply {
    Reply { code: 554, text: format!("5.6.0 message has a line longer than {max} octets").into() }
}

/// The message is durable: RFC 5321 §4.1.1.4's 250, with the envelope id.
pub fn queued(id: envelope::EnvelopeId) -> Reply {
    Reply { code: 250, text: format!("2.0.0 OK queued as {id}").into() }
}

/// A gateway failure: a full spool is `452 4.3.1`, anything else `451 4.3.0`.
pub fn for_fs_error(error: &FsError) -> Reply {
    match error {
        FsError::InsufficientStorage => INSUFFICIENT_STORAGE,
        _ => TRY_LATER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.encode(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn single_and_multi_line_forms() {
        assert_eq!(bytes(&OK), "250 2.0.0 OK\r\n");
        assert_eq!(bytes(&AUTH_EMPTY_CHALLENGE), "334 \r\n");
        let mut out = Vec::new();
        encode_lines(250, &["mx.example", "PIPELINING", "HELP"], &mut out);
        assert_eq!(out, b"250-mx.example\r\n250-PIPELINING\r\n250 HELP\r\n");
    }

    #[test]
    fn storage_errors_map_to_their_codes() {
        assert_eq!(for_fs_error(&FsError::InsufficientStorage).code, 452);
        assert_eq!(for_fs_error(&FsError::Unavailable("spool".into())).code, 451);
        assert_eq!(for_fs_error(&FsError::NotFound).code, 451);
    }
}
