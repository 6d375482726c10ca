//! `[channels.as2]`: a channel's AS2 partnership. The certificate and key files
//! are read when the config is loaded (and at every reload), so a missing or
//! unreadable file is a config problem reported with the others, before the inner
//! starts or pushes anything.

use std::collections::{HashMap, HashSet};
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

/// Our AS2 id is one identity: channels that name the same `our_id` must name the
/// same key and certificate (the DMZ holds one key per id).
pub(super) fn check_one_key_per_id(channels: &[super::Channel], problems: &mut Problems) {
    let mut first: HashMap<&str, (&str, &As2Channel)> = HashMap::new();
    for channel in channels {
        let Some(as2) = &channel.as2 else { continue };
        match first.get(as2.our_id.as_str()) {
            Some((name, seen)) if seen.our_key_pem != as2.our_key_pem || seen.our_cert_pem != as2.our_cert_pem => {
                problems.push(format!(
                    "channels[{}].as2: our_id {:?} has another key or certificate in channels[{name}]",
                    channel.name, as2.our_id
                ));
            }
            Some(_) => {}
            None => {
                first.insert(&as2.our_id, (&channel.name, as2));
            }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn inner_toml(dir: &Path, channels: &str) -> String {
        format!(
            "role = \"inner\"\nnode_id = \"i\"\ndata_dir = \"{}\"\n[dmz]\nurl = \"http://127.0.0.1:8020\"\n\
             mode = \"pushback\"\n[admin]\nlisten = \"127.0.0.1:9001\"\n{channels}",
            dir.display()
        )
    }

    fn channel(name: &str, partner: &str, key: &str) -> String {
        format!(
            "[[channels]]\nname = \"{name}\"\n[channels.as2]\npartner_id = \"{partner}\"\nour_id = \"US\"\n\
             partner_cert = \"p.pem\"\nour_cert = \"us.pem\"\nour_key = \"{key}\"\n"
        )
    }

    #[test]
    fn files_are_read_and_our_id_names_one_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.path().join("p.pem"), cert).expect("p");
        std::fs::write(dir.path().join("us.pem"), cert).expect("us");
        std::fs::write(dir.path().join("k1"), "-----BEGIN PRIVATE KEY-----\nK1\n-----END PRIVATE KEY-----\n")
            .expect("k1");
        std::fs::write(dir.path().join("k2"), "-----BEGIN PRIVATE KEY-----\nK2\n-----END PRIVATE KEY-----\n")
            .expect("k2");
        let good = inner_toml(dir.path(), &(channel("a", "P1", "k1") + &channel("b", "P2", "k1")));
        let settings = crate::parse_inner(&good).expect("two partners, one identity");
        assert!(settings.channels[0].as2.as_ref().is_some_and(|a| a.our_key_pem.contains("K1")));
        let clash = inner_toml(dir.path(), &(channel("a", "P1", "k1") + &channel("b", "P2", "k2")));
        let problems = crate::parse_inner(&clash).expect_err("one id, two keys");
        assert!(problems.iter().any(|p| p.contains("our_id \"US\" has another key")), "{problems:?}");
        let missing = inner_toml(dir.path(), &channel("a", "P1", "nope"));
        let problems = crate::parse_inner(&missing).expect_err("missing key file");
        assert!(problems.iter().any(|p| p.contains("as2.our_key: cannot read")), "{problems:?}");
        let pair = inner_toml(dir.path(), &(channel("a", "P1", "k1") + &channel("b", "P1", "k1")));
        let problems = crate::parse_inner(&pair).expect_err("one pair, two channels");
        assert!(problems.iter().any(|p| p.contains("belongs to another channel")), "{problems:?}");
    }
}
