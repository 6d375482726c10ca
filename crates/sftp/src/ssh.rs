//! The SSH side of an SFTP-only server, shared by both servers: login is delegated to
//! a [`Service`], one session channel may be opened and it may only start the `sftp`
//! subsystem. Shell, exec, pty, X11 and every kind of forwarding are refused.
//!
//! russh calls the handler one message at a time per connection, so a slow login
//! check (the gateway delays failures) holds up only its own connection.

use std::future::Future;

use russh::keys::PublicKey;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelOpenFailure};

use crate::listen::Busy;
use crate::pump::pumped;

/// Largest SFTP packet a client may send (OpenSSH `-B 131072` plus headers fits).
const MAX_SFTP_PACKET: u32 = 256 * 1024 + 1024;

/// Inbound SFTP bytes a session may have waiting unread (see [`crate::pump`]).
const INBOUND_BUDGET: u32 = 4 * 1024 * 1024;

/// What a server decides for its SSH sessions: who may log in, and the SFTP handler
/// of a logged-in session.
pub(crate) trait Service: Send + 'static {
    type Sftp: russh_sftp::server::Handler + Send + 'static;

    /// Checks a password; `false` by default (public key only).
    fn password(&mut self, user: &str, password: &str) -> impl Future<Output = bool> + Send {
        let _ = (user, password);
        async { false }
    }

    /// Whether `key` is worth a signature from the client (not yet a login).
    fn key_offered(&mut self, user: &str, key: &PublicKey) -> bool;

    /// Logs in with a key whose possession the client has proven.
    fn public_key(&mut self, user: &str, key: &PublicKey) -> impl Future<Output = bool> + Send;

    /// The SFTP handler for the logged-in session (`None` refuses the subsystem).
    fn sftp(&mut self) -> Option<Self::Sftp>;
}

/// The russh handler of one connection.
pub(crate) struct SshHandler<S> {
    service: S,
    channel: Option<Channel<Msg>>,
    sftp_started: bool,
    busy: Busy,
}

impl<S: Service> SshHandler<S> {
    pub(crate) fn new(service: S, busy: Busy) -> Self {
        SshHandler { service, channel: None, sftp_started: false, busy }
    }
}

impl<S> SshHandler<S> {
    fn verdict(&self, ok: bool) -> Auth {
        if ok {
            self.busy.logged_in();
            Auth::Accept
        } else {
            Auth::reject()
        }
    }
}

impl<S: Service> russh::server::Handler for SshHandler<S> {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let ok = self.service.password(user, password).await;
        Ok(self.verdict(ok))
    }

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        Ok(if self.service.key_offered(user, offer.public_key) { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        let ok = self.service.public_key(user, key.public_key).await;
        Ok(self.verdict(ok))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.channel.is_some() || self.sftp_started {
            reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
            return Ok(());
        }
        self.channel = Some(channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let ours = self.channel.as_ref().is_some_and(|c| c.id() == channel);
        let handler = if name == "sftp" && ours { self.service.sftp() } else { None };
        match (handler, self.channel.take()) {
            (Some(handler), Some(open)) => {
                self.sftp_started = true;
                session.channel_success(channel)?;
                let config = russh_sftp::server::Config { max_client_packet_len: MAX_SFTP_PACKET };
                russh_sftp::server::run_with_config(pumped(open, INBOUND_BUDGET, self.busy.clone()), handler, config)
                    .await;
            }
            (_, open) => {
                self.channel = open;
                session.channel_failure(channel)?;
            }
        }
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.close(channel)
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn exec_request(&mut self, channel: ChannelId, _: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single: bool,
        _protocol: &str,
        _cookie: &str,
        _screen: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }
}
