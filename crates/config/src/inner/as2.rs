//! `[channels.as2]`: a channel's AS2 partnership. The certificate and key files
//! are read when the config is loaded (and at every reload), so a missing or
//! unreadable file is a config problem reported with the others, before the inner
//! starts or pushes anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Problems;

/// A validated AS2 partnership, with the PEM texts it names.
#[derive(Clone)]
pub struct As2Channel {
    /// The partner's AS2 name (`AS2-From` of its messages) and ours (`AS2-To`).
    pub partner_id: String,
    pub our_id: String,
    /// The partner's certificate (verifies its signatures), ours, and our private key.
    pub partner_cert_pem: String,
    pub our_cert_pem: String,
    pub our_key_pem: String,
    /// Messages that are not signed / not encrypted are refused.
    pub require_signed: bool,
    pub require_encrypted: bool,
}

impl std::fmt::Debug for As2Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("As2Channel")
            .field("partner_id", &self.partner_id)
            .field("our_id", &self.our_id)
            .field("our_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct As2File {
    partner_id: String,
    our_id: String,
    /// PEM files, relative to `data_dir` unless absolute.
    partner_cert: PathBuf,
    our_cert: PathBuf,
    our_key: PathBuf,
    #[serde(default = "yes")]
    require_signed: bool,
    #[serde(default = "yes")]
    require_encrypted: bool,
}

fn yes() -> bool {
    true
}

impl As2File {
    /// `pairs` collects (partner, our id) pairs: each may belong to one channel.
    pub(super) fn validate(
        self,
        field: &str,
        data_dir: &Path,
        pairs: &mut HashSet<(String, String)>,
        problems: &mut Problems,
    ) -> As2Channel {
        let field = format!("{field}.as2");
        for (name, id) in [("partner_id", &self.partner_id), ("our_id", &self.our_id)] {
            if let Err(reason) = check_as2_name(id) {
                problems.push(format!("{field}.{name}: {id:?} {reason}"));
            }
        }
        if !pairs.insert((self.partner_id.clone(), self.our_id.clone())) {
            problems.push(format!("{field}: {} → {} belongs to another channel too", self.partner_id, self.our_id));
        }
        let mut read =
            |name: &str, path: &Path, marker: &str| read_pem(&field, name, &data_dir.join(path), marker, problems);
        As2Channel {
            partner_cert_pem: read("partner_cert", &self.partner_cert, "CERTIFICATE-----"),
            our_cert_pem: read("our_cert", &self.our_cert, "CERTIFICATE-----"),
            our_key_pem: read("our_key", &self.our_key, "PRIVATE KEY-----"),
            partner_id: self.partner_id,
            our_id: self.our_id,
            require_signed: self.require_signed,
            require_encrypted: self.require_encrypted,
        }
    }
}

/// RFC 4130 §6.2: 1 to 128 printable ASCII characters.
fn check_as2_name(id: &str) -> Result<(), &'static str> {
    match id.len() {
        1..=128 if id.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => Ok(()),
        _ => Err("must be 1-128 printable ASCII characters"),
    }
}

/// The file's text, if it is readable PEM with `marker` in it; a problem otherwise.
fn read_pem(field: &str, name: &str, path: &Path, marker: &str, problems: &mut Problems) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) if text.contains(marker) => text,
        Ok(_) => {
            problems.push(format!("{field}.{name}: {} holds no PEM {}", path.display(), marker.trim_end_matches('-')));
            String::new()
        }
        Err(error) => {
            problems.push(format!("{field}.{name}: cannot read {}: {error}", path.display()));
            String::new()
        }
    }
}
