//! The partner-facing configuration currently in force: the last one the inner
//! pushed, restored from the spool at start-up.

use std::sync::{Arc, RwLock};

use envelope::DmzConfig;
use spool::{Spool, SpoolError, StateWrite};

use crate::CONFIG_STATE_KEY;

/// Shared, cheaply cloned handle on the config in force.
#[derive(Clone, Default)]
pub struct ActiveConfig {
    current: Arc<RwLock<Arc<DmzConfig>>>,
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
        self.current.read().map(|c| Arc::clone(&c)).unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Makes a pushed config durable, then puts it in force.
    pub async fn apply(&self, spool: &dyn Spool, config: DmzConfig) -> Result<(), SpoolError> {
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
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(config);
    }
}
