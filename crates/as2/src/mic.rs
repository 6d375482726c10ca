//! The Received-Content-MIC (RFC 4130 §7.3.1): a digest of the MIME entity the
//! partner protected, returned in the MDN so that the partner can match it against
//! the digest it computed when sending.
//!
//! Which bytes: for a signed message, the signed entity (the first part of the
//! `multipart/signed`, headers and body exactly as received); for an encrypted but
//! unsigned one, the decrypted entity; otherwise the received entity (its content
//! headers as `Name: value` CRLF lines, an empty line, the body).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, STANDARD_PAD_INDIFFERENT as BASE64_LENIENT};
use openssl::hash::{Hasher, MessageDigest};

/// A digest algorithm: for MICs, MDN signatures and the signatures of outbound
/// messages. SHA-256 unless a partner needs another (MD5 is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MicAlg {
    Sha1,
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

impl MicAlg {
    /// `sha256`, `SHA-256`, `sha-256` …; `None` for anything else (md5 is refused).
    pub(crate) fn parse(name: &str) -> Option<MicAlg> {
        let compact: String = name.trim().chars().filter(|c| *c != '-' && *c != '_').collect();
        match compact.to_ascii_lowercase().as_str() {
            "sha1" => Some(MicAlg::Sha1),
            "sha256" => Some(MicAlg::Sha256),
            "sha384" => Some(MicAlg::Sha384),
            "sha512" => Some(MicAlg::Sha512),
            _ => None,
        }
    }

    /// The first algorithm of a comma-separated list that we support.
    pub(crate) fn first_supported<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<MicAlg> {
        names.find_map(MicAlg::parse)
    }

    /// The name in a Received-Content-MIC field (RFC 4130 §7.3.1 style: `sha256`).
    pub(crate) fn mic_name(self) -> &'static str {
        match self {
            MicAlg::Sha1 => "sha1",
            MicAlg::Sha256 => "sha256",
            MicAlg::Sha384 => "sha384",
            MicAlg::Sha512 => "sha512",
        }
    }

    /// The `micalg` parameter of a `multipart/signed` (RFC 5751 §3.4.3.2: `sha-256`).
    pub(crate) fn micalg_param(self) -> &'static str {
        match self {
            MicAlg::Sha1 => "sha-1",
            MicAlg::Sha256 => "sha-256",
            MicAlg::Sha384 => "sha-384",
            MicAlg::Sha512 => "sha-512",
        }
    }

    pub(crate) fn digest(self) -> MessageDigest {
        match self {
            MicAlg::Sha1 => MessageDigest::sha1(),
            MicAlg::Sha256 => MessageDigest::sha256(),
            MicAlg::Sha384 => MessageDigest::sha384(),
            MicAlg::Sha512 => MessageDigest::sha512(),
        }
    }

    /// The DER content of the digest algorithm's OBJECT IDENTIFIER.
    pub(crate) fn oid(self) -> &'static [u8] {
        match self {
            MicAlg::Sha1 => &[0x2b, 0x0e, 0x03, 0x02, 0x1a],
            MicAlg::Sha256 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
            MicAlg::Sha384 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
            MicAlg::Sha512 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03],
        }
    }

    /// The digest of the concatenation of `parts`.
    pub(crate) fn hash(self, parts: &[&[u8]]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut hasher = Hasher::new(self.digest())?;
        for part in parts {
            hasher.update(part)?;
        }
        Ok(hasher.finish()?.to_vec())
    }
}

/// A computed MIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mic {
    pub alg: MicAlg,
    pub digest: Vec<u8>,
}

impl Mic {
    pub(crate) fn of(alg: MicAlg, parts: &[&[u8]]) -> Result<Mic, openssl::error::ErrorStack> {
        Ok(Mic { alg, digest: alg.hash(parts)? })
    }

    /// A MIC as the MDN field writes it (`base64, sha256`; any spelling of the
    /// algorithm [`MicAlg::parse`] takes); `None` if it is not one.
    pub(crate) fn parse(text: &str) -> Option<Mic> {
        let (digest, alg) = text.split_once(',')?;
        let alg = MicAlg::parse(alg)?;
        let compact: Vec<u8> = digest.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        let digest = BASE64_LENIENT.decode(compact).ok()?;
        Some(Mic { alg, digest })
    }
}

impl std::fmt::Display for Mic {
    /// `base64, sha256`, as the MDN field wants it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}", BASE64.encode(&self.digest), self.alg.mic_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spellings_partners_use() {
        for (name, alg) in [
            ("sha256", Some(MicAlg::Sha256)),
            ("SHA-256", Some(MicAlg::Sha256)),
            (" sha_384 ", Some(MicAlg::Sha384)),
            ("sha-1", Some(MicAlg::Sha1)),
            ("SHA1", Some(MicAlg::Sha1)),
            ("sha512", Some(MicAlg::Sha512)),
            ("md5", None),
            ("", None),
        ] {
            assert_eq!(MicAlg::parse(name), alg, "{name}");
        }
        assert_eq!(MicAlg::first_supported(["md5", "sha-512", "sha1"].into_iter()), Some(MicAlg::Sha512));
    }

    #[test]
    fn formats_known_digests() {
        // sha256("abc") and sha1("abc"), well known.
        let mic = Mic::of(MicAlg::Sha256, &[b"a", b"bc"]).expect("digest");
        assert_eq!(mic.to_string(), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha256");
        let mic = Mic::of(MicAlg::Sha1, &[b"abc"]).expect("digest");
        assert_eq!(mic.to_string(), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=, sha1");
        assert_eq!(MicAlg::Sha384.hash(&[b""]).expect("digest").len(), 48);
        assert_eq!(MicAlg::Sha512.micalg_param(), "sha-512");
    }

    #[test]
    fn parses_what_it_formats_and_the_spellings_of_others() {
        let mic = Mic::of(MicAlg::Sha384, &[b"entity"]).expect("digest");
        assert_eq!(Mic::parse(&mic.to_string()), Some(mic.clone()));
        let text = mic.to_string();
        let (digest, _) = text.split_once(',').expect("comma");
        assert_eq!(Mic::parse(&format!(" {digest} ,SHA-384 ")), Some(mic));
        let sha1 = Mic { alg: MicAlg::Sha1, digest: b"\xa9\x99\x3e\x36".to_vec() };
        assert_eq!(Mic::parse("qZk+Ng, sha1"), Some(sha1), "padding optional");
        for bad in ["", "qZk+Ng==", "qZk+Ng==, md5", "!!, sha256", ", sha256x"] {
            assert_eq!(Mic::parse(bad), None, "{bad}");
        }
    }
}
