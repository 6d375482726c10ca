//! The server's host key, checked during the key exchange, before anything of
//! the login is sent: the configured key, or (only when explicitly allowed) any
//! key, logged with its fingerprint. With no key configured the connection is
//! refused and the error names the key the server presented, so it can be
//! checked out of band and configured.

use std::sync::{Arc, Mutex, PoisonError};

use russh::keys::{PublicKey, PublicKeyOrCertificate};

use crate::error::RemoteError;

/// What a server's host key must be.
#[derive(Clone, Debug)]
pub(super) enum Expected {
    Key(Box<PublicKey>),
    Any,
    Unconfigured,
}

impl Expected {
    /// From the endpoint's `host_key` and `accept_any_host_key`.
    pub(super) fn from_config(host_key: Option<&str>, accept_any: bool) -> Result<Expected, RemoteError> {
        match host_key {
            Some(line) => PublicKey::from_openssh(line.trim())
                .map(|key| Expected::Key(Box::new(key)))
                .map_err(|e| RemoteError::Config(format!("host_key is not an OpenSSH public key: {e}"))),
            None if accept_any => Ok(Expected::Any),
            None => Ok(Expected::Unconfigured),
        }
    }
}

/// The russh client handler: checks the host key, remembers why it refused one.
pub(super) struct HostKeyCheck {
    pub(super) expected: Expected,
    pub(super) address: String,
    pub(super) refusal: Arc<Mutex<Option<String>>>,
}

impl russh::client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, presented: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = presented else {
            self.refuse("the server presented a host certificate; a plain host key is expected".into());
            return Ok(false);
        };
        match check(&self.expected, key) {
            Ok(()) => {
                if matches!(self.expected, Expected::Any) {
                    tracing::warn!(
                        server = %self.address,
                        fingerprint = %key.fingerprint(Default::default()),
                        "accepting any SFTP host key (accept_any_host_key is set)"
                    );
                }
                Ok(true)
            }
            Err(reason) => {
                self.refuse(reason);
                Ok(false)
            }
        }
    }
}

impl HostKeyCheck {
    fn refuse(&self, reason: String) {
        *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
    }
}

fn check(expected: &Expected, presented: &PublicKey) -> Result<(), String> {
    match expected {
        Expected::Any => Ok(()),
        Expected::Key(key) if key.key_data() == presented.key_data() => Ok(()),
        Expected::Key(key) => Err(format!(
            "host key mismatch: expected {}, the server presents {}",
            key.fingerprint(Default::default()),
            presented.fingerprint(Default::default())
        )),
        Expected::Unconfigured => Err(format!(
            "no host key is configured; the server presents {} ({}): check it with the partner, then set host_key",
            presented.fingerprint(Default::default()),
            openssh_line(presented)
        )),
    }
}

fn openssh_line(key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKsRu/3VvfExYfGkfnQXf6XMn5ulaJCFglRrLDG4G98R a";
    const B: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOrEFHrMvLFIpZ4oPWdGzfDgtlTBbhG2k4BBeoo0W+uc b";

    fn key(line: &str) -> PublicKey {
        match PublicKey::from_openssh(line) {
            Ok(key) => key,
            Err(e) => panic!("test key: {e}"),
        }
    }

    #[test]
    fn only_the_configured_key_passes() {
        let expected = Expected::from_config(Some(A), false).ok();
        let Some(expected) = expected else { panic!("config") };
        assert!(check(&expected, &key(A)).is_ok());
        let refused = check(&expected, &key(B)).err().unwrap_or_default();
        assert!(refused.contains("mismatch"), "{refused}");
    }

    #[test]
    fn unconfigured_refuses_and_names_the_key() {
        let refused = check(&Expected::Unconfigured, &key(A)).err().unwrap_or_default();
        assert!(refused.contains("AAAAC3NzaC1lZDI1NTE5AAAAIKsRu"), "{refused}");
        assert!(check(&Expected::Any, &key(A)).is_ok());
    }

    #[test]
    fn a_garbled_key_is_a_config_error() {
        assert!(matches!(Expected::from_config(Some("ssh-ed25519 nope"), false), Err(RemoteError::Config(_))));
    }
}
