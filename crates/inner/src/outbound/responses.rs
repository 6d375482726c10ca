//! Profile responses: a profile with a `respond` table answers each delivery it
//! made by sending a file (an acknowledgement rendered from its templates) to a
//! remote of the delivery's channel.
//!
//! The response is committed as a send before the delivery is acked, under an id
//! derived from the delivery's id: a round repeated after a crash commits the
//! same send again, which adds nothing, so each delivery is answered once.

use config::InnerSettings;
use config::inner::Response;
use envelope::{DeliveryMeta, EnvelopeId};
use sha2::Digest;
use spool::SpoolError;

use super::sends::{NewSend, Sends, SubmitError};
use crate::deliver::plan::{Destination, Planned};

/// Commits the responses of the delivered items whose profile asks for one.
pub async fn respond(sends: &Sends, settings: &InnerSettings, delivered: &[Planned]) -> Result<(), SpoolError> {
    for planned in delivered {
        let (Destination::Profile { name, .. }, Some(meta)) = (&planned.destination, &planned.meta) else { continue };
        let Some(response) = settings.profiles.iter().find(|p| p.name == *name).and_then(|p| p.respond.as_ref()) else {
            continue;
        };
        match submit(sends, response, meta, &planned.id, planned.item.payload.size()).await {
            Ok(id) => tracing::info!(message = "response queued", delivery = %planned.id, send = %id, profile = %name),
            Err(SubmitError::Spool(error)) => return Err(error),
            Err(SubmitError::Io(error)) => return Err(error.into()),
            // The config changed under the delivery (its remote is gone): answering
            // is impossible, holding the delivery back would not help.
            Err(error) => tracing::error!(message = "cannot respond to a delivery", delivery = %planned.id, %error),
        }
    }
    Ok(())
}

async fn submit(
    sends: &Sends,
    response: &Response,
    meta: &DeliveryMeta,
    delivery: &str,
    size: u64,
) -> Result<String, SubmitError> {
    let name = meta.path.rsplit('/').next().unwrap_or_default();
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let (size, sha256) = (size.to_string(), meta.sha256.to_string());
    let values = [
        ("name", name),
        ("stem", stem),
        ("path", meta.path.as_str()),
        ("channel", meta.channel.as_str()),
        ("size", size.as_str()),
        ("sha256", sha256.as_str()),
        ("id", delivery),
    ];
    let text = config::inner::render(&response.text, &values);
    let mut staging = sends.spool().stage().await?;
    staging.write_all(text.as_bytes()).await?;
    let staged = staging.finish().await?;
    let digest = envelope::Sha256(sha2::Sha256::digest(text.as_bytes()).into());
    let send = NewSend {
        channel: meta.channel.clone(),
        remote: response.remote.clone(),
        name: config::inner::render(&response.name, &values),
        directory: None,
    };
    sends.submit_as(response_id(delivery), send, staged, digest).await
}

/// The send id of the response to `delivery`.
fn response_id(delivery: &str) -> EnvelopeId {
    let digest = sha2::Sha256::digest(format!("response/{delivery}"));
    let mut first = [0u8; 16];
    first.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    EnvelopeId::from_u128(u128::from_be_bytes(first))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_delivery_has_one_response_id() {
        assert_eq!(super::response_id("d1"), super::response_id("d1"));
        assert_ne!(super::response_id("d1"), super::response_id("d2"));
    }
}
