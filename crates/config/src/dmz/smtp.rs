//! `[smtp]` of `dmz.toml`: DMZ-local settings of the partner SMTP listener
//! (whether it runs and where is pushed by the inner, like every partner listener).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::in_dir;
use crate::Problems;

/// The validated `[smtp]` table.
#[derive(Debug, Clone)]
pub struct PartnerSmtp {
    /// The name in the greeting and the EHLO reply (the MX name partners use).
    pub hostname: String,
    /// Announced with SIZE; a larger message is refused with 552.
    pub max_message_bytes: u64,
    /// Recipients per message; more get 452 (the client sends them later).
    pub max_recipients: usize,
    /// Without a byte from the client this long, the session is closed (421).
    pub idle_timeout: Duration,
    /// No session lasts longer than this (421).
    pub session_timeout: Duration,
    /// Concurrent sessions; more are refused with 421 at connect.
    pub max_sessions: usize,
    /// Offer AUTH on connections that did not STARTTLS (off: passwords never
    /// cross the network in clear).
    pub auth_without_tls: bool,
    /// Certificate chain and key (PEM) for STARTTLS. Unset: a self-signed pair is
    /// generated in the data dir on first start (fine for tests, not for partners).
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
}

#[derive(Debug, Deserialize)]
pub(super) struct SmtpFile {
    hostname: Option<String>,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: u64,
    #[serde(default = "default_max_recipients")]
    max_recipients: u64,
    #[serde(default = "default_idle_timeout_secs")]
    idle_timeout_secs: u64,
    #[serde(default = "default_session_timeout_secs")]
    session_timeout_secs: u64,
    #[serde(default = "default_max_sessions")]
    max_sessions: u64,
    #[serde(default)]
    auth_without_tls: bool,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

impl Default for SmtpFile {
    fn default() -> Self {
        SmtpFile {
            hostname: None,
            max_message_bytes: default_max_message_bytes(),
            max_recipients: default_max_recipients(),
            idle_timeout_secs: default_idle_timeout_secs(),
            session_timeout_secs: default_session_timeout_secs(),
            max_sessions: default_max_sessions(),
            auth_without_tls: false,
            tls_cert: None,
            tls_key: None,
        }
    }
}

fn default_max_message_bytes() -> u64 {
    64 << 20
}
fn default_max_recipients() -> u64 {
    100
}
fn default_idle_timeout_secs() -> u64 {
    300
}
fn default_session_timeout_secs() -> u64 {
    1800
}
fn default_max_sessions() -> u64 {
    500
}

impl SmtpFile {
    /// `node_id` is the hostname when none is set.
    pub(super) fn validate(self, node_id: &str, data_dir: &Path, problems: &mut Problems) -> PartnerSmtp {
        let hostname = self.hostname.unwrap_or_else(|| node_id.to_owned());
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-.".contains(&b);
        if hostname.is_empty() || hostname.len() > 255 || !hostname.bytes().all(plain) {
            problems.push(format!("smtp.hostname: {hostname:?} is not a host name"));
        }
        problems.range("smtp.max_message_bytes", self.max_message_bytes, 1024, u64::MAX);
        problems.range("smtp.max_recipients", self.max_recipients, 1, 10_000);
        problems.range("smtp.idle_timeout_secs", self.idle_timeout_secs, 1, 3600);
        problems.range("smtp.session_timeout_secs", self.session_timeout_secs, 1, 86_400);
        problems.range("smtp.max_sessions", self.max_sessions, 1, 100_000);
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            problems.push("smtp: set both tls_cert and tls_key, or neither");
        }
        PartnerSmtp {
            hostname,
            max_message_bytes: self.max_message_bytes,
            max_recipients: self.max_recipients as usize,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            session_timeout: Duration::from_secs(self.session_timeout_secs),
            max_sessions: self.max_sessions as usize,
            auth_without_tls: self.auth_without_tls,
            tls_cert: in_dir(data_dir, self.tls_cert, "smtp-cert.pem"),
            tls_key: in_dir(data_dir, self.tls_key, "smtp-key.pem"),
        }
    }
}
