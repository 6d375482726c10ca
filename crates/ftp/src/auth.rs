//! Login: libunftp's `Authenticator` and `UserDetailProvider` over [`Gateway::authenticate`].
//!
//! Both are built per control connection and share a slot: the authenticator knows the
//! partner's remote address (libunftp only passes the IP) and, on success, leaves the
//! [`Session`] in the slot; the provider moves it into the [`FtpUser`] that libunftp hands to
//! every storage call of that session.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use envelope::Protocol;
use partner::{Credential, Gateway, Peer, Session};
use unftp_core::auth::{
    AuthenticationError, Authenticator, ChannelEncryptionState, Credentials, Principal, UserDetail, UserDetailError,
    UserDetailProvider,
};

/// The logged-in partner of one FTP session, as libunftp carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpUser {
    pub session: Session,
}

impl UserDetail for FtpUser {}

impl fmt::Display for FtpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.session.login.user, self.session.login.channel)
    }
}

/// Hands a successful login from the authenticator to the user provider.
pub(crate) type SessionSlot = Arc<Mutex<Option<Session>>>;

pub(crate) fn new_slot() -> SessionSlot {
    Arc::new(Mutex::new(None))
}

/// Checks `USER`/`PASS` of one control connection against the gateway.
pub(crate) struct ConnectionAuthenticator {
    pub gateway: Arc<dyn Gateway>,
    pub remote: SocketAddr,
    pub slot: SessionSlot,
}

impl fmt::Debug for ConnectionAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionAuthenticator").field("remote", &self.remote).finish_non_exhaustive()
    }
}

#[async_trait]
impl Authenticator for ConnectionAuthenticator {
    async fn authenticate(&self, username: &str, creds: &Credentials) -> Result<Principal, AuthenticationError> {
        let Some(password) = creds.password.as_deref() else {
            return Err(AuthenticationError::BadPassword);
        };
        let tls = creds.command_channel_security == ChannelEncryptionState::Tls;
        let protocol = if tls { Protocol::Ftps } else { Protocol::Ftp };
        let peer = Peer { remote: self.remote, protocol };
        let Some(login) = self.gateway.authenticate(peer, username, Credential::Password(password)).await else {
            tracing::info!(remote = %self.remote, user = username, "FTP login refused");
            return Err(AuthenticationError::BadPassword);
        };
        if login.tls_required && !tls {
            tracing::warn!(
                remote = %self.remote, user = username, channel = %login.channel,
                "FTP login refused: the channel requires TLS, the client must use AUTH TLS before logging in"
            );
            return Err(AuthenticationError::new("TLS required: use AUTH TLS before logging in"));
        }
        tracing::info!(remote = %self.remote, user = username, channel = %login.channel, %protocol, "FTP login");
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Session { peer, login });
        Ok(Principal { username: username.to_owned() })
    }
}

/// Turns the login the authenticator just accepted into the session's [`FtpUser`].
#[derive(Debug)]
pub(crate) struct SessionUserProvider {
    pub slot: SessionSlot,
}

#[async_trait]
impl UserDetailProvider for SessionUserProvider {
    type User = FtpUser;

    async fn provide_user_detail(&self, _principal: &Principal) -> Result<FtpUser, UserDetailError> {
        let session = self.slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        session
            .map(|session| FtpUser { session })
            .ok_or_else(|| UserDetailError::Generic("no accepted login for this session".into()))
    }
}
