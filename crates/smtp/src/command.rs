//! One SMTP command line → [`Command`] (RFC 5321 §4.1.1 verbs, §4.1.2 syntax, §4.1.4
//! case-insensitivity; ESMTP parameters of RFC 1870 `SIZE`, RFC 6152 `BODY`, RFC 4954
//! §5 `AUTH=`; RFC 3207 `STARTTLS`; RFC 4954 `AUTH`).
//!
//! Pure and total: any bytes give a command or a [`CommandError`], never a panic. The
//! line arrives with its CRLF stripped. It must be UTF-8 without control characters
//! (tab aside); mailboxes must be ASCII (SMTPUTF8 is not offered).

use std::fmt;

use crate::address::{self, PathKind};

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// `MAIL FROM:<path>`; `from` is empty for the null reverse path `<>`.
    Mail {
        from: String,
        size: Option<u64>,
    },
    Rcpt {
        to: String,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Auth {
        mechanism: Mechanism,
        initial: Option<Secret>,
    },
    /// A verb this server does not know (including `BDAT`, `EXPN`, `TURN`).
    Unknown,
}

/// An SASL mechanism named in `AUTH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    Other,
}

/// Base64 text that carries credentials: compared in tests, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a line is not a valid command; each kind has its own reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not UTF-8, or control characters: `500 5.5.2`.
    #[error("syntax error")]
    Garbled,
    /// Missing, extra or malformed arguments: `501 5.5.4`.
    #[error("invalid arguments")]
    Arguments,
    /// A malformed or over-long reverse path: `501 5.1.7`.
    #[error("bad sender address syntax")]
    Sender,
    /// A malformed or over-long forward path: `501 5.1.3`.
    #[error("bad recipient address syntax")]
    Recipient,
    /// An ESMTP parameter this server does not offer: `555 5.5.4`.
    #[error("unsupported parameter")]
    Parameter,
}

/// Longest EHLO/HELO argument (a domain, RFC 5321 §4.5.3.1.2).
const MAX_DOMAIN: usize = 255;

/// Parses one command line (without its CRLF).
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::Garbled)?;
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CommandError::Garbled);
    }
    let (verb, rest) = match line.split_once(' ') {
        Some((verb, rest)) => (verb, Some(rest)),
        None => (line, None),
    };
    let is = |name: &str| verb.eq_ignore_ascii_case(name);
    if is("EHLO") {
        domain(rest).map(Command::Ehlo)
    } else if is("HELO") {
        domain(rest).map(Command::Helo)
    } else if is("MAIL") {
        mail(rest.unwrap_or_default())
    } else if is("RCPT") {
        rcpt(rest.unwrap_or_default())
    } else if is("AUTH") {
        auth(rest.unwrap_or_default())
    } else if is("VRFY") {
        rest.filter(|r| !r.trim().is_empty()).map(|_| Command::Vrfy).ok_or(CommandError::Arguments)
    } else if is("NOOP") {
        Ok(Command::Noop)
    } else if is("HELP") {
        Ok(Command::Help)
    } else {
        bare(verb, rest)
    }
}

/// Verbs that take no argument at all (RFC 5321 §4.1.1.4, .5, .10; RFC 3207 §4).
fn bare(verb: &str, rest: Option<&str>) -> Result<Command, CommandError> {
    let verbs =
        [("DATA", Command::Data), ("RSET", Command::Rset), ("QUIT", Command::Quit), ("STARTTLS", Command::StartTls)];
    let command = verbs.into_iter().find(|(name, _)| verb.eq_ignore_ascii_case(name)).map(|(_, command)| command);
    match (command, rest) {
        (None, _) => Ok(Command::Unknown),
        (Some(command), None) => Ok(command),
        (Some(command), Some(rest)) if rest.trim().is_empty() => Ok(command),
        (Some(_), Some(_)) => Err(CommandError::Arguments),
    }
}

/// The EHLO/HELO argument: one domain or address literal; trailing words are ignored
/// (some old clients send them).
fn domain(rest: Option<&str>) -> Result<String, CommandError> {
    let name = rest.and_then(|r| r.split_ascii_whitespace().next()).ok_or(CommandError::Arguments)?;
    if name.len() > MAX_DOMAIN || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CommandError::Arguments);
    }
    Ok(name.to_owned())
}

/// `FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME] [AUTH=xtext]`.
fn mail(rest: &str) -> Result<Command, CommandError> {
    let after = strip_keyword(rest, "FROM:").ok_or(CommandError::Arguments)?;
    let (from, params) = address::parse_path(after.trim_start_matches(' '), PathKind::Reverse)?;
    let mut size = None;
    let mut body = false;
    let mut auth = false;
    for (key, value) in parameters(params)? {
        let seen = if key.eq_ignore_ascii_case("SIZE") {
            let previous = size.replace(size_value(value)?);
            previous.is_some()
        } else if key.eq_ignore_ascii_case("BODY") {
            let value = value.ok_or(CommandError::Arguments)?;
            if !value.eq_ignore_ascii_case("7BIT") && !value.eq_ignore_ascii_case("8BITMIME") {
                return Err(CommandError::Arguments);
            }
            std::mem::replace(&mut body, true)
        } else if key.eq_ignore_ascii_case("AUTH") {
            // RFC 4954 §5: a server that offers AUTH must accept the parameter; it only
            // matters to relays, so it is checked for presence and ignored.
            value.ok_or(CommandError::Arguments)?;
            std::mem::replace(&mut auth, true)
        } else {
            return Err(CommandError::Parameter);
        };
        if seen {
            return Err(CommandError::Arguments);
        }
    }
    Ok(Command::Mail { from, size })
}

/// `TO:<path>`; no RCPT parameter is offered.
fn rcpt(rest: &str) -> Result<Command, CommandError> {
    let after = strip_keyword(rest, "TO:").ok_or(CommandError::Arguments)?;
    let (to, params) = address::parse_path(after.trim_start_matches(' '), PathKind::Forward)?;
    if parameters(params)?.next().is_some() {
        return Err(CommandError::Parameter);
    }
    Ok(Command::Rcpt { to })
}

/// `mechanism [initial-response]` (RFC 4954 §4).
fn auth(rest: &str) -> Result<Command, CommandError> {
    let mut words = rest.split_ascii_whitespace();
    let name = words.next().filter(|m| is_mechanism_name(m)).ok_or(CommandError::Arguments)?;
    let initial = words.next().map(|w| Secret(w.to_owned()));
    if words.next().is_some() {
        return Err(CommandError::Arguments);
    }
    let mechanism = if name.eq_ignore_ascii_case("PLAIN") {
        Mechanism::Plain
    } else if name.eq_ignore_ascii_case("LOGIN") {
        Mechanism::Login
    } else {
        Mechanism::Other
    };
    Ok(Command::Auth { mechanism, initial })
}

/// RFC 4422 §3.1: 1–20 of upper-case letters, digits, `-` and `_` (taken case-insensitively).
fn is_mechanism_name(name: &str) -> bool {
    (1..=20).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn strip_keyword<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let head = rest.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword).then(|| &rest[keyword.len()..])
}

/// ESMTP parameters after a path (RFC 5321 §4.1.2 `Mail-parameters`): `SP`-separated
/// `keyword[=value]`.
fn parameters(text: &str) -> Result<impl Iterator<Item = (&str, Option<&str>)>, CommandError> {
    if !text.is_empty() && !text.starts_with(' ') {
        return Err(CommandError::Arguments);
    }
    let params: Vec<(&str, Option<&str>)> = text
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (p, None),
        })
        .collect();
    let well_formed = params.iter().all(|(key, value)| {
        key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && value.is_none_or(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && b != b'='))
    });
    if !well_formed {
        return Err(CommandError::Arguments);
    }
    Ok(params.into_iter())
}

/// RFC 1870 `size-value`: 1–20 digits; more than `u64` can hold is "too big", not a
/// syntax error.
fn size_value(value: Option<&str>) -> Result<u64, CommandError> {
    let value = value.filter(|v| (1..=20).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()));
    let value = value.ok_or(CommandError::Arguments)?;
    Ok(value.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e:?}"))
    }

    fn err(line: &[u8]) -> CommandError {
        match parse(line) {
            Ok(command) => panic!("{:?} parsed as {command:?}", String::from_utf8_lossy(line)),
            Err(e) => e,
        }
    }

    fn mail(from: &str, size: Option<u64>) -> Command {
        Command::Mail { from: from.into(), size }
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(ok("ehlo client.example"), Command::Ehlo("client.example".into()));
        assert_eq!(ok("HeLo [192.0.2.1]"), Command::Helo("[192.0.2.1]".into()));
        assert_eq!(ok("data"), Command::Data);
        assert_eq!(ok("Rset"), Command::Rset);
        assert_eq!(ok("noop anything at all"), Command::Noop);
        assert_eq!(ok("QUIT"), Command::Quit);
        assert_eq!(ok("vrfy bob"), Command::Vrfy);
        assert_eq!(ok("help mail"), Command::Help);
        assert_eq!(ok("starttls"), Command::StartTls);
        assert_eq!(ok("rcpt to:<a@b.example>"), Command::Rcpt { to: "a@b.example".into() });
    }

    #[test]
    fn unknown_verbs_including_unadvertised_extensions() {
        for line in ["BDAT 100 LAST", "EXPN staff", "TURN", "XYZZY", "", "MAILFROM:<a@b>"] {
            assert_eq!(ok(line), Command::Unknown, "{line}");
        }
    }

    #[test]
    fn mail_paths_and_parameters() {
        assert_eq!(ok("MAIL FROM:<a@b.example>"), mail("a@b.example", None));
        assert_eq!(ok("MAIL FROM: <a@b.example>"), mail("a@b.example", None));
        assert_eq!(ok("MAIL FROM:<>"), mail("", None));
        assert_eq!(ok("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME"), mail("a@b.example", Some(1000)));
        assert_eq!(ok("mail from:<a@b.example> size=5 body=7bit"), mail("a@b.example", Some(5)));
        assert_eq!(ok("MAIL FROM:<@relay.example:a@b.example>"), mail("a@b.example", None));
        assert_eq!(ok("MAIL FROM:<a@b.example> AUTH=<>"), mail("a@b.example", None));
        assert_eq!(ok("MAIL FROM:<a@b> SIZE=99999999999999999999"), mail("a@b", Some(u64::MAX)));
    }

    #[test]
    fn bad_mail_arguments() {
        assert_eq!(err(b"MAIL"), CommandError::Arguments);
        assert_eq!(err(b"MAIL TO:<a@b>"), CommandError::Arguments);
        assert_eq!(err(b"MAIL FROM:<a@b> SIZE=abc"), CommandError::Arguments);
        assert_eq!(err(b"MAIL FROM:<a@b> SIZE=1 SIZE=2"), CommandError::Arguments);
        assert_eq!(err(b"MAIL FROM:<a@b> BODY=BINARYMIME"), CommandError::Arguments);
        assert_eq!(err(b"MAIL FROM:<a@b>SIZE=1"), CommandError::Arguments);
        assert_eq!(err(b"MAIL FROM:<a@b> =x"), CommandError::Arguments);
        assert_eq!(err(b"MAIL FROM:a@b"), CommandError::Sender);
        assert_eq!(err(b"MAIL FROM:<a@b"), CommandError::Sender);
    }

    #[test]
    fn unknown_esmtp_parameters_are_555() {
        assert_eq!(err(b"MAIL FROM:<a@b> SMTPUTF8"), CommandError::Parameter);
        assert_eq!(err(b"MAIL FROM:<a@b> RET=HDRS"), CommandError::Parameter);
        assert_eq!(err(b"RCPT TO:<a@b> NOTIFY=NEVER"), CommandError::Parameter);
    }

    #[test]
    fn rcpt_needs_a_real_path() {
        assert_eq!(err(b"RCPT TO:<>"), CommandError::Recipient);
        assert_eq!(err(b"RCPT TO:"), CommandError::Recipient);
        assert_eq!(err(b"RCPT <a@b>"), CommandError::Arguments);
        assert_eq!(ok("RCPT TO:<Postmaster>"), Command::Rcpt { to: "Postmaster".into() });
    }

    #[test]
    fn helo_and_ehlo_need_a_name() {
        assert_eq!(err(b"EHLO"), CommandError::Arguments);
        assert_eq!(err(b"HELO "), CommandError::Arguments);
        assert_eq!(err("EHLO h\u{e9}llo".as_bytes()), CommandError::Arguments);
        assert_eq!(err(format!("EHLO {}", "x".repeat(256)).as_bytes()), CommandError::Arguments);
        assert_eq!(ok("EHLO a.example extra words"), Command::Ehlo("a.example".into()));
    }

    #[test]
    fn argumentless_verbs_refuse_arguments() {
        for line in ["DATA now", "RSET x", "QUIT bye", "STARTTLS please"] {
            assert_eq!(err(line.as_bytes()), CommandError::Arguments, "{line}");
        }
        assert_eq!(err(b"VRFY"), CommandError::Arguments);
    }

    #[test]
    fn auth_mechanisms_and_initial_responses() {
        assert_eq!(ok("AUTH PLAIN"), Command::Auth { mechanism: Mechanism::Plain, initial: None });
        assert_eq!(
            ok("auth plain AGJvYgBzZWNyZXQ="),
            Command::Auth { mechanism: Mechanism::Plain, initial: Some(Secret("AGJvYgBzZWNyZXQ=".into())) }
        );
        assert_eq!(ok("AUTH LOGIN"), Command::Auth { mechanism: Mechanism::Login, initial: None });
        assert_eq!(ok("AUTH CRAM-MD5"), Command::Auth { mechanism: Mechanism::Other, initial: None });
        assert_eq!(err(b"AUTH"), CommandError::Arguments);
        assert_eq!(err(b"AUTH PLAIN a b"), CommandError::Arguments);
        assert_eq!(err(b"AUTH PL@IN"), CommandError::Arguments);
    }

    #[test]
    fn secrets_do_not_print() {
        let command = ok("AUTH PLAIN AGJvYgBzZWNyZXQ=");
        assert!(!format!("{command:?}").contains("AGJvYg"));
    }

    #[test]
    fn control_characters_and_non_utf8_are_garbled() {
        for line in [&b"NOOP \0"[..], b"MAIL FROM:<a\0@b>", b"RCPT TO:<a@b>\r", b"\xff\xfe", b"EHLO \x1b[31m"] {
            assert_eq!(err(line), CommandError::Garbled, "{:?}", String::from_utf8_lossy(line));
        }
    }
}
