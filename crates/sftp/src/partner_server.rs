//! The DMZ's partner-facing SFTP server.
//!
//! Every login and file operation goes through a [`partner::Gateway`]; this module
//! only speaks SSH and SFTP. Login is by password or public key (the key's OpenSSH
//! line is what the gateway checks); a failed login costs the client the gateway's
//! delay but holds up no other session, and a connection gets six attempts. After
//! login the session sees its virtual home through the SFTP subsystem only.
//!
//! Uploads stream into the gateway's [`partner::Upload`] and are committed on CLOSE,
//! before the OK is sent; a connection that drops or a handle never closed discards
//! its upload. Shutdown stops accepting, lets open uploads finish for
//! [`PartnerSftpConfig::drain_grace`], then cuts the remaining sessions.
//!
//! - `sftp`: the SFTP request handler over the gateway.
//! - `handles`: the bounded table of open handles of one session.
//! - `reply`: gateway errors and entries in SFTP terms.

mod handles;
mod reply;
mod sftp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use envelope::Protocol;
use partner::{Admission, Credential, Gateway, Login, Peer, Session, Ticket};
use russh::MethodKind;
use russh::keys::{PrivateKey, PublicKey};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::keys::public_line;
use crate::listen::{self, Busy, Listen};
use crate::ssh::{Service, SshHandler};

/// Settings of the partner-facing SFTP server.
#[derive(Clone)]
pub struct PartnerSftpConfig {
    pub host_key: PrivateKey,
    /// Connections beyond this many live sessions are closed at once.
    pub max_sessions: usize,
    /// A session with no traffic for this long is disconnected.
    pub idle_timeout: Duration,
    /// On shutdown, how long open uploads may still finish.
    pub drain_grace: Duration,
    /// Open file and directory handles allowed per session.
    pub max_handles: usize,
}

impl PartnerSftpConfig {
    /// The defaults: 2000 sessions, 10 minutes idle, 10 s drain, 64 handles.
    pub fn new(host_key: PrivateKey) -> Self {
        PartnerSftpConfig {
            host_key,
            max_sessions: 2000,
            idle_timeout: Duration::from_secs(600),
            drain_grace: Duration::from_secs(10),
            max_handles: 64,
        }
    }
}

impl std::fmt::Debug for PartnerSftpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerSftpConfig")
            .field("max_sessions", &self.max_sessions)
            .field("idle_timeout", &self.idle_timeout)
            .field("drain_grace", &self.drain_grace)
            .field("max_handles", &self.max_handles)
            .finish_non_exhaustive()
    }
}

/// Serves partners on `listener` until `shutdown`, then drains (see the module doc).
pub async fn serve(
    listener: TcpListener,
    config: PartnerSftpConfig,
    gateway: Arc<dyn Gateway>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let methods = [MethodKind::Password, MethodKind::PublicKey];
    let ssh = listen::ssh_config(config.host_key.clone(), config.idle_timeout, &methods);
    let listen = Listen {
        name: "partner-sftp",
        config: Arc::new(ssh),
        max_sessions: config.max_sessions,
        grace: config.drain_grace,
    };
    let token = shutdown.clone();
    listen::accept_loop(listener, listen, shutdown, move |remote| {
        let peer = Peer { remote, protocol: Protocol::Sftp };
        let Admission::Serve(ticket) = gateway.admission(peer) else {
            return None;
        };
        let busy = Busy::default();
        let meter = ticket.meter();
        let service = PartnerService {
            gateway: gateway.clone(),
            peer,
            login: None,
            busy: busy.clone(),
            shutdown: token.clone(),
            max_handles: config.max_handles,
            _ticket: ticket,
        };
        Some((SshHandler::new(service, busy.clone()), busy, meter))
    })
    .await
}

/// Login and session start for one partner connection.
struct PartnerService {
    gateway: Arc<dyn Gateway>,
    peer: Peer,
    login: Option<Login>,
    busy: Busy,
    shutdown: CancellationToken,
    max_handles: usize,
    /// Dropped with the connection's handler: the gateway counts the close.
    _ticket: Ticket,
}

impl PartnerService {
    async fn authenticate(&mut self, user: &str, credential: Credential<'_>, method: &'static str) -> bool {
        let remote: SocketAddr = self.peer.remote;
        match self.gateway.authenticate(self.peer, user, credential).await {
            Some(login) => {
                tracing::info!(message = "SFTP session started", %remote, user = %login.user, channel = %login.channel, method);
                self.login = Some(login);
                true
            }
            None => {
                tracing::warn!(message = "SFTP login refused", %remote, %user, method);
                false
            }
        }
    }
}

impl Service for PartnerService {
    type Sftp = sftp::PartnerSftp;

    async fn password(&mut self, user: &str, password: &str) -> bool {
        self.authenticate(user, Credential::Password(password), "password").await
    }

    fn key_offered(&mut self, user: &str, key: &PublicKey) -> bool {
        self.gateway.accepts_key(user, &public_line(key))
    }

    async fn public_key(&mut self, user: &str, key: &PublicKey) -> bool {
        let line = public_line(key);
        self.authenticate(user, Credential::PublicKey(&line), "publickey").await
    }

    fn sftp(&mut self) -> Option<Self::Sftp> {
        let login = self.login.clone()?;
        Some(sftp::PartnerSftp {
            gateway: self.gateway.clone(),
            session: Session { peer: self.peer, login },
            handles: handles::Handles::new(self.max_handles),
            busy: self.busy.clone(),
            shutdown: self.shutdown.clone(),
        })
    }
}

impl Drop for PartnerService {
    fn drop(&mut self) {
        if let Some(login) = &self.login {
            tracing::info!(message = "SFTP session ended", remote = %self.peer.remote, user = %login.user);
        }
    }
}
