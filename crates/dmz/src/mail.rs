//! [`DmzGateway`] as the SMTP sessions' [`MailGateway`]: a recipient's channel is the
//! one whose pushed `smtp_recipients` list it; a message streams through the
//! [`Intake`](crate::intake::Intake) like any upload and lands as `<envelope id>.eml`,
//! with the mail envelope (sender, recipients, Message-ID, HELO name) in its
//! metadata.

use async_trait::async_trait;
use envelope::{EnvelopeId, MailMeta, Partner, Protocol};
use partner::{
    Admission, Credential, FsError, Gateway, Login, MailEnvelope, MailGateway, MessageUpload, Peer, Receipt,
    RecipientError,
};

use crate::admission::channel_admits;
use crate::gateway::{DmzGateway, fs_error};
use crate::intake::{Arrival, IntakeError, StreamedDelivery};

/// A header value longer than this is not a Message-ID anyone can use (RFC 5322 line limit).
const MAX_MESSAGE_ID: usize = 998;

#[async_trait]
impl MailGateway for DmzGateway {
    fn admission(&self, peer: Peer) -> Admission {
        self.admit(peer)
    }

    async fn authenticate(&self, peer: Peer, user: &str, password: &str) -> Option<Login> {
        Gateway::authenticate(self, peer, user, Credential::Password(password)).await
    }

    fn recipient(&self, peer: Peer, address: &str, login: Option<&Login>) -> Result<String, RecipientError> {
        let address = address.to_lowercase();
        let config = self.config.get();
        let channel =
            config.channels.iter().find(|c| c.smtp_recipients.contains(&address)).ok_or(RecipientError::Unknown)?;
        if !channel_admits(channel, peer) {
            return Err(RecipientError::AddressRefused);
        }
        if self.intake.refuses_while_inner_down(channel) {
            return Err(RecipientError::Unavailable(IntakeError::InnerDown.to_string()));
        }
        if channel.smtp_auth_required && login.is_none_or(|l| l.channel != channel.name) {
            return Err(RecipientError::AuthRequired);
        }
        self.intake.stats().connections().identify(peer, None, &channel.name);
        Ok(channel.name.clone())
    }

    async fn begin_message(&self, envelope: MailEnvelope) -> Result<Box<dyn MessageUpload>, FsError> {
        let id = EnvelopeId::generate();
        let arrival = Arrival {
            id,
            channel: envelope.channel,
            protocol: Protocol::Smtp,
            partner: Partner { login: envelope.login, remote: Some(envelope.peer.remote) },
            path: format!("{id}.eml"),
            mail: Some(MailMeta {
                from: envelope.from,
                recipients: envelope.recipients,
                message_id: None,
                helo: envelope.helo,
                tls: envelope.tls,
            }),
            as2: None,
            fetched: None,
        };
        let delivery = self.intake.begin(arrival).await.map_err(fs_error)?;
        Ok(Box::new(MailUpload { delivery }))
    }
}

/// A message streaming into the spool.
struct MailUpload {
    delivery: StreamedDelivery,
}

#[async_trait]
impl MessageUpload for MailUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.delivery.write(bytes).await.map_err(fs_error)
    }

    fn written(&self) -> u64 {
        self.delivery.size()
    }

    async fn commit(self: Box<Self>, message_id: Option<String>) -> Result<Receipt, FsError> {
        let mut delivery = self.delivery;
        delivery.set_message_id(message_id.map(|id| clean_message_id(&id)));
        let channel = delivery.channel().to_owned();
        let accepted = delivery.commit().await.map_err(fs_error)?;
        tracing::info!(message = "partner mail committed", id = %accepted.id, %channel, size = accepted.size);
        Ok(Receipt { id: accepted.id, size: accepted.size, sha256: accepted.sha256 })
    }
}

/// The partner's Message-ID as metadata: no control characters, bounded length.
fn clean_message_id(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE_ID).collect()
}
