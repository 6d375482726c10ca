//! [`Gateway`]: what a protocol session may ask of the DMZ, and the types it speaks.

use std::net::SocketAddr;
use std::time::SystemTime;

use async_trait::async_trait;
use envelope::{EnvelopeId, Protocol, Sha256};
use meter::Meter;

use crate::{FsError, VPath};

/// Where a session comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The partner's real address (after any PROXY header).
    pub remote: SocketAddr,
    pub protocol: Protocol,
}

/// What happens to a connection just accepted.
#[derive(Debug)]
pub enum Admission {
    /// Serve it, holding the ticket for as long as the connection lives.
    Serve(Ticket),
    /// Close it without a protocol byte (the address rules do not admit it).
    Refuse,
    /// Answer the protocol's "try again later" (FTP/SMTP `421`, AS2 HTTP `503`;
    /// SFTP, which has no such answer, is closed) and close it: listeners paused.
    Busy,
}

/// Held by a served connection until it closes: dropping it tells the gateway
/// (active and closed connection counts). Its [`Meter`] counts the bytes the
/// connection moves (the protocol wraps its socket in [`meter::Metered`]).
pub struct Ticket {
    meter: Meter,
    guard: Option<Box<dyn Send + Sync>>,
}

impl Ticket {
    /// A ticket nobody counts.
    pub fn untracked() -> Self {
        Ticket { meter: Meter::none(), guard: None }
    }

    /// A ticket counting bytes into `meter`, whose `guard` is dropped when the
    /// connection closes.
    pub fn new(meter: Meter, guard: impl Send + Sync + 'static) -> Self {
        Ticket { meter, guard: Some(Box::new(guard)) }
    }

    /// Where the connection's bytes are counted.
    pub fn meter(&self) -> Meter {
        self.meter.clone()
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.guard.is_some() { "Ticket" } else { "Ticket(untracked)" })
    }
}

/// What a partner presents to log in. Never logged.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    Password(&'a str),
    /// An OpenSSH public key line (`ssh-ed25519 AAAA…`, comment optional) whose
    /// private half the client has proven to hold.
    PublicKey(&'a str),
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::PublicKey(key) => write!(f, "PublicKey({key})"),
        }
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The channel (partner relationship) this login belongs to.
    pub channel: String,
    pub user: String,
    /// FTP only: the channel requires TLS (`AUTH TLS`) before login.
    pub tls_required: bool,
}

/// A logged-in session: who, from where, over what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub peer: Peer,
    pub login: Login,
}

/// Kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File,
}

/// One entry of a listing, or the answer to a stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
    pub modified: SystemTime,
    /// Whether the partner may write here (upload area) or only read (pickup area).
    pub writable: bool,
}

/// An upload that is durable and on its way to the inner node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub id: EnvelopeId,
    pub size: u64,
    pub sha256: Sha256,
}

/// An upload in progress. Dropping it without [`Upload::commit`] discards the bytes.
#[async_trait]
pub trait Upload: Send {
    /// Appends bytes (streamed to disk, never held whole in memory).
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError>;
    /// Bytes written so far; the only offset at which the next write may start.
    fn written(&self) -> u64;
    /// Fsyncs the payload and durably enqueues its envelope. Only `Ok` may be told
    /// to the partner as success. Safe to call from a future that may be dropped.
    async fn commit(self: Box<Self>) -> Result<Receipt, FsError>;
}

/// What the DMZ offers a protocol session.
#[async_trait]
pub trait Gateway: Send + Sync + 'static {
    /// Whether a connection from `peer` is served: asked right after accept,
    /// before any protocol byte is written. The gateway logs a refusal.
    fn admission(&self, _peer: Peer) -> Admission {
        Admission::Serve(Ticket::untracked())
    }

    /// Checks a login against the channel verifiers pushed by the inner. `None`
    /// means refused; the caller must not tell which part was wrong, and the
    /// gateway has already delayed the answer to slow guessing.
    async fn authenticate(&self, peer: Peer, user: &str, credential: Credential<'_>) -> Option<Login>;

    /// Whether `user` exists at all and may use public-key login (SSH asks before
    /// the client proves possession of the key).
    fn accepts_key(&self, user: &str, key: &str) -> bool;

    async fn stat(&self, session: &Session, path: &VPath) -> Result<Entry, FsError>;

    /// The entries of a directory, without `.` and `..`.
    async fn list(&self, session: &Session, dir: &VPath) -> Result<Vec<Entry>, FsError>;

    async fn mkdir(&self, session: &Session, path: &VPath) -> Result<(), FsError>;

    async fn rmdir(&self, session: &Session, path: &VPath) -> Result<(), FsError>;

    async fn remove(&self, session: &Session, path: &VPath) -> Result<(), FsError>;

    async fn rename(&self, session: &Session, from: &VPath, to: &VPath) -> Result<(), FsError>;

    /// Starts an upload to `path` (its directory must exist in the upload area).
    async fn begin_upload(&self, session: &Session, path: &VPath) -> Result<Box<dyn Upload>, FsError>;

    /// Opens a file of the pickup area for download.
    async fn open_read(
        &self,
        session: &Session,
        path: &VPath,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>, FsError>;
}
