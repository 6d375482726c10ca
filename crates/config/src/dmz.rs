//! `dmz.toml`: only what the DMZ needs to start. Everything partner-facing
//! (channels, logins, which listeners) is pushed by the inner at run time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::{Mode, Problems};

mod as2;
mod outbound;
mod smtp;

pub use as2::PartnerAs2;
pub use outbound::DmzOutbound;
pub use smtp::PartnerSmtp;

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
    pub sftp: PartnerSftp,
    pub ftp: PartnerFtp,
    pub smtp: PartnerSmtp,
    pub as2: PartnerAs2,
    pub internal_sftp: InternalSftp,
    /// How fetch and send requests of the inner are run.
    pub outbound: DmzOutbound,
    /// Where the config the inner pushes is kept.
    pub keep_config: KeepConfig,
}

/// Where the DMZ keeps the partner-facing config the inner pushes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepConfig {
    /// In the spool: after a restart the partner listeners run again at once,
    /// before the inner connects (secrets still come only with the next push).
    #[default]
    Disk,
    /// In memory only: never written to the DMZ's disk; the partner listeners run
    /// only while the link to the inner is up (the EFT DMZ Gateway behaviour).
    Memory,
}

/// DMZ-local settings of the partner SFTP listener (whether it runs and where is
/// pushed by the inner).
#[derive(Debug, Clone)]
pub struct PartnerSftp {
    /// The SSH host key (OpenSSH format); generated on first start when missing.
    pub host_key: PathBuf,
}

/// DMZ-local settings of the partner FTP/FTPS listener.
#[derive(Debug, Clone)]
pub struct PartnerFtp {
    /// Passive data ports (open them in the outer firewall).
    pub passive_ports: std::ops::RangeInclusive<u16>,
    /// The address announced in `PASV` replies; unset: the control connection's local address.
    pub passive_address: Option<std::net::IpAddr>,
    /// Certificate chain and key (PEM) for `AUTH TLS`. Unset: a self-signed pair is
    /// generated in the data dir on first start (fine for tests, not for partners).
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
}

/// The internal SFTP listener: only the inner peer logs in (key only) to fetch
/// payloads above `streaming_size` and to leave outbound files.
#[derive(Debug, Clone)]
pub struct InternalSftp {
    /// Port 8022 by default; bind it to the interface facing the inner node.
    pub listen: SocketAddr,
    /// Inner peers that may connect; empty means any. `deny` wins over `allow`.
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
    /// The inner's public keys (OpenSSH lines), e.g. its `dmz-sftp.key.pub`.
    pub authorized_keys: Vec<String>,
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

/// The admin HTTP listener (API, `/metrics`, status page); bind it to an internal address.
#[derive(Debug, Clone)]
pub struct Admin {
    pub listen: SocketAddr,
    /// The file holding the admin API's bearer token; unset: `<data_dir>/admin.token`,
    /// made on the first start. Relative paths are under `data_dir`.
    pub token_file: Option<PathBuf>,
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
    #[serde(default)]
    sftp: SftpFile,
    #[serde(default)]
    ftp: FtpFile,
    #[serde(default)]
    smtp: smtp::SmtpFile,
    #[serde(default)]
    as2: as2::As2File,
    internal_sftp: Option<InternalSftpFile>,
    #[serde(default)]
    outbound: outbound::OutboundFile,
    #[serde(default)]
    keep_config: KeepConfig,
}

#[derive(Debug, Default, Deserialize)]
struct SftpFile {
    host_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
struct FtpFile {
    passive_ports: Option<String>,
    passive_address: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct InternalSftpFile {
    #[serde(default = "default_internal_sftp_listen")]
    listen: String,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    authorized_keys: Vec<String>,
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
    #[serde(default)]
    token_file: Option<PathBuf>,
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

fn default_internal_sftp_listen() -> String {
    "0.0.0.0:8022".into()
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
        let smtp = self.smtp.validate(&self.node_id, &self.data_dir, problems);
        DmzSettings {
            node_id: self.node_id,
            data_dir: self.data_dir.clone(),
            message_service: self.message_service.validate(problems),
            admin: self.admin.validate(&self.data_dir, problems),
            limits: self.limits.validate(problems),
            sftp: PartnerSftp { host_key: in_dir(&self.data_dir, self.sftp.host_key, "ssh_host_ed25519_key") },
            ftp: self.ftp.validate(&self.data_dir, problems),
            smtp,
            as2: self.as2.validate(problems),
            internal_sftp: validate_internal_sftp(self.internal_sftp, problems),
            outbound: self.outbound.validate(problems),
            keep_config: self.keep_config,
        }
    }
}

/// `path` relative to the data dir, or the default name there.
fn in_dir(data_dir: &std::path::Path, path: Option<PathBuf>, default: &str) -> PathBuf {
    data_dir.join(path.unwrap_or_else(|| PathBuf::from(default)))
}

impl FtpFile {
    fn validate(self, data_dir: &std::path::Path, problems: &mut Problems) -> PartnerFtp {
        let text = self.passive_ports.unwrap_or_else(|| "30000-30099".into());
        let passive_ports = match text.split_once('-').map(|(a, b)| (a.trim().parse::<u16>(), b.trim().parse::<u16>()))
        {
            Some((Ok(low), Ok(high))) if 0 < low && low <= high => low..=high,
            _ => {
                problems.push(format!("ftp.passive_ports: {text:?} is not a range like \"30000-30099\""));
                30000..=30099
            }
        };
        let passive_address = self.passive_address.and_then(|text| {
            text.parse().map_err(|_| problems.push(format!("ftp.passive_address: {text:?} is not an IP address"))).ok()
        });
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            problems.push("ftp: set both tls_cert and tls_key, or neither");
        }
        PartnerFtp {
            passive_ports,
            passive_address,
            tls_cert: in_dir(data_dir, self.tls_cert, "ftps-cert.pem"),
            tls_key: in_dir(data_dir, self.tls_key, "ftps-key.pem"),
        }
    }
}

fn validate_internal_sftp(file: Option<InternalSftpFile>, problems: &mut Problems) -> InternalSftp {
    let file = file.unwrap_or(InternalSftpFile {
        listen: default_internal_sftp_listen(),
        allow: Vec::new(),
        deny: Vec::new(),
        authorized_keys: Vec::new(),
    });
    for key in &file.authorized_keys {
        problems.public_key("internal_sftp.authorized_keys", key);
    }
    InternalSftp {
        listen: problems.socket_addr("internal_sftp.listen", &file.listen),
        allow: problems.cidrs("internal_sftp.allow", &file.allow),
        deny: problems.cidrs("internal_sftp.deny", &file.deny),
        authorized_keys: file.authorized_keys,
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
    pub(crate) fn validate(self, data_dir: &Path, problems: &mut Problems) -> Admin {
        let token_file = self.token_file.map(|file| data_dir.join(file));
        Admin { listen: problems.socket_addr("admin.listen", &self.listen), token_file }
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
