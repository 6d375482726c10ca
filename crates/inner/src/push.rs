//! The config push: the inner owns every channel and tells the DMZ only what it
//! needs to serve partners — which listeners to run and each visible channel's
//! *verifiers* (argon2 hashes, public keys). A channel with `invisible_to_dmz` is
//! never included; credentials for reaching partners' own servers never are either.
//!
//! A push is an ordinary envelope in the `to-dmz` queue, so it is durable and
//! retried like any other; it is enqueued at every link-up (a restarted DMZ gets the
//! config again) and at every reload. Each push carries the generation of the
//! settings it was made from; the DMZ ignores one older than what it has, so a
//! push raced by a reload can never bring back a stale config.

use envelope::{As2Key, As2Verifier, Body, ChannelVerifiers, DmzConfig, EnvelopeId, LoginVerifier};
use message_service::{Link, LinkState};
use spool::{NewItem, NewPayload, Spool, SpoolError};
use tokio_util::sync::CancellationToken;

use crate::TO_DMZ;
use crate::settings::CurrentSettings;
use config::InnerSettings;

/// The partner-facing part of `settings`, of the given generation.
pub fn partner_config(settings: &InnerSettings, generation: u64) -> DmzConfig {
    DmzConfig {
        generation,
        streaming_size: settings.streaming_size,
        listeners: settings.dmz_listeners.clone(),
        channels: settings
            .channels
            .iter()
            .filter(|c| !c.invisible_to_dmz)
            .map(|c| ChannelVerifiers {
                name: c.name.clone(),
                ftp_tls_required: c.ftp_tls_required,
                logins: c
                    .logins
                    .iter()
                    .map(|l| LoginVerifier {
                        user: l.user.clone(),
                        password_hash: l.password_hash.clone(),
                        public_keys: l.public_keys.clone(),
                    })
                    .collect(),
                smtp_recipients: c.smtp_addresses.clone(),
                smtp_auth_required: c.smtp_auth_required,
                as2: c.as2.as_ref().map(|a| As2Verifier {
                    partner_id: a.partner_id.clone(),
                    our_id: a.our_id.clone(),
                    partner_cert_pem: a.partner_cert_pem.clone(),
                    our_cert_pem: a.our_cert_pem.clone(),
                    require_signed: a.require_signed,
                    require_encrypted: a.require_encrypted,
                }),
                dial: Vec::new(),
            })
            .collect(),
        as2_keys: as2_keys(settings),
        seal_key: None,
    }
}

/// Our AS2 private keys of the visible channels, one per our-id (the DMZ keeps
/// them in memory only).
fn as2_keys(settings: &InnerSettings) -> Vec<As2Key> {
    let mut keys: Vec<As2Key> = Vec::new();
    for as2 in settings.channels.iter().filter(|c| !c.invisible_to_dmz).filter_map(|c| c.as2.as_ref()) {
        if !keys.iter().any(|k| k.our_id == as2.our_id) {
            keys.push(As2Key { our_id: as2.our_id.clone(), key_pem: as2.our_key_pem.clone() });
        }
    }
    keys
}

/// Queues a push of the current partner-facing config for the DMZ.
pub async fn enqueue_push(spool: &dyn Spool, settings: &InnerSettings, generation: u64) -> Result<(), SpoolError> {
    let config = partner_config(settings, generation);
    let item = NewItem {
        id: EnvelopeId::generate().as_u128(),
        channel: None,
        header: envelope::encode(&Body::ConfigPush(config)),
        payload: NewPayload::None,
    };
    spool.enqueue(TO_DMZ, vec![item], false).await?;
    tracing::info!(message = "config push queued for the DMZ", generation);
    Ok(())
}

/// Pushes the config whenever the link comes up, until `shutdown`.
pub async fn push_on_link_up(
    spool: std::sync::Arc<dyn Spool>,
    settings: CurrentSettings,
    link: Link,
    shutdown: CancellationToken,
) {
    let mut states = link.subscribe();
    let mut was_up = false;
    loop {
        let is_up = matches!(*states.borrow_and_update(), LinkState::Up { .. });
        if is_up
            && !was_up
            && let Err(error) = push_current(spool.as_ref(), &settings).await
        {
            tracing::error!(message = "could not queue the config push", %error);
        }
        was_up = is_up;
        tokio::select! {
            changed = states.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

/// Queues a push of the settings in force now, with their generation.
pub async fn push_current(spool: &dyn Spool, settings: &CurrentSettings) -> Result<(), SpoolError> {
    let (settings, generation) = settings.with_generation();
    enqueue_push(spool, &settings, generation).await
}
