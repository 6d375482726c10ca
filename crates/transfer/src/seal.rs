//! Sealing secrets for the trip through the DMZ: AES-256-GCM with a random 96-bit
//! nonce per secret; the tag (16 bytes) ends the ciphertext. The secret's kind is
//! bound as associated data, so a sealed password cannot be passed off as a key.

use envelope::{SealKey, SealedSecret, SecretKind};
use openssl::rand::rand_bytes;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a secret could not be sealed or opened. Never carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the seal key must be {KEY_LEN} bytes")]
    BadKey,
    #[error("the sealed secret is malformed or was sealed with another key")]
    Open,
    #[error("sealing failed: {0}")]
    Crypto(String),
}

/// A fresh random key.
pub fn generate_key() -> Result<SealKey, SealError> {
    let mut key = vec![0u8; KEY_LEN];
    rand_bytes(&mut key).map_err(|e| SealError::Crypto(e.to_string()))?;
    Ok(SealKey(key))
}

/// Seals `plaintext` of the given kind.
pub fn seal(key: &SealKey, kind: SecretKind, plaintext: &[u8]) -> Result<SealedSecret, SealError> {
    check(key)?;
    let mut nonce = vec![0u8; NONCE_LEN];
    rand_bytes(&mut nonce).map_err(|e| SealError::Crypto(e.to_string()))?;
    let mut tag = [0u8; TAG_LEN];
    let mut ciphertext = encrypt_aead(Cipher::aes_256_gcm(), &key.0, Some(&nonce), aad(kind), plaintext, &mut tag)
        .map_err(|e| SealError::Crypto(e.to_string()))?;
    ciphertext.extend_from_slice(&tag);
    Ok(SealedSecret { nonce, ciphertext })
}

/// Opens a sealed secret of the given kind; the plaintext is wiped when dropped.
pub fn open(key: &SealKey, kind: SecretKind, sealed: &SealedSecret) -> Result<Zeroizing<Vec<u8>>, SealError> {
    check(key)?;
    if sealed.nonce.len() != NONCE_LEN || sealed.ciphertext.len() < TAG_LEN {
        return Err(SealError::Open);
    }
    let (body, tag) = sealed.ciphertext.split_at(sealed.ciphertext.len() - TAG_LEN);
    decrypt_aead(Cipher::aes_256_gcm(), &key.0, Some(&sealed.nonce), aad(kind), body, tag)
        .map(Zeroizing::new)
        .map_err(|_| SealError::Open)
}

fn check(key: &SealKey) -> Result<(), SealError> {
    if key.0.len() == KEY_LEN { Ok(()) } else { Err(SealError::BadKey) }
}

fn aad(kind: SecretKind) -> &'static [u8] {
    match kind {
        SecretKind::None => b"portcullis-seal-v1:none",
        SecretKind::Password => b"portcullis-seal-v1:password",
        SecretKind::PrivateKey => b"portcullis-seal-v1:private-key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_kind_only() {
        let key = generate_key().expect("key");
        let sealed = seal(&key, SecretKind::Password, b"hunter2").expect("seal");
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(open(&key, SecretKind::Password, &sealed).expect("open").as_slice(), b"hunter2");
        assert!(matches!(open(&key, SecretKind::PrivateKey, &sealed), Err(SealError::Open)));
        let other = generate_key().expect("key");
        assert!(matches!(open(&other, SecretKind::Password, &sealed), Err(SealError::Open)));
    }

    #[test]
    fn tampered_or_short_input_is_refused_without_panic() {
        let key = generate_key().expect("key");
        let mut sealed = seal(&key, SecretKind::Password, b"pw").expect("seal");
        sealed.ciphertext[0] ^= 1;
        assert!(open(&key, SecretKind::Password, &sealed).is_err());
        let short = SealedSecret { nonce: vec![0; 3], ciphertext: vec![1, 2] };
        assert!(open(&key, SecretKind::Password, &short).is_err());
        assert!(matches!(seal(&SealKey(vec![1; 5]), SecretKind::Password, b"x"), Err(SealError::BadKey)));
    }

    #[test]
    fn debug_shows_no_key_and_no_secret() {
        let key = generate_key().expect("key");
        let sealed = seal(&key, SecretKind::Password, b"pw").expect("seal");
        assert_eq!(format!("{key:?} {sealed:?}"), "SealKey(<redacted>) SealedSecret(<sealed>)");
    }
}
