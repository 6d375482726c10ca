//! The `dmz.toml` and `inner.toml` of the benchmarked pair: pushback mode on
//! loopback; the inner pushes one channel `bench` (login `bench`, password `demo`
//! and the bench's public key, mail address `bench@dmz.bench`, an AS2 partnership)
//! and the partner SFTP, FTP, SMTP and AS2 listeners; the DMZ
//! has a passive FTP range and an internal SFTP listener for the inner's key (big
//! payloads travel by reference over it).

use std::path::Path;

/// The argon2id hash of "demo" (as in etc/demo/inner.toml).
pub const DEMO_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$pRE6wIFzX7rdLnyvfJumPA$QQdrirshtnvFj2PPWTT2MXQk0DC7hDdzKZKSdFutmtI";
pub const USER: &str = "bench";
pub const PASSWORD: &str = "demo";
pub const CHANNEL: &str = "bench";
/// The channel's AS2 names (`AS2-From` of the partner, `AS2-To` of us); the
/// certificates are made by [`super::pair::Pair::start`] under `<inner>/as2/`.
pub const AS2_PARTNER: &str = "BENCH-PARTNER";
pub const AS2_US: &str = "BENCH-PORTCULLIS";
/// The channel's mail address.
pub const MAIL_TO: &str = "bench@dmz.bench";

/// Every port the pair uses, all on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub message_service: u16,
    pub dmz_admin: u16,
    pub inner_admin: u16,
    pub internal_sftp: u16,
    pub sftp: u16,
    pub ftp: u16,
    pub smtp: u16,
    pub as2: u16,
    pub passive: (u16, u16),
}

pub fn dmz_toml(data_dir: &Path, p: &Ports, inner_public_key: &str) -> String {
    format!(
        r#"role = "dmz"
node_id = "bench-dmz"
data_dir = "{data}"

[message_service]
listen = "127.0.0.1:{ms}"
mode = "pushback"
allow = ["127.0.0.0/8"]

[admin]
listen = "127.0.0.1:{admin}"

[limits]
max_payload_bytes = 1048576
spool_quota_bytes = 17179869184

[ftp]
passive_ports = "{pasv_min}-{pasv_max}"
passive_address = "127.0.0.1"

[internal_sftp]
listen = "127.0.0.1:{isftp}"
allow = ["127.0.0.0/8"]
authorized_keys = ["{key}"]
"#,
        data = data_dir.display(),
        ms = p.message_service,
        admin = p.dmz_admin,
        pasv_min = p.passive.0,
        pasv_max = p.passive.1,
        isftp = p.internal_sftp,
        key = inner_public_key.trim(),
    )
}

pub fn inner_toml(data_dir: &Path, p: &Ports, inner_key: &Path, partner_public_key: &str) -> String {
    format!(
        r#"role = "inner"
node_id = "bench-inner"
data_dir = "{data}"
streaming_size = 1048576

[dmz]
url = "http://127.0.0.1:{ms}"
mode = "pushback"
reconnect_max_ms = 300
sftp = "127.0.0.1:{isftp}"
sftp_key = "{inner_key}"

[admin]
listen = "127.0.0.1:{admin}"

[[dmz_listeners]]
protocol = "sftp"
bind = "127.0.0.1:{sftp}"

[[dmz_listeners]]
protocol = "ftp"
bind = "127.0.0.1:{ftp}"

[[dmz_listeners]]
protocol = "smtp"
bind = "127.0.0.1:{smtp}"

[[dmz_listeners]]
protocol = "as2"
bind = "127.0.0.1:{as2}"

[[channels]]
name = "{CHANNEL}"
smtp_addresses = ["{MAIL_TO}"]

[channels.as2]
partner_id = "{AS2_PARTNER}"
our_id = "{AS2_US}"
partner_cert = "as2/partner.pem"
our_cert = "as2/us.pem"
our_key = "as2/us.key"

[[channels.logins]]
user = "{USER}"
password_hash = "{DEMO_HASH}"
public_keys = ["{partner_key}"]

[[profiles]]
name = "all"
channel = "*"
path = "**"
"#,
        data = data_dir.display(),
        ms = p.message_service,
        isftp = p.internal_sftp,
        inner_key = inner_key.display(),
        admin = p.inner_admin,
        sftp = p.sftp,
        ftp = p.ftp,
        smtp = p.smtp,
        as2 = p.as2,
        partner_key = partner_public_key.trim(),
    )
}
