//! The partner-facing configuration currently in force: the last one the inner
//! pushed, restored from the spool at start-up.

use std::sync::Arc;

use envelope::DmzConfig;
use spool::{Spool, SpoolError, StateWrite};
use tokio::sync::watch;

use crate::CONFIG_STATE_KEY;

/// Shared, cheaply cloned handle on the config in force.
#[derive(Clone)]
pub struct ActiveConfig {
    current: Arc<watch::Sender<Arc<DmzConfig>>>,
    /// Serializes pushes, so that the check against the generation in force and
    /// the durable write that follows cannot interleave.
    applying: Arc<tokio::sync::Mutex<()>>,
}

impl ActiveConfig {
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
        let bytes = envelope::encode(&config);
        spool.write_state(vec![StateWrite::Put(CONFIG_STATE_KEY.into(), bytes)]).await?;
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
        ActiveConfig { current: Arc::new(watch::Sender::new(Arc::new(DmzConfig::default()))), applying: Arc::default() }
    }
}

#[cfg(test)]
mod tests {
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
}
