//! SMTP AUTH exchanges: RFC 4954 §4 (challenges, `*` cancels, `=` is an empty initial
//! response), PLAIN (RFC 4616 §2) and LOGIN (draft-murchison-sasl-login: `Username:`
//! and `Password:` prompts, an initial response carries the user name).
//!
//! Pure: turns the client's lines into credentials for the gateway or a refusal. The
//! credentials and the lines that carry them are never logged or echoed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT as BASE64;

use crate::command::Mechanism;
use crate::reply::{self, Reply};

/// What the client's next line answers.
#[derive(Clone, PartialEq, Eq)]
pub enum Exchange {
    /// The PLAIN message after an empty challenge.
    Plain,
    /// LOGIN's user name.
    LoginUser,
    /// LOGIN's password, for this user.
    LoginPassword(String),
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exchange::Plain => "Plain",
            Exchange::LoginUser => "LoginUser",
            Exchange::LoginPassword(_) => "LoginPassword(<redacted>)",
        })
    }
}

/// A user name and password to check.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Where an exchange stands after a client line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this `334` challenge; the next line answers `Exchange`.
    Challenge(Reply, Exchange),
    /// Ask the gateway.
    Check(Credentials),
    /// The exchange is over, refused with this reply.
    Refuse(Reply),
}

/// `AUTH mechanism [initial-response]`.
pub fn start(mechanism: &Mechanism, initial: Option<&str>) -> Next {
    match (mechanism, initial) {
        (Mechanism::Plain, None) => Next::Challenge(reply::AUTH_EMPTY_CHALLENGE, Exchange::Plain),
        (Mechanism::Plain, Some(response)) => respond(Exchange::Plain, response),
        (Mechanism::Login, None) => Next::Challenge(reply::AUTH_USERNAME, Exchange::LoginUser),
        (Mechanism::Login, Some(response)) => respond(Exchange::LoginUser, response),
        (Mechanism::Other, _) => Next::Refuse(reply::UNKNOWN_MECHANISM),
    }
}

/// The client's answer to a challenge (or its initial response).
pub fn respond(exchange: Exchange, line: &str) -> Next {
    if line == "*" {
        return Next::Refuse(reply::AUTH_CANCELLED);
    }
    let Some(bytes) = decode(line) else { return Next::Refuse(reply::AUTH_BAD_ENCODING) };
    match exchange {
        Exchange::Plain => plain(&bytes),
        Exchange::LoginUser => match String::from_utf8(bytes) {
            Ok(user) => Next::Challenge(reply::AUTH_PASSWORD, Exchange::LoginPassword(user)),
            Err(_) => Next::Refuse(reply::AUTH_BAD_ENCODING),
        },
        Exchange::LoginPassword(user) => match String::from_utf8(bytes) {
            Ok(password) => Next::Check(Credentials { user, password }),
            Err(_) => Next::Refuse(reply::AUTH_BAD_ENCODING),
        },
    }
}

/// Base64, `=` standing for an empty response.
fn decode(line: &str) -> Option<Vec<u8>> {
    if line == "=" {
        return Some(Vec::new());
    }
    BASE64.decode(line.trim_end()).ok()
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`. This server lets a login act only
/// as itself, so the authzid must be empty or the authcid.
fn plain(message: &[u8]) -> Next {
    let parts: Vec<&[u8]> = message.split(|&b| b == 0).collect();
    let [authzid, authcid, password] = parts.as_slice() else { return Next::Refuse(reply::AUTH_BAD_ENCODING) };
    let (Ok(authzid), Ok(user), Ok(password)) =
        (std::str::from_utf8(authzid), std::str::from_utf8(authcid), std::str::from_utf8(password))
    else {
        return Next::Refuse(reply::AUTH_BAD_ENCODING);
    };
    if user.is_empty() || (!authzid.is_empty() && authzid != user) {
        return Next::Refuse(reply::AUTH_FAILED);
    }
    Next::Check(Credentials { user: user.to_owned(), password: password.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        BASE64.encode(bytes)
    }

    fn check(user: &str, password: &str) -> Next {
        Next::Check(Credentials { user: user.into(), password: password.into() })
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let message = b64(b"\0alice\0s3cret");
        assert_eq!(start(&Mechanism::Plain, Some(&message)), check("alice", "s3cret"));
        assert_eq!(start(&Mechanism::Plain, None), Next::Challenge(reply::AUTH_EMPTY_CHALLENGE, Exchange::Plain));
        assert_eq!(respond(Exchange::Plain, &message), check("alice", "s3cret"));
        assert_eq!(respond(Exchange::Plain, &b64(b"alice\0alice\0pw")), check("alice", "pw"));
    }

    #[test]
    fn plain_refusals() {
        assert_eq!(respond(Exchange::Plain, &b64(b"mallory\0alice\0pw")), Next::Refuse(reply::AUTH_FAILED));
        assert_eq!(respond(Exchange::Plain, &b64(b"\0\0pw")), Next::Refuse(reply::AUTH_FAILED));
        assert_eq!(respond(Exchange::Plain, &b64(b"alice\0pw")), Next::Refuse(reply::AUTH_BAD_ENCODING));
        assert_eq!(respond(Exchange::Plain, &b64(b"\0a\0p\0q")), Next::Refuse(reply::AUTH_BAD_ENCODING));
        assert_eq!(respond(Exchange::Plain, &b64(b"\0a\0\xff")), Next::Refuse(reply::AUTH_BAD_ENCODING));
        assert_eq!(respond(Exchange::Plain, "not base64!"), Next::Refuse(reply::AUTH_BAD_ENCODING));
        assert_eq!(respond(Exchange::Plain, "="), Next::Refuse(reply::AUTH_BAD_ENCODING));
        assert_eq!(respond(Exchange::Plain, "*"), Next::Refuse(reply::AUTH_CANCELLED));
    }

    #[test]
    fn login_prompts_for_user_then_password() {
        assert_eq!(start(&Mechanism::Login, None), Next::Challenge(reply::AUTH_USERNAME, Exchange::LoginUser));
        let after_user = Next::Challenge(reply::AUTH_PASSWORD, Exchange::LoginPassword("bob".into()));
        assert_eq!(respond(Exchange::LoginUser, &b64(b"bob")), after_user);
        assert_eq!(start(&Mechanism::Login, Some(&b64(b"bob"))), after_user);
        assert_eq!(respond(Exchange::LoginPassword("bob".into()), &b64(b"pw")), check("bob", "pw"));
        assert_eq!(respond(Exchange::LoginPassword("bob".into()), "*"), Next::Refuse(reply::AUTH_CANCELLED));
        assert_eq!(respond(Exchange::LoginUser, "%%%"), Next::Refuse(reply::AUTH_BAD_ENCODING));
    }

    #[test]
    fn unknown_mechanism_and_unpadded_base64() {
        assert_eq!(start(&Mechanism::Other, None), Next::Refuse(reply::UNKNOWN_MECHANISM));
        let unpadded = b64(b"\0alice\0pw").trim_end_matches('=').to_owned();
        assert_eq!(respond(Exchange::Plain, &unpadded), check("alice", "pw"));
    }

    #[test]
    fn nothing_secret_in_debug_output() {
        let printed = format!("{:?} {:?}", check("alice", "hunter2"), Exchange::LoginPassword("alice".into()));
        assert!(!printed.contains("hunter2") && !printed.contains("alice"), "{printed}");
    }
}
