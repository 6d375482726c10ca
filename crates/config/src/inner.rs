//! `inner.toml`: everything but what the DMZ needs to start — the link to the DMZ,
//! channels (and the partner logins the DMZ verifies), profiles.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use envelope::Protocol;
use ipnet::IpNet;
use serde::Deserialize;

use crate::dmz::{Admin, AdminFile, check_node_id, default_long_poll_secs, default_reconnect_max_ms};
use crate::{Mode, PathGlob, Problems};

mod as2;
mod jobs;
mod remote;
mod response;
#[cfg(test)]
mod tests;

pub use as2::As2Channel;
pub use jobs::Job;
pub use remote::{Remote, Secret, default_port};
pub use response::{Response, render};

/// The validated inner configuration.
#[derive(Debug, Clone)]
pub struct InnerSettings {
    pub node_id: String,
    /// Spool, state and (by default) the inbox live here.
    pub data_dir: PathBuf,
    /// Payloads above this many bytes travel by reference, not inline.
    pub streaming_size: u64,
    pub dmz: DmzLink,
    pub admin: Admin,
    /// Partner listeners the DMZ is told to run.
    pub dmz_listeners: Vec<envelope::PartnerListener>,
    pub channels: Vec<Channel>,
    /// In order: the first profile that matches a delivery handles it.
    pub profiles: Vec<Profile>,
    /// Scheduled fetches from partners' servers.
    pub jobs: Vec<Job>,
}

impl InnerSettings {
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// How the inner reaches the DMZ.
#[derive(Debug, Clone)]
pub struct DmzLink {
    /// The DMZ's MessageService, e.g. `http://10.0.0.5:8020`.
    pub url: String,
    pub mode: Mode,
    /// Direct mode only: where the inner listens for the DMZ.
    pub listen: Option<SocketAddr>,
    /// Direct mode: which DMZ addresses may post to `listen`; empty means any.
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
    pub long_poll: Duration,
    pub reconnect_max: Duration,
    /// The DMZ's internal SFTP listener, where payloads above `streaming_size` are
    /// fetched from (default: the MessageService host, port 8022).
    pub sftp: SocketAddr,
    /// The user name the inner logs in with there (key login only).
    pub sftp_user: String,
    /// The inner's private key for that login; generated on first start when
    /// missing (the `.pub` beside it goes into the DMZ's `internal_sftp.authorized_keys`).
    pub sftp_key: PathBuf,
    /// The DMZ's host key (OpenSSH public key line). Unset: the first key seen is
    /// recorded in the data dir and required from then on.
    pub sftp_host_key: Option<String>,
}

/// One partner relationship.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    /// Never pushed to the DMZ: exists only inside.
    pub invisible_to_dmz: bool,
    /// FTP partners of this channel must switch to TLS (`AUTH TLS`) before logging in.
    pub ftp_tls_required: bool,
    pub logins: Vec<Login>,
    /// Mail to these addresses (lower case) belongs to this channel.
    pub smtp_addresses: Vec<String>,
    /// Mail for this channel is taken only after SMTP AUTH as one of its logins.
    pub smtp_auth_required: bool,
    /// The channel's AS2 partnership, if it receives AS2.
    pub as2: Option<As2Channel>,
    /// Partners' servers (and the pickup area) this channel sends to or fetches from.
    pub remotes: Vec<Remote>,
    /// Where files dropped in `<data_dir>/outbox/<channel>/` are sent: a remote's name.
    pub outbox_remote: Option<String>,
    /// The partner addresses this channel accepts connections from (pushed to the DMZ).
    pub addresses: envelope::AddressRules,
    /// Whether the DMZ takes this channel's deliveries while the inner is unreachable.
    pub when_inner_down: envelope::WhenInnerDown,
}

impl Channel {
    pub fn remote(&self, name: &str) -> Option<&Remote> {
        self.remotes.iter().find(|r| r.name == name)
    }
}

/// How a partner logs in to the DMZ: verifiers only, never a plaintext secret.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password_hash: Option<String>,
    pub public_keys: Vec<String>,
}

/// Where matching deliveries go.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// A channel name, or `*` for every channel.
    pub channel: String,
    pub path: PathGlob,
    /// Files land at `<directory>/<channel>/<path>`.
    pub directory: PathBuf,
    pub if_exists: IfExists,
    /// What a mail (SMTP delivery) becomes: the `.eml` as received, or its attachments.
    pub mail: MailForm,
    /// Sent back to the partner after each delivery, if set.
    pub respond: Option<Response>,
}

impl Profile {
    pub fn matches(&self, channel: &str, path: &str) -> bool {
        (self.channel == "*" || self.channel == channel) && self.path.matches(path)
    }
}

/// What to do when the target file already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IfExists {
    /// Keep both: the new file gets the delivery id before its extension.
    Rename,
    /// Replace the old file atomically.
    Overwrite,
}

/// How a profile delivers mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailForm {
    /// The message as received: `<channel>/<id>.eml`.
    #[default]
    Message,
    /// Its attachments as separate files in a directory `<channel>/<id>/` (the
    /// message itself as `message.eml` there when it has none).
    Attachments,
}

/// `inner.toml` as written.
#[derive(Debug, Deserialize)]
pub struct InnerFile {
    role: String,
    node_id: String,
    data_dir: PathBuf,
    #[serde(default = "default_streaming_size")]
    streaming_size: u64,
    dmz: DmzLinkFile,
    admin: AdminFile,
    #[serde(default)]
    dmz_listeners: Vec<ListenerFile>,
    #[serde(default)]
    channels: Vec<ChannelFile>,
    #[serde(default)]
    profiles: Vec<ProfileFile>,
    #[serde(default)]
    jobs: Vec<jobs::JobFile>,
}

#[derive(Debug, Deserialize)]
struct DmzLinkFile {
    url: String,
    mode: Mode,
    listen: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default = "default_long_poll_secs")]
    long_poll_secs: u64,
    #[serde(default = "default_reconnect_max_ms")]
    reconnect_max_ms: u64,
    sftp: Option<String>,
    #[serde(default = "default_sftp_user")]
    sftp_user: String,
    sftp_key: Option<PathBuf>,
    sftp_host_key: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListenerFile {
    protocol: Protocol,
    bind: String,
}

#[derive(Debug, Deserialize)]
struct ChannelFile {
    name: String,
    #[serde(default)]
    invisible_to_dmz: bool,
    #[serde(default)]
    ftp_tls_required: bool,
    #[serde(default)]
    logins: Vec<LoginFile>,
    #[serde(default)]
    smtp_addresses: Vec<String>,
    #[serde(default)]
    smtp_auth_required: bool,
    as2: Option<as2::As2File>,
    #[serde(default)]
    remotes: Vec<remote::RemoteFile>,
    outbox_remote: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    when_inner_down: envelope::WhenInnerDown,
}

#[derive(Debug, Deserialize)]
struct LoginFile {
    user: String,
    password_hash: Option<String>,
    #[serde(default)]
    public_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ProfileFile {
    name: String,
    channel: String,
    #[serde(default = "default_glob")]
    path: String,
    directory: Option<PathBuf>,
    #[serde(default = "default_if_exists")]
    if_exists: IfExists,
    #[serde(default)]
    mail: MailForm,
    respond: Option<response::ResponseFile>,
}

fn default_streaming_size() -> u64 {
    1 << 20
}

fn default_sftp_user() -> String {
    "inner".into()
}

fn default_glob() -> String {
    "**".into()
}

fn default_if_exists() -> IfExists {
    IfExists::Rename
}

impl InnerFile {
    pub(crate) fn validate(self, problems: &mut Problems) -> InnerSettings {
        if self.role != "inner" {
            problems.push(format!("role: this is an inner config, found role = {:?}", self.role));
        }
        check_node_id(problems, &self.node_id);
        problems.range("streaming_size", self.streaming_size, 1024, 16 << 20);
        let channels = validate_channels(self.channels, &self.data_dir, problems);
        let profiles = validate_profiles(self.profiles, &channels, &self.data_dir, problems);
        let jobs = jobs::validate_jobs(self.jobs, &channels, problems);
        InnerSettings {
            node_id: self.node_id,
            streaming_size: self.streaming_size,
            dmz: self.dmz.validate(&self.data_dir, problems),
            admin: self.admin.validate(&self.data_dir, problems),
            dmz_listeners: validate_listeners(self.dmz_listeners, problems),
            channels,
            profiles,
            jobs,
            data_dir: self.data_dir,
        }
    }
}

impl DmzLinkFile {
    fn validate(self, data_dir: &std::path::Path, problems: &mut Problems) -> DmzLink {
        let listen = problems
            .direct_only("dmz.listen", self.mode, self.listen.as_deref(), "the inner does not listen")
            .map(|text| problems.socket_addr("dmz.listen", text));
        let (long_poll, reconnect_max) = problems.link_timing("dmz", self.long_poll_secs, self.reconnect_max_ms);
        let url = problems.http_url("dmz.url", &self.url);
        let sftp = match &self.sftp {
            Some(text) => problems.socket_addr("dmz.sftp", text),
            None => format!("{}:8022", url_host(&url)).parse().unwrap_or_else(|_| {
                problems.push("dmz.sftp: dmz.url does not name an IP address; set dmz.sftp = \"IP:8022\"");
                SocketAddr::from(([127, 0, 0, 1], 8022))
            }),
        };
        if let Some(key) = &self.sftp_host_key {
            problems.public_key("dmz.sftp_host_key", key);
        }
        DmzLink {
            url,
            mode: self.mode,
            listen,
            allow: problems.cidrs("dmz.allow", &self.allow),
            deny: problems.cidrs("dmz.deny", &self.deny),
            long_poll,
            reconnect_max,
            sftp,
            sftp_user: self.sftp_user,
            sftp_key: self.sftp_key.map(|k| data_dir.join(k)).unwrap_or_else(|| data_dir.join("dmz-sftp.key")),
            sftp_host_key: self.sftp_host_key,
        }
    }
}

/// `host` of `http://host:port/...` (brackets kept for IPv6).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    }
}

fn validate_listeners(files: Vec<ListenerFile>, problems: &mut Problems) -> Vec<envelope::PartnerListener> {
    let mut seen = HashSet::new();
    files
        .into_iter()
        .enumerate()
        .map(|(i, file)| {
            let field = format!("dmz_listeners[{i}]");
            match file.protocol {
                Protocol::Admin => problems.push(format!("{field}.protocol: \"admin\" is not a partner protocol")),
                Protocol::Ftps => problems.push(format!(
                    "{field}.protocol: use \"ftp\": it offers explicit FTPS (AUTH TLS); require TLS per channel \
                     with ftp_tls_required"
                )),
                _ => {}
            }
            let bind = problems.socket_addr(&format!("{field}.bind"), &file.bind);
            if !seen.insert(bind) {
                problems.push(format!("{field}.bind: {bind} is used by another listener"));
            }
            envelope::PartnerListener { protocol: file.protocol, bind }
        })
        .collect()
}

fn validate_channels(files: Vec<ChannelFile>, data_dir: &std::path::Path, problems: &mut Problems) -> Vec<Channel> {
    let mut names = HashSet::new();
    let mut as2_pairs = HashSet::new();
    let mut users = HashSet::new();
    let mut addresses = HashSet::new();
    let channels: Vec<Channel> = files
        .into_iter()
        .map(|file| {
            let field = format!("channels[{}]", file.name);
            if envelope::validate_segment(&file.name).is_err() {
                problems.push(format!(
                    "{field}.name: must be a plain name (no '/', no leading '.', no control characters)"
                ));
            }
            if !names.insert(file.name.clone()) {
                problems.push(format!("{field}: channel name defined twice"));
            }
            let logins = file.logins.into_iter().map(|l| l.validate(&field, problems)).collect::<Vec<_>>();
            for login in &logins {
                if !users.insert(login.user.clone()) {
                    problems.push(format!("{field}.logins: user {:?} already belongs to another channel", login.user));
                }
            }
            let smtp_addresses = validate_addresses(&field, file.smtp_addresses, &mut addresses, problems);
            if file.smtp_auth_required && !logins.iter().any(|l| l.password_hash.is_some()) {
                problems.push(format!("{field}.smtp_auth_required: no login of this channel has a password_hash"));
            }
            let remotes = remote::validate_remotes(
                file.remotes,
                &field,
                file.as2.is_some(),
                file.invisible_to_dmz,
                data_dir,
                problems,
            );
            if let Some(name) = &file.outbox_remote
                && !remotes.iter().any(|r| r.name == *name)
            {
                problems.push(format!("{field}.outbox_remote: no remote named {name:?} in this channel"));
            }
            Channel {
                name: file.name,
                invisible_to_dmz: file.invisible_to_dmz,
                ftp_tls_required: file.ftp_tls_required,
                logins,
                smtp_addresses,
                smtp_auth_required: file.smtp_auth_required,
                as2: file.as2.map(|a| a.validate(&field, data_dir, &mut as2_pairs, problems)),
                remotes,
                outbox_remote: file.outbox_remote,
                addresses: envelope::AddressRules {
                    allow: problems.cidrs(&format!("{field}.allow"), &file.allow),
                    deny: problems.cidrs(&format!("{field}.deny"), &file.deny),
                },
                when_inner_down: file.when_inner_down,
            }
        })
        .collect();
    as2::check_one_key_per_id(&channels, problems);
    channels
}

/// Canonical addresses; each may belong to one channel only.
fn validate_addresses(
    field: &str,
    texts: Vec<String>,
    taken: &mut HashSet<String>,
    problems: &mut Problems,
) -> Vec<String> {
    let mut addresses = Vec::with_capacity(texts.len());
    for text in texts {
        match crate::normalize_mail_address(&text) {
            Ok(address) if !taken.insert(address.clone()) => {
                problems.push(format!("{field}.smtp_addresses: {text:?} is listed twice or by another channel"));
            }
            Ok(address) => addresses.push(address),
            Err(reason) => problems.push(format!("{field}.smtp_addresses: {text:?}: {reason}")),
        }
    }
    addresses
}

impl LoginFile {
    fn validate(self, channel_field: &str, problems: &mut Problems) -> Login {
        let field = format!("{channel_field}.logins[{}]", self.user);
        if self.user.is_empty() || self.user.chars().any(|c| c.is_control() || c.is_whitespace()) {
            problems.push(format!("{field}.user: must be non-empty, without spaces or control characters"));
        }
        if self.password_hash.is_none() && self.public_keys.is_empty() {
            problems.push(format!("{field}: needs a password_hash or public_keys (or both)"));
        }
        if let Some(hash) = &self.password_hash
            && argon2::PasswordHash::new(hash).is_err()
        {
            problems.push(format!("{field}.password_hash: not a PHC string; make one with `portcullis hash-password`"));
        }
        for key in &self.public_keys {
            problems.public_key(&format!("{field}.public_keys"), key);
        }
        Login { user: self.user, password_hash: self.password_hash, public_keys: self.public_keys }
    }
}

fn validate_profiles(
    files: Vec<ProfileFile>,
    channels: &[Channel],
    data_dir: &std::path::Path,
    problems: &mut Problems,
) -> Vec<Profile> {
    let mut names = HashSet::new();
    files
        .into_iter()
        .map(|file| {
            let field = format!("profiles[{}]", file.name);
            if !names.insert(file.name.clone()) {
                problems.push(format!("{field}: profile name defined twice"));
            }
            if file.channel != "*" && !channels.iter().any(|c| c.name == file.channel) {
                problems.push(format!("{field}.channel: no channel named {:?}", file.channel));
            }
            let path = PathGlob::new(&file.path).unwrap_or_else(|e| {
                problems.push(format!("{field}.path: {e}"));
                PathGlob::new("**").expect("`**` is a valid glob")
            });
            let directory = match file.directory {
                Some(dir) if dir.is_absolute() => dir,
                Some(dir) => data_dir.join(dir),
                None => data_dir.join("inbox"),
            };
            let respond = file.respond.map(|r| r.validate(&field, &file.channel, channels, problems));
            Profile {
                name: file.name,
                channel: file.channel,
                path,
                directory,
                if_exists: file.if_exists,
                mail: file.mail,
                respond,
            }
        })
        .collect()
}
