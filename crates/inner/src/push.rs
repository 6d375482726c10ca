//! The config push: the inner owns every channel and tells the DMZ only what it
//! needs to serve partners — which listeners to run and each visible channel's
//! *verifiers* (argon2 hashes, public keys). A channel with `invisible_to_dmz` is
//! never included; credentials for reaching partners' own servers never are either
//! (they travel sealed inside each request). What the DMZ does get for outbound
//! work: each visible channel's `dial` list (the `host:port` of its remotes used
//! through the DMZ, nothing else is dialled) and the seal key (memory only there).
//!
//! A push is an ordinary envelope in the `to-dmz` queue, so it is durable and
//! retried like any other; it is enqueued at every link-up (a restarted DMZ gets the
//! config again) and at every reload. Each push carries the generation of the
//! settings it was made from; the DMZ ignores one older than what it has, so a
//! push raced by a reload can never bring back a stale config.

use envelope::{As2Key, As2Verifier, Body, ChannelVerifiers, DmzConfig, EnvelopeId, LoginVerifier, SealKey};
use message_service::{Link, LinkState};
use spool::{NewItem, NewPayload, Spool, SpoolError};
use tokio_util::sync::CancellationToken;

use crate::TO_DMZ;
use crate::settings::CurrentSettings;
use config::InnerSettings;

/// The partner-facing part of `settings`, of the given generation, with the seal
/// key that opens the credentials inside fetch and send requests.
pub fn partner_config(settings: &InnerSettings, generation: u64, seal_key: Option<SealKey>) -> DmzConfig {
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
                dial: crate::remotes::dial(settings, c),
                addresses: c.addresses.clone(),
                when_inner_down: c.when_inner_down,
            })
            .collect(),
        as2_keys: as2_keys(settings),
        seal_key,
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
    let seal_key = crate::seal::load_or_create(&settings.data_dir)?;
    let config = partner_config(settings, generation, Some(seal_key));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> InnerSettings {
        let text = format!(
            "role = \"inner\"\nnode_id = \"i\"\ndata_dir = \"{}\"\n[dmz]\nurl = \"http://127.0.0.1:8020\"\n\
             mode = \"pushback\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
             [[channels]]\nname = \"acme\"\n\
             [[channels.remotes]]\nname = \"s\"\nprotocol = \"sftp\"\nhost = \"SFTP.Acme.example\"\naccept_any_host_key = true\n\
             [[channels.remotes]]\nname = \"v6\"\nprotocol = \"https\"\nhost = \"::1\"\nport = 8443\n\
             [[channels.remotes]]\nname = \"inside\"\nprotocol = \"ftp\"\nhost = \"10.0.0.9\"\nvia_dmz = false\n\
             [[channels.remotes]]\nname = \"box\"\nprotocol = \"pickup\"\n\
             [[channels]]\nname = \"secret\"\ninvisible_to_dmz = true\n\
             [[channels.remotes]]\nname = \"x\"\nprotocol = \"ftp\"\nhost = \"hidden.example\"\nvia_dmz = false\n",
            dir.display()
        );
        config::parse_inner(&text).expect("valid config")
    }

    #[test]
    fn the_push_lists_what_the_dmz_may_dial_and_the_seal_key_but_no_invisible_channel() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = crate::seal::load_or_create(dir.path()).expect("key");
        let config = partner_config(&settings(dir.path()), 7, Some(key.clone()));
        assert_eq!(config.seal_key, Some(key));
        assert_eq!(config.channels.len(), 1, "the invisible channel is never pushed");
        assert_eq!(config.channels[0].dial, vec!["[::1]:8443".to_string(), "sftp.acme.example:22".to_string()]);
        let encoded = format!("{config:?}");
        assert!(!encoded.contains("hidden.example") && !encoded.contains("secret"), "{encoded}");
    }
}
