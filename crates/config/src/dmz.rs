//! `dmz.toml`: only what the DMZ needs to start. Everything partner-facing
//! (channels, logins, which listeners) is pushed by the inner at run time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::{Mode, Problems};

/// The validated DMZ configuration.
#[derive(Debug, Clone)]
pub struct DmzSettings {
    /// Names this node in handshakes and logs.
    pub node_id: String,
    /// Spool and state live here.
    pub data_dir: PathBuf,
    pub message_service: DmzMessageService,
    pub admin: Admin,
    pub limits: DmzLimits,
}

/// The DMZ's side of the MessageService.
#[derive(Debug, Clone)]
pub struct DmzMessageService {
    /// Where the DMZ listens for the inner node (port 8020 by default).
    pub listen: SocketAddr,
    pub mode: Mode,
    /// Direct mode only: where the DMZ posts envelopes to the inner node.
    pub inner_url: Option<String>,
    /// Inner peers that may connect; empty means any. `deny` wins over `allow`.
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
    /// How long an idle pushback exchange is held open.
    pub long_poll: Duration,
    /// Direct mode: ceiling of the reconnect backoff.
    pub reconnect_max: Duration,
}

/// The admin HTTP listener (injection, status); bind it to an internal address.
#[derive(Debug, Clone)]
pub struct Admin {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct DmzLimits {
    /// Largest payload accepted through the admin injection endpoint (413 above).
    pub max_payload_bytes: u64,
    /// Spool byte quota; beyond it deliveries are refused as "insufficient storage".
    pub spool_quota_bytes: u64,
}

/// `dmz.toml` as written.
#[derive(Debug, Deserialize)]
pub struct DmzFile {
    role: String,
    node_id: String,
    data_dir: PathBuf,
    message_service: MessageServiceFile,
    admin: AdminFile,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Debug, Deserialize)]
struct MessageServiceFile {
    #[serde(default = "default_ms_listen")]
    listen: String,
    mode: Mode,
    inner_url: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default = "default_long_poll_secs")]
    long_poll_secs: u64,
    #[serde(default = "default_reconnect_max_ms")]
    reconnect_max_ms: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AdminFile {
    listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct LimitsFile {
    max_payload_bytes: u64,
    spool_quota_bytes: u64,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile { max_payload_bytes: 1 << 20, spool_quota_bytes: 10 << 30 }
    }
}

fn default_ms_listen() -> String {
    "0.0.0.0:8020".into()
}

/// Largest `limits.max_payload_bytes` while every payload travels inline.
pub const MAX_INLINE_PAYLOAD: u64 = 32 << 20;

pub(crate) fn default_long_poll_secs() -> u64 {
    25
}

pub(crate) fn default_reconnect_max_ms() -> u64 {
    5_000
}

impl DmzFile {
    pub(crate) fn validate(self, problems: &mut Problems) -> DmzSettings {
        if self.role != "dmz" {
            problems.push(format!("role: this is a DMZ config, found role = {:?}", self.role));
        }
        check_node_id(problems, &self.node_id);
        DmzSettings {
            node_id: self.node_id,
            data_dir: self.data_dir,
            message_service: self.message_service.validate(problems),
            admin: self.admin.validate(problems),
            limits: self.limits.validate(problems),
        }
    }
}

impl MessageServiceFile {
    fn validate(self, problems: &mut Problems) -> DmzMessageService {
        let field = "message_service.inner_url";
        let inner_url = problems
            .direct_only(field, self.mode, self.inner_url.as_deref(), "the DMZ never dials inward")
            .map(|url| problems.http_url(field, url));
        let (long_poll, reconnect_max) =
            problems.link_timing("message_service", self.long_poll_secs, self.reconnect_max_ms);
        DmzMessageService {
            listen: problems.socket_addr("message_service.listen", &self.listen),
            mode: self.mode,
            inner_url,
            allow: problems.cidrs("message_service.allow", &self.allow),
            deny: problems.cidrs("message_service.deny", &self.deny),
            long_poll,
            reconnect_max,
        }
    }
}

impl AdminFile {
    pub(crate) fn validate(self, problems: &mut Problems) -> Admin {
        Admin { listen: problems.socket_addr("admin.listen", &self.listen) }
    }
}

impl LimitsFile {
    fn validate(self, problems: &mut Problems) -> DmzLimits {
        // Every payload travels inline for now, so it must fit one MessageService
        // frame (64 MiB) with room to spare; larger ones come with by-reference.
        problems.range("limits.max_payload_bytes", self.max_payload_bytes, 0, MAX_INLINE_PAYLOAD);
        problems.range("limits.spool_quota_bytes", self.spool_quota_bytes, 1 << 20, u64::MAX);
        DmzLimits { max_payload_bytes: self.max_payload_bytes, spool_quota_bytes: self.spool_quota_bytes }
    }
}

/// Node ids appear in HTTP headers and logs: keep them simple.
pub(crate) fn check_node_id(problems: &mut Problems, id: &str) {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        problems.push(format!("node_id: {id:?} must be 1-64 characters of A-Z a-z 0-9 - _ ."));
    }
}
