//! [`DmzGateway`]: the DMZ's answer to protocol sessions ([`partner::Gateway`]):
//! logins against the verifiers the inner pushed, the virtual home ([`Homes`]),
//! uploads streamed through the [`Intake`], and downloads of the channel's pickup
//! files ([`crate::pickup`]).

use std::time::Duration;

use async_trait::async_trait;
use envelope::{ChannelVerifiers, LoginVerifier, Partner};
use partner::{Admission, Credential, Entry, FsError, Gateway, Login, Peer, Receipt, Session, Upload, VPath};

use crate::active::ActiveConfig;
use crate::admission::channel_admits;
use crate::home::Homes;
use crate::intake::{Arrival, Intake, IntakeError, StreamedDelivery};

/// How long a failed login waits before it is answered (slows guessing; other
/// sessions are not held up).
const FAILED_LOGIN_DELAY: Duration = Duration::from_secs(1);

/// The gateway every partner-facing listener of a DMZ shares.
#[derive(Clone)]
pub struct DmzGateway {
    pub intake: Intake,
    pub config: ActiveConfig,
    pub homes: Homes,
}

#[async_trait]
impl Gateway for DmzGateway {
    fn admission(&self, peer: Peer) -> Admission {
        self.admit(peer)
    }

    async fn authenticate(&self, peer: Peer, user: &str, credential: Credential<'_>) -> Option<Login> {
        let config = self.config.get();
        let found = find_login(&config.channels, user);
        let accepted = match (found, credential) {
            (Some((_, login)), Credential::Password(password)) => password_matches(login, password).await,
            (Some((_, login)), Credential::PublicKey(key)) => key_matches(login, key),
            (None, _) => false,
        } && found.is_some_and(|(channel, _)| channel_admits(channel, peer));
        self.intake.stats().login(peer.protocol, accepted);
        let channel = found.map_or("-", |(c, _)| c.name.as_str());
        let outcome = if accepted { "accepted" } else { "refused" };
        tracing::info!(target: "audit", event = "login", outcome, user, channel, remote = %peer.remote, protocol = %peer.protocol, method = method(credential));
        match found {
            Some((channel, _)) if accepted => {
                self.intake.stats().connections().identify(peer, Some(user), &channel.name);
                tracing::info!(message = "partner logged in", user, channel = %channel.name, remote = %peer.remote, protocol = %peer.protocol);
                Some(Login {
                    channel: channel.name.clone(),
                    user: user.to_owned(),
                    tls_required: channel.ftp_tls_required,
                })
            }
            _ => {
                tracing::warn!(message = "partner login refused", user, remote = %peer.remote, protocol = %peer.protocol, method = method(credential));
                tokio::time::sleep(FAILED_LOGIN_DELAY).await;
                None
            }
        }
    }

    fn accepts_key(&self, user: &str, key: &str) -> bool {
        find_login(&self.config.get().channels, user).is_some_and(|(_, login)| key_matches(login, key))
    }

    async fn stat(&self, session: &Session, path: &VPath) -> Result<Entry, FsError> {
        self.homes.stat(self.channel(session)?, path)
    }

    async fn list(&self, session: &Session, dir: &VPath) -> Result<Vec<Entry>, FsError> {
        self.homes.list(self.channel(session)?, dir)
    }

    async fn mkdir(&self, session: &Session, path: &VPath) -> Result<(), FsError> {
        self.homes.mkdir(self.channel(session)?, path).await
    }

    async fn rmdir(&self, session: &Session, path: &VPath) -> Result<(), FsError> {
        self.homes.rmdir(self.channel(session)?, path).await
    }

    async fn remove(&self, session: &Session, path: &VPath) -> Result<(), FsError> {
        let channel = self.channel(session)?;
        match self.homes.stat(channel, path)?.kind {
            partner::EntryKind::Directory => Err(FsError::IsADirectory),
            partner::EntryKind::File if path.in_outbox() => self.homes.pickup().remove(channel, path).await,
            partner::EntryKind::File => Err(FsError::PermissionDenied("a received file is already forwarded")),
        }
    }

    async fn rename(&self, session: &Session, from: &VPath, to: &VPath) -> Result<(), FsError> {
        self.homes.rename(self.channel(session)?, from, to).await
    }

    async fn begin_upload(&self, session: &Session, path: &VPath) -> Result<Box<dyn Upload>, FsError> {
        let channel = self.channel(session)?;
        self.homes.check_writable_parent(channel, path)?;
        let arrival = Arrival {
            id: envelope::EnvelopeId::generate(),
            channel: channel.to_owned(),
            protocol: session.peer.protocol,
            partner: Partner { login: Some(session.login.user.clone()), remote: Some(session.peer.remote) },
            path: path.relative(),
            mail: None,
            as2: None,
            fetched: None,
        };
        let delivery = self.intake.begin(arrival).await.map_err(fs_error)?;
        Ok(Box::new(PartnerUpload { delivery, homes: self.homes.clone(), path: path.clone() }))
    }

    async fn open_read(
        &self,
        session: &Session,
        path: &VPath,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>, FsError> {
        // Only pickup files (below outbox/) can be downloaded.
        let channel = self.channel(session)?;
        match self.homes.stat(channel, path)?.kind {
            partner::EntryKind::Directory => Err(FsError::IsADirectory),
            partner::EntryKind::File if path.in_outbox() => {
                let partner = Partner { login: Some(session.login.user.clone()), remote: Some(session.peer.remote) };
                self.homes.pickup().open_read(channel, path, partner).await
            }
            partner::EntryKind::File => Err(FsError::PermissionDenied("a received file is already forwarded")),
        }
    }
}

impl DmzGateway {
    /// The session's channel, if it still exists (the inner may have removed it).
    fn channel<'s>(&self, session: &'s Session) -> Result<&'s str, FsError> {
        let name = session.login.channel.as_str();
        match self.config.get().channel(name) {
            Some(_) => Ok(name),
            None => Err(FsError::PermissionDenied("this login's channel no longer exists")),
        }
    }
}

/// An upload streaming into the spool; on commit it becomes a recent file.
struct PartnerUpload {
    delivery: StreamedDelivery,
    homes: Homes,
    path: VPath,
}

#[async_trait]
impl Upload for PartnerUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.delivery.write(bytes).await.map_err(fs_error)
    }

    fn written(&self) -> u64 {
        self.delivery.size()
    }

    async fn commit(self: Box<Self>) -> Result<Receipt, FsError> {
        let PartnerUpload { delivery, homes, path } = *self;
        let channel = delivery.channel().to_owned();
        let accepted = delivery.commit().await.map_err(fs_error)?;
        tracing::info!(message = "partner upload committed", id = %accepted.id, %channel, path = %path, size = accepted.size);
        homes.received(&channel, path, accepted.size);
        Ok(Receipt { id: accepted.id, size: accepted.size, sha256: accepted.sha256 })
    }
}

fn find_login<'c>(channels: &'c [ChannelVerifiers], user: &str) -> Option<(&'c ChannelVerifiers, &'c LoginVerifier)> {
    channels.iter().find_map(|c| c.logins.iter().find(|l| l.user == user).map(|l| (c, l)))
}

/// Verifies an argon2 hash off the async threads (it is deliberately slow).
async fn password_matches(login: &LoginVerifier, password: &str) -> bool {
    let Some(hash) = login.password_hash.clone() else { return false };
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordVerifier;
        argon2::PasswordHash::new(&hash)
            .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// Compares key type and key blob; comments do not matter.
fn key_matches(login: &LoginVerifier, key: &str) -> bool {
    let wanted = key_id(key);
    wanted.is_some() && login.public_keys.iter().any(|k| key_id(k) == wanted)
}

fn key_id(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.split_whitespace();
    Some((parts.next()?, parts.next()?))
}

fn method(credential: Credential<'_>) -> &'static str {
    match credential {
        Credential::Password(_) => "password",
        Credential::PublicKey(_) => "publickey",
    }
}

pub(crate) fn fs_error(error: IntakeError) -> FsError {
    match error {
        IntakeError::UnknownChannel(_) => FsError::PermissionDenied("this login's channel no longer exists"),
        IntakeError::BadPath(e) => FsError::BadPath(e.to_string()),
        IntakeError::InsufficientStorage => FsError::InsufficientStorage,
        IntakeError::Unavailable(reason) => FsError::Unavailable(reason),
        IntakeError::InnerDown => FsError::Unavailable(IntakeError::InnerDown.to_string()),
    }
}
