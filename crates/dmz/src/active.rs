//! The partner-facing configuration currently in force: the last one the inner
//! pushed, restored from the spool at start-up — without its two secrets, our AS2
//! private keys and the seal key of outbound requests, which are kept in memory
//! only and come again with the push at every link-up.
//!
//! With `keep_config = "memory"` nothing of it touches the disk: a config stored by
//! an earlier run is deleted at start, pushes are not stored, and when the link to
//! the inner is lost the config is forgotten — the partner listeners stop and no
//! channel takes deliveries — until the inner connects and pushes again.

use std::sync::Arc;

use config::dmz::KeepConfig;
use envelope::DmzConfig;
use message_service::{Link, LinkState};
use spool::{Spool, SpoolError, StateWrite};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::CONFIG_STATE_KEY;

/// Shared, cheaply cloned handle on the config in force.
#[derive(Clone)]
pub struct ActiveConfig {
    current: Arc<watch::Sender<Arc<DmzConfig>>>,
    /// Serializes pushes, so that the check against the generation in force and
    /// the durable write that follows cannot interleave.
    applying: Arc<tokio::sync::Mutex<()>>,
    /// Whether pushes are stored in the spool (`keep_config = "disk"`).
    persist: bool,
}

impl ActiveConfig {
    /// The config in force at start: restored from the spool (`disk`), or none
    /// (`memory`, after deleting any copy an earlier run stored).
    pub async fn open(spool: &dyn Spool, keep: KeepConfig) -> Result<Self, SpoolError> {
        if keep == KeepConfig::Disk {
            return ActiveConfig::restore(spool);
        }
        if spool.read_state(CONFIG_STATE_KEY)?.is_some() {
            spool.write_state(vec![StateWrite::Delete(CONFIG_STATE_KEY.into())]).await?;
            tracing::info!(message = "keep_config = memory: deleted the config an earlier run stored");
        }
        Ok(ActiveConfig { persist: false, ..ActiveConfig::default() })
    }

    /// Forgets the config in force each time `link` goes down (`keep_config =
    /// "memory"`); runs until `shutdown`.
    pub async fn forget_on_link_loss(self, link: Link, shutdown: CancellationToken) {
        let mut states = link.subscribe();
        loop {
            if matches!(*states.borrow_and_update(), LinkState::Down { .. }) && self.get().generation > 0 {
                tracing::warn!(
                    message = "link to the inner lost: partner config forgotten, listeners stop until it is back"
                );
                self.set(DmzConfig::default());
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = states.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Restores the last pushed config from the spool (empty if none was pushed yet).
    pub fn restore(spool: &dyn Spool) -> Result<Self, SpoolError> {
        let active = ActiveConfig::default();
        if let Some(bytes) = spool.read_state(CONFIG_STATE_KEY)? {
            match envelope::decode::<DmzConfig>(&bytes, usize::MAX) {
                Ok(config) => active.set(config),
                Err(error) => tracing::error!(message = "stored DMZ config unreadable; waiting for a push", %error),
            }
        }
        Ok(active)
    }

    /// The config in force now.
    pub fn get(&self) -> Arc<DmzConfig> {
        Arc::clone(&self.current.borrow())
    }

    /// Sees every config put in force from now on.
    pub fn subscribe(&self) -> watch::Receiver<Arc<DmzConfig>> {
        self.current.subscribe()
    }

    /// Makes a pushed config durable, then puts it in force; a push older than
    /// the config in force (raced by a newer one) is ignored.
    pub async fn apply(&self, spool: &dyn Spool, config: DmzConfig) -> Result<(), SpoolError> {
        let _one_at_a_time = self.applying.lock().await;
        let in_force = self.get().generation;
        if config.generation < in_force {
            tracing::info!(message = "ignored a stale config push", generation = config.generation, in_force);
            return Ok(());
        }
        // Our AS2 private keys and the seal key never reach the DMZ's disk: the
        // stored copy goes without them, and after a restart they come with the
        // next push.
        if self.persist {
            let stored = DmzConfig { as2_keys: Vec::new(), seal_key: None, ..config.clone() };
            spool.write_state(vec![StateWrite::Put(CONFIG_STATE_KEY.into(), envelope::encode(&stored))]).await?;
        }
        tracing::info!(
            message = "partner-facing config applied",
            generation = config.generation,
            channels = config.channels.len(),
            listeners = config.listeners.len(),
        );
        self.set(config);
        Ok(())
    }

    fn set(&self, config: DmzConfig) {
        self.current.send_replace(Arc::new(config));
    }
}

impl Default for ActiveConfig {
    fn default() -> Self {
        ActiveConfig {
            current: Arc::new(watch::Sender::new(Arc::new(DmzConfig::default()))),
            applying: Arc::default(),
            persist: true,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use spool::{SledSpool, SpoolOptions};

    fn config(generation: u64, channel: &str) -> DmzConfig {
        let channels = vec![envelope::ChannelVerifiers {
            name: channel.into(),
            ftp_tls_required: false,
            logins: vec![],
            ..Default::default()
        }];
        DmzConfig { generation, channels, ..DmzConfig::default() }
    }

    #[tokio::test]
    async fn a_stale_push_never_replaces_a_newer_one_and_the_newest_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("spool");
        let active = ActiveConfig::restore(spool.as_ref()).expect("restore");
        active.apply(spool.as_ref(), config(20, "new")).await.expect("apply");
        active.apply(spool.as_ref(), config(10, "old")).await.expect("stale push is acked");
        assert!(active.get().channel("new").is_some());
        drop(active);
        drop(spool);
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("reopen");
        let restored = ActiveConfig::restore(spool.as_ref()).expect("restore");
        assert_eq!(restored.get().generation, 20);
    }

    #[tokio::test]
    async fn our_as2_keys_and_the_seal_key_are_in_force_but_never_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("spool");
        let active = ActiveConfig::restore(spool.as_ref()).expect("restore");
        let secret = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n";
        let key = envelope::As2Key { our_id: "US".into(), key_pem: secret.into() };
        let seal_key = envelope::SealKey(b"SEAL-KEY-MATERIAL-32-BYTES-LONG!".to_vec());
        let push = DmzConfig { as2_keys: vec![key], seal_key: Some(seal_key.clone()), ..config(1, "c") };
        active.apply(spool.as_ref(), push).await.expect("apply");
        assert_eq!(active.get().as2_keys.len(), 1, "in force in memory");
        assert_eq!(active.get().seal_key.as_ref(), Some(&seal_key), "in force in memory");
        drop(active);
        drop(spool);
        for secret in [&b"TOP-SECRET-KEY-MATERIAL"[..], b"SEAL-KEY-MATERIAL"] {
            let on_disk = files_contain(dir.path(), secret);
            assert!(on_disk.is_empty(), "a secret reached the disk: {on_disk:?}");
        }
        let spool = SledSpool::open(SpoolOptions::new(dir.path())).expect("reopen");
        let restored = ActiveConfig::restore(spool.as_ref()).expect("restore");
        assert!(restored.get().as2_keys.is_empty() && restored.get().channel("c").is_some());
        assert!(restored.get().seal_key.is_none());
    }

    /// Files under `dir` whose bytes contain `needle`.
    pub(crate) fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_contain(&path, needle));
            } else if std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)) {
                found.push(path);
            }
        }
        found
    }
}
