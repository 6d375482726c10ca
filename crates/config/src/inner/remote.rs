//! `[[channels.remotes]]`: partners' own servers a channel sends to or fetches from,
//! and `pickup` (a file placed on the DMZ for the partner to download).
//!
//! A remote's secret is given only by reference — `password_file`, `password_env`
//! or `key_file` (an SFTP private key) — and read when the config is loaded, into a
//! [`Secret`] that is wiped from memory when dropped and never printed. An inline
//! `password` is refused with a message saying what to write instead.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use envelope::{RemoteProtocol, SecretKind};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::Problems;

/// A validated remote.
#[derive(Debug, Clone)]
pub struct Remote {
    pub name: String,
    pub protocol: RemoteProtocol,
    /// Empty for `pickup`.
    pub host: String,
    pub port: u16,
    /// Login name; empty for none.
    pub user: String,
    pub secret: Secret,
    /// SFTP: the server's host key (OpenSSH public key line).
    pub host_key: Option<String>,
    pub accept_any_host_key: bool,
    /// FTPS/HTTPS/SMTP/AS2: pinned certificate (PEM text, read from `tls_cert`).
    pub tls_cert_pem: Option<String>,
    /// HTTP(S), AS2: path and query of the URL.
    pub url_path: Option<String>,
    /// HTTP(S): `PUT` instead of `POST`.
    pub http_put: bool,
    pub mail_from: Option<String>,
    pub mail_to: Vec<String>,
    pub starttls: bool,
    /// Default remote directory of sends (FTP/SFTP; pickup: below `outbox/`).
    pub directory: String,
    /// Through the DMZ (it dials the server) or straight from the inner.
    pub via_dmz: bool,
    /// Transient failures are retried `retries` times, waiting `retry_base_ms`
    /// doubled per attempt up to `retry_max_ms`.
    pub retries: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub connect_timeout_ms: u64,
    pub io_timeout_ms: u64,
    /// Pickup: the file is deleted after a complete download.
    pub delete_after_pickup: bool,
    /// AS2 sends: sign, encrypt, compress, ask for a signed MDN.
    pub as2_sign: bool,
    pub as2_encrypt: bool,
    pub as2_compress: bool,
    pub as2_signed_mdn: bool,
}

/// A remote's credential as read at load. Wiped when dropped; `Debug` shows its kind only.
#[derive(Clone)]
pub struct Secret {
    pub kind: SecretKind,
    pub bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    pub fn none() -> Self {
        Secret { kind: SecretKind::None, bytes: Zeroizing::new(Vec::new()) }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({:?}, <redacted>)", self.kind)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RemoteFile {
    name: String,
    protocol: RemoteProtocol,
    #[serde(default)]
    host: String,
    port: Option<u16>,
    #[serde(default)]
    user: String,
    /// Only here to be refused with a clear message.
    password: Option<toml::Value>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    key_file: Option<PathBuf>,
    host_key: Option<String>,
    #[serde(default)]
    accept_any_host_key: bool,
    tls_cert: Option<PathBuf>,
    url_path: Option<String>,
    #[serde(default)]
    method: Method,
    mail_from: Option<String>,
    #[serde(default)]
    mail_to: Vec<String>,
    #[serde(default)]
    starttls: bool,
    #[serde(default)]
    directory: String,
    #[serde(default = "yes")]
    via_dmz: bool,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_retry_base_ms")]
    retry_base_ms: u64,
    #[serde(default = "default_retry_max_ms")]
    retry_max_ms: u64,
    #[serde(default = "default_connect_timeout_ms")]
    connect_timeout_ms: u64,
    #[serde(default = "default_io_timeout_ms")]
    io_timeout_ms: u64,
    #[serde(default)]
    delete_after_pickup: bool,
    #[serde(default = "yes")]
    sign: bool,
    #[serde(default = "yes")]
    encrypt: bool,
    #[serde(default)]
    compress: bool,
    #[serde(default = "yes")]
    signed_mdn: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Method {
    #[default]
    Post,
    Put,
}

fn yes() -> bool {
    true
}
fn default_retries() -> u32 {
    5
}
fn default_retry_base_ms() -> u64 {
    30_000
}
fn default_retry_max_ms() -> u64 {
    3_600_000
}
fn default_connect_timeout_ms() -> u64 {
    30_000
}
fn default_io_timeout_ms() -> u64 {
    300_000
}

/// The port a protocol uses unless told otherwise.
pub fn default_port(protocol: RemoteProtocol) -> u16 {
    match protocol {
        RemoteProtocol::Ftp | RemoteProtocol::Ftps => 21,
        RemoteProtocol::Sftp => 22,
        RemoteProtocol::Http => 80,
        RemoteProtocol::Https | RemoteProtocol::As2 => 443,
        RemoteProtocol::Smtp => 25,
        RemoteProtocol::Pickup => 0,
    }
}

/// The remotes of one channel; `has_as2` says whether the channel has a partnership.
pub(super) fn validate_remotes(
    files: Vec<RemoteFile>,
    channel_field: &str,
    has_as2: bool,
    invisible: bool,
    data_dir: &Path,
    problems: &mut Problems,
) -> Vec<Remote> {
    let mut names = HashSet::new();
    files
        .into_iter()
        .map(|file| {
            let field = format!("{channel_field}.remotes[{}]", file.name);
            if envelope::validate_segment(&file.name).is_err() {
                problems.push(format!("{field}.name: must be a plain name"));
            }
            if !names.insert(file.name.clone()) {
                problems.push(format!("{field}: remote name defined twice in this channel"));
            }
            if file.protocol == RemoteProtocol::As2 && !has_as2 {
                problems.push(format!("{field}.protocol: as2 needs the channel's [channels.as2] partnership"));
            }
            if invisible && file.via_dmz {
                problems.push(format!(
                    "{field}.via_dmz: the channel is invisible_to_dmz, so the DMZ cannot reach this remote; \
                     set via_dmz = false"
                ));
            }
            file.validate(&field, data_dir, problems)
        })
        .collect()
}

impl RemoteFile {
    fn validate(self, field: &str, data_dir: &Path, problems: &mut Problems) -> Remote {
        let protocol = self.protocol;
        let pickup = protocol == RemoteProtocol::Pickup;
        if pickup && !self.host.is_empty() {
            problems.push(format!("{field}.host: a pickup remote has no host"));
        }
        if !pickup && (self.host.is_empty() || self.host.chars().any(|c| c.is_whitespace() || c == '/')) {
            problems.push(format!("{field}.host: required, a host name or IP address"));
        }
        if pickup && !self.via_dmz {
            problems.push(format!("{field}.via_dmz: pickup files are placed on the DMZ; via_dmz must be true"));
        }
        if self.delete_after_pickup && !pickup {
            problems.push(format!("{field}.delete_after_pickup: only for protocol = \"pickup\""));
        }
        let secret = self.secret(field, data_dir, problems);
        self.check_protocol_keys(field, problems);
        problems.range(&format!("{field}.retries"), u64::from(self.retries), 0, 1000);
        problems.range(&format!("{field}.retry_base_ms"), self.retry_base_ms, 1, 86_400_000);
        problems.range(&format!("{field}.retry_max_ms"), self.retry_max_ms, self.retry_base_ms, 7 * 86_400_000);
        problems.range(&format!("{field}.connect_timeout_ms"), self.connect_timeout_ms, 100, 600_000);
        problems.range(&format!("{field}.io_timeout_ms"), self.io_timeout_ms, 100, 86_400_000);
        let tls_cert_pem = self.tls_cert.as_ref().map(|p| read_pem_file(field, &data_dir.join(p), problems));
        let http_like = matches!(protocol, RemoteProtocol::Http | RemoteProtocol::Https | RemoteProtocol::As2);
        let url_path = self.url_path.clone().or_else(|| http_like.then(|| "/".to_string()));
        Remote {
            port: self.port.unwrap_or_else(|| default_port(protocol)),
            http_put: self.method == Method::Put,
            name: self.name,
            protocol,
            host: self.host,
            user: self.user,
            secret,
            host_key: self.host_key,
            accept_any_host_key: self.accept_any_host_key,
            tls_cert_pem,
            url_path,
            mail_from: self.mail_from,
            mail_to: self.mail_to,
            starttls: self.starttls,
            directory: self.directory,
            via_dmz: self.via_dmz,
            retries: self.retries,
            retry_base_ms: self.retry_base_ms,
            retry_max_ms: self.retry_max_ms,
            connect_timeout_ms: self.connect_timeout_ms,
            io_timeout_ms: self.io_timeout_ms,
            delete_after_pickup: self.delete_after_pickup,
            as2_sign: self.sign,
            as2_encrypt: self.encrypt,
            as2_compress: self.compress,
            as2_signed_mdn: self.signed_mdn,
        }
    }

    /// Keys that make sense for one protocol only.
    fn check_protocol_keys(&self, field: &str, problems: &mut Problems) {
        let protocol = self.protocol;
        let sftp = protocol == RemoteProtocol::Sftp;
        if sftp && self.host_key.is_none() && !self.accept_any_host_key {
            problems
                .push(format!("{field}: set host_key (the server's OpenSSH public key) or accept_any_host_key = true"));
        }
        if let Some(key) = &self.host_key {
            if !sftp {
                problems.push(format!("{field}.host_key: only for protocol = \"sftp\""));
            }
            problems.public_key(&format!("{field}.host_key"), key);
        }
        if self.method == Method::Put && !matches!(protocol, RemoteProtocol::Http | RemoteProtocol::Https) {
            problems.push(format!("{field}.method: only for http/https"));
        }
        if protocol == RemoteProtocol::Smtp {
            if self.mail_from.is_none() || self.mail_to.is_empty() {
                problems.push(format!("{field}: an smtp remote needs mail_from and mail_to"));
            }
        } else if self.mail_from.is_some() || !self.mail_to.is_empty() || self.starttls {
            problems.push(format!("{field}: mail_from, mail_to and starttls are only for protocol = \"smtp\""));
        }
    }

    /// Reads the secret named by `password_file`, `password_env` or `key_file`.
    fn secret(&self, field: &str, data_dir: &Path, problems: &mut Problems) -> Secret {
        if self.password.is_some() {
            problems.push(format!(
                "{field}.password: secrets are never written in the config; put the password in a file \
                 (password_file = \"...\", mode 0600) or an environment variable (password_env = \"NAME\")"
            ));
        }
        let given = [self.password_file.is_some(), self.password_env.is_some(), self.key_file.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            problems.push(format!("{field}: give only one of password_file, password_env and key_file"));
            return Secret::none();
        }
        if self.key_file.is_some() && self.protocol != RemoteProtocol::Sftp {
            problems.push(format!("{field}.key_file: only for protocol = \"sftp\""));
        }
        if let Some(path) = &self.password_file {
            let path = data_dir.join(path);
            match std::fs::read(&path) {
                Ok(bytes) => password(trim_line_end(bytes)),
                Err(error) => {
                    problems.push(format!("{field}.password_file: cannot read {}: {error}", path.display()));
                    Secret::none()
                }
            }
        } else if let Some(name) = &self.password_env {
            match std::env::var_os(name) {
                Some(value) => password(value.into_encoded_bytes()),
                None => {
                    problems.push(format!("{field}.password_env: the environment variable {name} is not set"));
                    Secret::none()
                }
            }
        } else if let Some(path) = &self.key_file {
            let path = data_dir.join(path);
            match std::fs::read(&path) {
                Ok(bytes) if bytes.windows(16).any(|w| w == b"PRIVATE KEY-----") => {
                    Secret { kind: SecretKind::PrivateKey, bytes: Zeroizing::new(bytes) }
                }
                Ok(_) => {
                    problems.push(format!("{field}.key_file: {} holds no PEM private key", path.display()));
                    Secret::none()
                }
                Err(error) => {
                    problems.push(format!("{field}.key_file: cannot read {}: {error}", path.display()));
                    Secret::none()
                }
            }
        } else {
            Secret::none()
        }
    }
}

fn password(bytes: Vec<u8>) -> Secret {
    Secret { kind: SecretKind::Password, bytes: Zeroizing::new(bytes) }
}

/// A password file usually ends with a newline that is not part of the password.
fn trim_line_end(mut bytes: Vec<u8>) -> Vec<u8> {
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    bytes
}

fn read_pem_file(field: &str, path: &Path, problems: &mut Problems) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) if text.contains("CERTIFICATE-----") => text,
        Ok(_) => {
            problems.push(format!("{field}.tls_cert: {} holds no PEM CERTIFICATE", path.display()));
            String::new()
        }
        Err(error) => {
            problems.push(format!("{field}.tls_cert: cannot read {}: {error}", path.display()));
            String::new()
        }
    }
}
