//! SSH keys kept in the data dir: a host key for each SSH listener and the inner's
//! client key for the DMZ's internal SFTP. Generated on first start (ed25519), written
//! with mode 0600 and an OpenSSH `.pub` beside it, reused ever after.

use std::io::Write;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
pub use russh::keys::{PrivateKey, PublicKey};

/// Why a key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not an OpenSSH private key: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

/// Loads the private key at `path`, or generates an ed25519 key there if the file
/// does not exist yet (also writing `<path>.pub`).
pub fn load_or_generate(path: &Path) -> Result<PrivateKey, KeyError> {
    match std::fs::read(path) {
        Ok(pem) => PrivateKey::from_openssh(pem)
            .map_err(|e| KeyError::Unreadable { path: path.to_owned(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => generate(path),
        Err(source) => Err(KeyError::Io { path: path.to_owned(), source }),
    }
}

/// The OpenSSH public key line of `key` (`ssh-ed25519 AAAA…`), without comment.
pub fn public_line(key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh().unwrap_or_default()
}

/// Parses an OpenSSH public key line (comment optional).
pub fn parse_public(line: &str) -> Option<PublicKey> {
    PublicKey::from_openssh(line.trim()).ok()
}

/// Whether two public keys are the same key (comments ignored).
pub fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

fn generate(path: &Path) -> Result<PrivateKey, KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    let mut seed = [0u8; 32];
    rand_seed(&mut seed);
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| KeyError::Unreadable { path: path.to_owned(), reason: e.to_string() })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    write_atomically(path, pem.as_bytes(), 0o600).map_err(io)?;
    let public = format!("{}\n", public_line(key.public_key()));
    write_atomically(&path.with_extension("pub"), public.as_bytes(), 0o644).map_err(io)?;
    tracing::info!(message = "generated a new SSH key", path = %path.display(), public = %public.trim());
    Ok(key)
}

fn rand_seed(seed: &mut [u8; 32]) {
    use rand::RngCore;
    rand::rng().fill_bytes(seed);
}

/// Writes a file via a temporary name, fsyncs it, renames it into place.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("host_key");
        let first = load_or_generate(&path).expect("generate");
        let again = load_or_generate(&path).expect("reload");
        assert!(same_key(first.public_key(), again.public_key()));
        let public = std::fs::read_to_string(path.with_extension("pub")).expect("pub file");
        let parsed = parse_public(&public).expect("parse .pub");
        assert!(same_key(&parsed, first.public_key()));
        let mode = std::fs::metadata(&path).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
        assert_eq!(mode.expect("mode") & 0o777, 0o600);
    }

    #[test]
    fn a_garbled_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("host_key");
        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(load_or_generate(&path), Err(KeyError::Unreadable { .. })));
    }
}
