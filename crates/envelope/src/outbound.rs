//! Requests the inner gives the DMZ to reach partners' servers, and what comes back:
//! a [`FetchRequest`] (collect files from a partner's FTP/FTPS/SFTP server), a
//! [`SendRequest`] (push one file by FTP/FTPS/SFTP, HTTP(S), SMTP or AS2, or place it
//! in the channel's pickup area), their [`RequestOutcome`], and [`PickedUp`] (a
//! partner downloaded a pickup file).
//!
//! Credentials travel inside each request, sealed ([`SealedSecret`]) with the key
//! the inner pushes in [`crate::DmzConfig::seal_key`], which the DMZ keeps in memory
//! only: a request committed to the DMZ's disk never holds a plaintext secret.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::EnvelopeId;

/// How the DMZ (or the inner, with `via_dmz = false`) reaches a partner's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteProtocol {
    Ftp,
    Ftps,
    Sftp,
    Http,
    Https,
    Smtp,
    As2,
    /// Not a server: the file is placed in the channel's home `outbox/` on the DMZ
    /// for the partner to download.
    Pickup,
}

impl fmt::Display for RemoteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemoteProtocol::Ftp => "ftp",
            RemoteProtocol::Ftps => "ftps",
            RemoteProtocol::Sftp => "sftp",
            RemoteProtocol::Http => "http",
            RemoteProtocol::Https => "https",
            RemoteProtocol::Smtp => "smtp",
            RemoteProtocol::As2 => "as2",
            RemoteProtocol::Pickup => "pickup",
        })
    }
}

/// A secret sealed with the inner's seal key (AES-256-GCM): `nonce` (12 bytes) and
/// `ciphertext` with its 16-byte tag at the end. `Debug` shows neither.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(<sealed>)")
    }
}

/// What a secret is once unsealed; tells the client how to use the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    None,
    Password,
    /// An SSH private key (PEM); unencrypted.
    PrivateKey,
}

/// A partner's server as a request names it. The DMZ dials it only if the channel's
/// pushed [`crate::ChannelVerifiers::dial`] lists `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTarget {
    /// The remote's name in the inner's config, for logs and results.
    pub name: String,
    pub protocol: RemoteProtocol,
    pub host: String,
    pub port: u16,
    /// Login (FTP/SFTP/HTTP basic/SMTP AUTH); empty for none.
    #[serde(default)]
    pub user: String,
    pub secret_kind: SecretKind,
    #[serde(default)]
    pub secret: SealedSecret,
    /// FTPS/HTTPS/SMTP: pinned PEM certificate(s); `None` uses the system trust store.
    #[serde(default)]
    pub tls_cert_pem: Option<String>,
    /// SFTP: the server's host key, OpenSSH format.
    #[serde(default)]
    pub host_key: Option<String>,
    #[serde(default)]
    pub accept_any_host_key: bool,
    /// HTTP(S), AS2: the path and query of the URL (`/in?x=1`).
    #[serde(default)]
    pub url_path: Option<String>,
    /// HTTP(S): `PUT` instead of `POST`.
    #[serde(default)]
    pub http_put: bool,
    /// SMTP: envelope sender and recipients; STARTTLS required.
    #[serde(default)]
    pub mail_from: Option<String>,
    #[serde(default)]
    pub mail_to: Vec<String>,
    #[serde(default)]
    pub starttls: bool,
    /// AS2: the partnership (ids, certificates, options) of the channel.
    #[serde(default)]
    pub as2: Option<As2Send>,
    pub connect_timeout_ms: u64,
    pub io_timeout_ms: u64,
}

impl RemoteTarget {
    /// `host:port`, IPv6 literals bracketed: the form channels list in `dial`.
    pub fn address(&self) -> String {
        dial_address(&self.host, self.port)
    }
}

/// `host:port` with IPv6 literals bracketed, lower-cased: how `dial` lists entries.
pub fn dial_address(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// AS2 send settings. Our private key is the one the DMZ holds for `our_id`
/// ([`crate::DmzConfig::as2_keys`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct As2Send {
    pub our_id: String,
    pub partner_id: String,
    pub our_cert_pem: String,
    pub partner_cert_pem: String,
    pub sign: bool,
    pub encrypt: bool,
    pub compress: bool,
    /// Ask for a signed MDN.
    pub signed_mdn: bool,
}

/// What happens on the partner's server to a file once a durable copy exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterFetch {
    Delete,
    /// Moved into this remote directory (same name).
    Move(String),
    /// Left in place; remembered (name and size) so it is not fetched again.
    Leave,
}

/// Collect the files of one remote directory that match a pattern (inner → DMZ).
/// Each file becomes a [`crate::Body::Delivery`] of `channel` (DMZ → inner), with an
/// envelope id derived from the job, the remote name and the size, so a repeated
/// run after a crash is recognised as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub channel: String,
    pub job: String,
    pub remote: RemoteTarget,
    pub directory: String,
    pub pattern: String,
    pub after: AfterFetch,
    /// `Leave`: files (name, size) fetched before; skipped.
    #[serde(default)]
    pub seen: Vec<SeenFile>,
}

/// A remote file fetched before.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeenFile {
    pub name: String,
    pub size: Option<u64>,
}

/// Push one file to a partner (inner → DMZ). The payload travels with the envelope
/// (inline, or by reference to the DMZ's internal SFTP `/outbound/<envelope id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    pub channel: String,
    /// The file's name at the partner (no directory).
    pub name: String,
    pub remote: RemoteTarget,
    /// FTP/SFTP: the remote directory; pickup: the subdirectory of `outbox/`.
    #[serde(default)]
    pub directory: String,
    pub size: u64,
    pub sha256: crate::Sha256,
    /// Transient failures are retried this many times, waiting `retry_base_ms`,
    /// doubled each time up to `retry_max_ms`.
    pub retries: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Pickup: delete the file after a complete download.
    #[serde(default)]
    pub delete_after_pickup: bool,
}

/// Which request an outcome answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    Fetch,
    Send,
}

/// The end of a request (DMZ → inner): success, or failure with the partner's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutcome {
    /// The envelope id of the request.
    pub request: EnvelopeId,
    pub kind: RequestKind,
    pub channel: String,
    pub ok: bool,
    /// What happened, in words: the partner's reply on failure.
    pub detail: String,
    pub attempts: u32,
    /// Fetch: the files delivered (as deliveries of the channel).
    #[serde(default)]
    pub files: Vec<SeenFile>,
    pub finished_at: u64,
}

/// A partner downloaded a pickup file completely (DMZ → inner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickedUp {
    pub channel: String,
    /// The path in the home, e.g. `outbox/report.csv`.
    pub path: String,
    pub size: u64,
    pub partner: crate::Partner,
    pub deleted: bool,
    pub at: u64,
}
