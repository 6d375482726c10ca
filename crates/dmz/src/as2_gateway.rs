//! [`DmzGateway`] as the AS2 receiver's [`As2Gateway`]: partnerships from the pushed
//! channels (certificates) and our private keys (memory only, see
//! [`envelope::DmzConfig::as2_keys`]); checked payloads go through the intake once
//! per (`AS2-From`, `AS2-To`, `Message-ID`): the envelope id is derived from them, so
//! a partner's retry of a message already accepted is recognised in the same commit
//! that would have added it, and is not delivered twice.

use std::sync::Arc;

use async_trait::async_trait;
use envelope::{As2Meta, EnvelopeId, Partner, Protocol};
use partner::{
    Admission, As2Delivery, As2Gateway, As2LookupError, As2Outcome, As2Partnership, FileRegion, FsError, Peer, Receipt,
};
use sha2::Digest;

use crate::gateway::{DmzGateway, fs_error};
use crate::intake::{Arrival, StreamedDelivery};

/// Bytes read from the scratch file per step.
const COPY_CHUNK: usize = 1 << 20;

#[async_trait]
impl As2Gateway for DmzGateway {
    fn admission(&self, peer: Peer) -> Admission {
        self.admit(peer)
    }

    fn partnership(&self, peer: Peer, from: &str, to: &str) -> Result<Arc<As2Partnership>, As2LookupError> {
        let config = self.config.get();
        let (channel, as2) = config
            .channels
            .iter()
            .find_map(|c| c.as2.as_ref().filter(|a| a.partner_id == from && a.our_id == to).map(|a| (c, a)))
            .filter(|(channel, _)| crate::admission::channel_admits(channel, peer))
            .ok_or(As2LookupError::UnknownPartner)?;
        let key = config.as2_keys.iter().find(|k| k.our_id == to).ok_or(As2LookupError::KeysNotLoaded)?;
        self.intake.stats().connections().identify(peer, Some(from), &channel.name);
        Ok(Arc::new(As2Partnership {
            channel: channel.name.clone(),
            partner_id: as2.partner_id.clone(),
            our_id: as2.our_id.clone(),
            partner_cert_pem: as2.partner_cert_pem.clone(),
            our_cert_pem: as2.our_cert_pem.clone(),
            our_key_pem: key.key_pem.clone(),
            require_signed: as2.require_signed,
            require_encrypted: as2.require_encrypted,
        }))
    }

    async fn deliver(&self, delivery: As2Delivery) -> Result<As2Outcome, FsError> {
        let id = message_envelope_id(&delivery.from, &delivery.to, &delivery.message_id);
        let arrival = Arrival {
            id,
            channel: delivery.channel.clone(),
            protocol: Protocol::As2,
            partner: Partner { login: Some(delivery.from.clone()), remote: Some(delivery.peer.remote) },
            path: delivery_path(delivery.filename.as_deref(), id),
            mail: None,
            as2: Some(As2Meta {
                from: delivery.from,
                to: delivery.to,
                message_id: delivery.message_id.clone(),
                mic: delivery.mic,
                signed: delivery.signed,
                encrypted: delivery.encrypted,
                compressed: delivery.compressed,
            }),
            fetched: None,
        };
        let channel = arrival.channel.clone();
        let mut upload = self.intake.begin(arrival).await.map_err(fs_error)?;
        copy_region(&delivery.payload, &mut upload).await?;
        match upload.commit_once().await.map_err(fs_error)? {
            Some(accepted) => {
                tracing::info!(message = "partner AS2 message committed", id = %accepted.id, %channel, message_id = %delivery.message_id, size = accepted.size);
                Ok(As2Outcome::Accepted(Receipt { id: accepted.id, size: accepted.size, sha256: accepted.sha256 }))
            }
            None => {
                tracing::info!(message = "duplicate AS2 message not delivered again", %channel, message_id = %delivery.message_id);
                Ok(As2Outcome::Duplicate)
            }
        }
    }
}

/// Streams the payload (a scratch-file region of the AS2 receiver) into the
/// spool, a chunk at a time, read off the async workers.
async fn copy_region(payload: &FileRegion, upload: &mut StreamedDelivery) -> Result<(), FsError> {
    let mut offset = 0;
    while offset < payload.len() {
        let region = payload.clone();
        let chunk = tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0u8; COPY_CHUNK.min((region.len() - offset) as usize)];
            let read = region.read_at(offset, &mut chunk)?;
            chunk.truncate(read);
            Ok::<_, std::io::Error>(chunk)
        })
        .await
        .map_err(|e| FsError::Unavailable(e.to_string()))?
        .map_err(|e| FsError::Unavailable(format!("AS2 scratch file: {e}")))?;
        if chunk.is_empty() {
            return Err(FsError::Unavailable("AS2 scratch file shorter than its payload".into()));
        }
        offset += chunk.len() as u64;
        upload.write(&chunk).await.map_err(fs_error)?;
    }
    Ok(())
}

/// The same message (from, to, Message-ID) always gets the same envelope id.
fn message_envelope_id(from: &str, to: &str, message_id: &str) -> EnvelopeId {
    let digest = sha2::Sha256::new()
        .chain_update(b"as2\0")
        .chain_update(from.as_bytes())
        .chain_update(b"\0")
        .chain_update(to.as_bytes())
        .chain_update(b"\0")
        .chain_update(message_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    EnvelopeId::from_bytes(bytes)
}

/// The partner's file name when it is a plain, safe name; `<id>.as2` otherwise.
fn delivery_path(filename: Option<&str>, id: EnvelopeId) -> String {
    let base = filename.and_then(|name| name.rsplit(['/', '\\']).next()).map(str::trim);
    match base {
        Some(name) if envelope::validate_segment(name).is_ok() => name.to_owned(),
        _ => format!("{id}.as2"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_keeps_its_id_and_different_messages_do_not_share_one() {
        let a = message_envelope_id("P", "US", "<1@p>");
        assert_eq!(a, message_envelope_id("P", "US", "<1@p>"));
        assert_ne!(a, message_envelope_id("P", "US", "<2@p>"));
        assert_ne!(a, message_envelope_id("PU", "S", "<1@p>"), "fields are separated");
    }

    #[test]
    fn only_plain_file_names_are_kept() {
        let id = EnvelopeId::generate();
        assert_eq!(delivery_path(Some("invoice.edi"), id), "invoice.edi");
        assert_eq!(delivery_path(Some("C:\\\\out\\\\invoice.edi"), id), "invoice.edi");
        assert_eq!(delivery_path(Some("../../etc/passwd"), id), "passwd");
        for bad in [None, Some(""), Some(".."), Some("a\u{0}b"), Some("dir/")] {
            assert_eq!(delivery_path(bad, id), format!("{id}.as2"), "{bad:?}");
        }
    }
}
