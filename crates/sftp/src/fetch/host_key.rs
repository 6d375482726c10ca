//! Checking the DMZ's host key before anything else is sent: either a pinned key
//! from the config, or trust on first use (the first key seen is written to a file
//! and every later connection must present the same key). A mismatch ends the
//! handshake: no login, no request.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use russh::keys::PublicKeyOrCertificate;

use crate::keys::{PublicKey, parse_public, public_line, same_key};

/// Which host key the DMZ's internal SFTP server must present.
#[derive(Clone, Debug)]
pub enum HostKeyPolicy {
    /// Exactly this key (from `dmz.sftp_host_key`).
    Pinned(PublicKey),
    /// The key in this file; the first key seen is written there when it does not
    /// exist yet (OpenSSH public key line).
    TrustOnFirstUse(PathBuf),
}

/// The russh client handler: checks the host key, remembers why it refused one.
pub(super) struct HostKeyCheck {
    pub(super) policy: HostKeyPolicy,
    /// Why the last key was refused, for the error message.
    pub(super) refusal: Arc<Mutex<Option<String>>>,
}

impl russh::client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, presented: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = presented else {
            self.refuse("the server presented a certificate; a plain host key is expected".into());
            return Ok(false);
        };
        match check(&self.policy, key) {
            Ok(()) => Ok(true),
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

/// Whether `key` is acceptable under `policy`; under trust on first use, records
/// the key when no key was recorded yet.
fn check(policy: &HostKeyPolicy, key: &PublicKey) -> Result<(), String> {
    match policy {
        HostKeyPolicy::Pinned(pinned) if same_key(pinned, key) => Ok(()),
        HostKeyPolicy::Pinned(pinned) => Err(mismatch(pinned, key)),
        HostKeyPolicy::TrustOnFirstUse(path) => match std::fs::read_to_string(path) {
            Ok(text) => match parse_public(&text) {
                Some(known) if same_key(&known, key) => Ok(()),
                Some(known) => Err(format!("{} (known key from {})", mismatch(&known, key), path.display())),
                None => Err(format!("{}: not an OpenSSH public key; fix or delete it", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => remember(path, key),
            Err(e) => Err(format!("{}: {e}", path.display())),
        },
    }
}

fn mismatch(expected: &PublicKey, presented: &PublicKey) -> String {
    format!(
        "host key mismatch: expected {}, got {}",
        expected.fingerprint(Default::default()),
        presented.fingerprint(Default::default())
    )
}

/// Writes the first key seen, durably, before trusting it.
fn remember(path: &Path, key: &PublicKey) -> Result<(), String> {
    let line = format!("{}\n", public_line(key));
    write_durably(path, line.as_bytes()).map_err(|e| format!("{}: cannot record the host key: {e}", path.display()))?;
    tracing::warn!(
        message = "trusting the DMZ's SFTP host key on first use",
        fingerprint = %key.fingerprint(Default::default()),
        file = %path.display()
    );
    Ok(())
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::load_or_generate;

    #[test]
    fn trust_on_first_use_records_then_enforces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_generate(&dir.path().join("a")).expect("key a");
        let other = load_or_generate(&dir.path().join("b")).expect("key b");
        let policy = HostKeyPolicy::TrustOnFirstUse(dir.path().join("known/host.pub"));
        assert_eq!(check(&policy, first.public_key()), Ok(()));
        assert_eq!(check(&policy, first.public_key()), Ok(()));
        let refused = check(&policy, other.public_key()).expect_err("another key is refused");
        assert!(refused.contains("mismatch"), "{refused}");
    }

    #[test]
    fn a_pinned_key_refuses_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pinned = load_or_generate(&dir.path().join("a")).expect("key a");
        let other = load_or_generate(&dir.path().join("b")).expect("key b");
        let policy = HostKeyPolicy::Pinned(pinned.public_key().clone());
        assert_eq!(check(&policy, pinned.public_key()), Ok(()));
        assert!(check(&policy, other.public_key()).is_err());
    }
}
