//! What an envelope can say: the kinds of [`Body`] and the payload beside it.

use std::fmt;
use std::net::SocketAddr;

use crate::AddressRules;
use serde::{Deserialize, Serialize};

use crate::outbound::{FetchRequest, PickedUp, RequestOutcome, SendRequest};

/// The kind of an envelope and its typed fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A partner delivered a file (DMZ → inner). Carries a payload.
    Delivery(DeliveryMeta),
    /// The partner-facing configuration the DMZ must serve (inner → DMZ).
    ConfigPush(DmzConfig),
    /// Nothing to say; proves the link is alive.
    Heartbeat(Heartbeat),
    /// Collect files from a partner's server (inner → DMZ).
    Fetch(FetchRequest),
    /// Push one file to a partner (inner → DMZ). Carries a payload.
    Send(SendRequest),
    /// How a fetch or send ended (DMZ → inner).
    Outcome(RequestOutcome),
    /// A partner downloaded a pickup file (DMZ → inner).
    PickedUp(PickedUp),
}

impl Body {
    /// The channel the envelope belongs to, for per-channel ordering.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Body::Delivery(meta) => Some(&meta.channel),
            Body::ConfigPush(_)
            | Body::Heartbeat(_)
            | Body::Fetch(_)
            | Body::Send(_)
            | Body::Outcome(_)
            | Body::PickedUp(_) => None,
        }
    }

    /// A short name of the kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Delivery(_) => "delivery",
            Body::ConfigPush(_) => "config-push",
            Body::Heartbeat(_) => "heartbeat",
            Body::Fetch(_) => "fetch",
            Body::Send(_) => "send",
            Body::Outcome(_) => "outcome",
            Body::PickedUp(_) => "picked-up",
        }
    }
}

/// How a partner's delivery reached the DMZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Injected through the DMZ admin API (`POST /api/v1/deliveries`).
    Admin,
    Sftp,
    Ftp,
    Ftps,
    Smtp,
    As2,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Admin => "admin",
            Protocol::Sftp => "sftp",
            Protocol::Ftp => "ftp",
            Protocol::Ftps => "ftps",
            Protocol::Smtp => "smtp",
            Protocol::As2 => "as2",
        })
    }
}

/// Who delivered, as the DMZ saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// The login name the partner authenticated with, if the protocol has one.
    pub login: Option<String>,
    /// The partner's real address and port (after any PROXY header).
    pub remote: Option<SocketAddr>,
}

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sha256(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// Everything about a partner delivery except its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMeta {
    pub channel: String,
    pub protocol: Protocol,
    pub partner: Partner,
    /// Relative path below the channel, `/`-separated, already checked by the DMZ
    /// (the inner checks it again: it trusts nothing from the DMZ).
    pub path: String,
    /// Unix milliseconds at which the DMZ committed the delivery.
    pub received_at: u64,
    pub size: u64,
    pub sha256: Sha256,
    /// SMTP only: the mail envelope the partner's server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<Box<MailMeta>>,
    /// AS2 only: the message's identity and security.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as2: Option<Box<As2Meta>>,
    /// Fetched from a partner's server by a job (not uploaded by the partner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<Box<FetchedMeta>>,
}

/// Where a fetch job found a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedMeta {
    pub job: String,
    /// The remote's name in the inner's config.
    pub remote: String,
    /// The file's path on the partner's server.
    pub remote_path: String,
}

/// An AS2 message as received (the payload is its innermost content).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct As2Meta {
    /// `AS2-From`, `AS2-To`, and `Message-ID` without angle brackets.
    pub from: String,
    pub to: String,
    pub message_id: String,
    /// The Received-Content-MIC our MDN reported (`base64, algorithm`).
    pub mic: String,
    pub signed: bool,
    pub encrypted: bool,
    pub compressed: bool,
}

/// The SMTP envelope of a delivered message (the payload is the message itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMeta {
    /// `MAIL FROM` reverse path; empty for the null path `<>`.
    pub from: String,
    /// The accepted `RCPT TO` addresses, in the order given.
    pub recipients: Vec<String>,
    /// The message's `Message-ID` header, if it had one.
    pub message_id: Option<String>,
    /// The name the client gave in EHLO/HELO.
    pub helo: String,
    /// Whether the message came under STARTTLS.
    pub tls: bool,
}

/// The bytes that travel with an envelope.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// The bytes themselves.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Too large to inline: the receiver fetches the bytes (staged under the
    /// envelope's id) over SFTP and checks size and hash before committing.
    Reference { size: u64, sha256: Sha256 },
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Inline(bytes) => write!(f, "Inline({} bytes)", bytes.len()),
            Payload::Reference { size, sha256 } => write!(f, "Reference({size} bytes, {sha256})"),
        }
    }
}

/// A liveness probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub sent_at: u64,
}

/// The partner-facing part of the inner's configuration, pushed to the DMZ. It holds
/// *verifiers only* (password hashes, public keys, certificates) and never a channel
/// marked `invisible_to_dmz`. The one secret, our AS2 private keys, sits apart in
/// [`DmzConfig::as2_keys`]: the DMZ keeps it in memory only and never writes it to
/// its disk (a restarted DMZ gets it with the push at the next link-up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmzConfig {
    /// Increases with every reload on the inner; lets the DMZ ignore stale pushes.
    pub generation: u64,
    /// Payloads above this many bytes travel by reference (the inner's `streaming_size`).
    pub streaming_size: u64,
    /// Which partner listeners the DMZ runs.
    pub listeners: Vec<PartnerListener>,
    pub channels: Vec<ChannelVerifiers>,
    /// Our AS2 private keys, by our AS2 id. Memory only on the DMZ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub as2_keys: Vec<As2Key>,
    /// The key that opens the credentials sealed inside fetch and send requests.
    /// Memory only on the DMZ, like `as2_keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_key: Option<SealKey>,
}

/// The AES-256-GCM key of [`crate::SealedSecret`]s. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealKey(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// One of our AS2 private keys. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct As2Key {
    /// Our AS2 id this key belongs to (`AS2-To` of partners' messages).
    pub our_id: String,
    /// PEM, unencrypted.
    pub key_pem: String,
}

impl fmt::Debug for As2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "As2Key({}, <redacted>)", self.our_id)
    }
}

/// A channel's AS2 partnership: the public half, which the DMZ may keep on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct As2Verifier {
    /// The partner's AS2 name (`AS2-From` of its messages).
    pub partner_id: String,
    /// Our AS2 name (`AS2-To`); its private key travels in [`DmzConfig::as2_keys`].
    pub our_id: String,
    /// The partner's certificate (PEM): verifies its signatures.
    pub partner_cert_pem: String,
    /// Our certificate (PEM).
    pub our_cert_pem: String,
    pub require_signed: bool,
    pub require_encrypted: bool,
}

impl DmzConfig {
    pub fn channel(&self, name: &str) -> Option<&ChannelVerifiers> {
        self.channels.iter().find(|c| c.name == name)
    }
}

/// One partner listener the DMZ should run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartnerListener {
    pub protocol: Protocol,
    pub bind: SocketAddr,
}

/// How partners of one channel prove who they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelVerifiers {
    pub name: String,
    /// FTP partners of this channel must use `AUTH TLS` before logging in.
    #[serde(default)]
    pub ftp_tls_required: bool,
    pub logins: Vec<LoginVerifier>,
    /// Mail addresses (lower case) whose messages belong to this channel.
    #[serde(default)]
    pub smtp_recipients: Vec<String>,
    /// Mail for this channel's addresses is only taken from a session that
    /// authenticated (SMTP AUTH) as one of its logins.
    #[serde(default)]
    pub smtp_auth_required: bool,
    /// The channel's AS2 partnership, if it receives AS2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as2: Option<As2Verifier>,
    /// The partner servers (`host:port`, see [`crate::dial_address`]) that fetch and
    /// send requests of this channel may make the DMZ dial. Nothing else is dialled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dial: Vec<String>,
    /// The partner addresses this channel's logins, mail and AS2 messages may come
    /// from; checked at accept time (no channel permits → refused before any
    /// protocol bytes) and again when a session names this channel.
    #[serde(default, skip_serializing_if = "AddressRules::is_empty")]
    pub addresses: AddressRules,
    /// Whether the DMZ keeps taking this channel's deliveries while the inner is
    /// unreachable.
    #[serde(default)]
    pub when_inner_down: WhenInnerDown,
}

/// What the DMZ does with a channel's deliveries while the inner is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenInnerDown {
    /// Keep accepting and spool them until the inner is back.
    #[default]
    Buffer,
    /// Refuse them with the protocol's transient error until the inner is back.
    Refuse,
}

/// One partner login: a password hash (argon2, PHC string) and/or public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginVerifier {
    pub user: String,
    pub password_hash: Option<String>,
    /// OpenSSH public keys (`ssh-ed25519 AAAA…`).
    pub public_keys: Vec<String>,
}
