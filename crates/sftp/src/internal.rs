//! The DMZ's internal SFTP server (port 8022 in production), for the inner peer only.
//!
//! It exists so the inner can fetch large staged payloads at SFTP speed instead of
//! through MessagePack frames, and can drop files for partners' pickup areas. The
//! DMZ never dials inward: the inner connects here.
//!
//! - Admission: connections from addresses `admit` refuses are closed before any SSH
//!   byte is sent. Login is by public key only, any user name, and the key must be
//!   one of `authorized_keys`.
//! - `/payloads/<name>`: the payload the [`PayloadStore`] knows by that name,
//!   read-only, with random-offset reads (the client pipelines them). Names are not
//!   enumerable: the directory lists empty.
//! - `/outbound/<name>`: a real directory ([`PayloadStore::outbound_dir`]); files may
//!   be created, written at any offset, listed, renamed and removed. Names must pass
//!   [`envelope::validate_segment`]; there are no subdirectories. CLOSE of a written
//!   file fsyncs it before answering.

mod sftp;
mod target;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use meter::Meter;
use russh::MethodKind;
use russh::keys::{PrivateKey, PublicKey};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::keys::same_key;
use crate::listen::{self, Busy, Listen};
use crate::ssh::{Service, SshHandler};

/// Where the internal server finds payloads and puts outbound files.
pub trait PayloadStore: Send + Sync + 'static {
    /// The file holding the payload called `name`, if there is one.
    fn payload(&self, name: &str) -> Option<PathBuf>;
    /// The directory behind `/outbound`.
    fn outbound_dir(&self) -> PathBuf;
}

/// Settings of the internal SFTP server.
#[derive(Clone)]
pub struct InternalSftpConfig {
    pub host_key: PrivateKey,
    /// The inner's client keys.
    pub authorized_keys: Vec<PublicKey>,
    /// Whether a remote address may connect at all.
    pub admit: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    /// Counts the bytes of every connection (peer traffic).
    pub traffic: Meter,
}

impl std::fmt::Debug for InternalSftpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalSftpConfig").field("authorized_keys", &self.authorized_keys.len()).finish()
    }
}

/// Sessions at once: the inner uses a few.
const MAX_SESSIONS: usize = 64;
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const DRAIN_GRACE: Duration = Duration::from_secs(10);
const MAX_HANDLES: usize = 64;

/// Serves the inner on `listener` until `shutdown`, then drains.
pub async fn serve(
    listener: TcpListener,
    config: InternalSftpConfig,
    store: Arc<dyn PayloadStore>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let ssh = listen::ssh_config(config.host_key.clone(), IDLE_TIMEOUT, &[MethodKind::PublicKey]);
    let listen =
        Listen { name: "internal-sftp", config: Arc::new(ssh), max_sessions: MAX_SESSIONS, grace: DRAIN_GRACE };
    let keys = Arc::new(config.authorized_keys);
    let (admit, traffic) = (config.admit, config.traffic);
    listen::accept_loop(listener, listen, shutdown, move |remote| {
        if !admit(remote.ip()) {
            tracing::warn!(message = "internal SFTP connection refused: address not admitted", %remote);
            return None;
        }
        let service =
            InternalService { keys: keys.clone(), store: store.clone(), remote, user: None, busy: Busy::default() };
        let busy = service.busy.clone();
        Some((SshHandler::new(service, busy.clone()), busy, traffic.clone()))
    })
    .await
}

/// Login and session start for one connection of the inner.
struct InternalService {
    keys: Arc<Vec<PublicKey>>,
    store: Arc<dyn PayloadStore>,
    remote: std::net::SocketAddr,
    user: Option<String>,
    busy: Busy,
}

impl InternalService {
    fn authorized(&self, key: &PublicKey) -> bool {
        self.keys.iter().any(|k| same_key(k, key))
    }
}

impl Service for InternalService {
    type Sftp = sftp::InternalSftp;

    fn key_offered(&mut self, _user: &str, key: &PublicKey) -> bool {
        self.authorized(key)
    }

    async fn public_key(&mut self, user: &str, key: &PublicKey) -> bool {
        let remote = self.remote;
        if !self.authorized(key) {
            tracing::warn!(message = "internal SFTP login refused", %remote, %user);
            return false;
        }
        tracing::info!(message = "internal SFTP session started", %remote, %user);
        self.user = Some(user.to_owned());
        true
    }

    fn sftp(&mut self) -> Option<Self::Sftp> {
        self.user.as_ref()?;
        Some(sftp::InternalSftp::new(self.store.clone(), MAX_HANDLES, self.busy.clone()))
    }
}

impl Drop for InternalService {
    fn drop(&mut self) {
        if let Some(user) = &self.user {
            tracing::info!(message = "internal SFTP session ended", remote = %self.remote, %user);
        }
    }
}
