//! The inner's configuration in force, replaceable on reload.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use config::InnerSettings;

/// Shared handle on the settings in force and the file they came from.
#[derive(Clone)]
pub struct CurrentSettings {
    path: Option<PathBuf>,
    current: Arc<RwLock<Versioned>>,
}

/// Settings with their generation: Unix ms of the load, strictly increasing, so
/// the DMZ can tell a stale config push from a newer one.
#[derive(Clone)]
struct Versioned {
    settings: Arc<InnerSettings>,
    generation: u64,
}

impl CurrentSettings {
    /// `path` is re-read on reload; `None` (the demo's built-in config) cannot reload.
    pub fn new(settings: InnerSettings, path: Option<PathBuf>) -> Self {
        let versioned = Versioned { settings: Arc::new(settings), generation: envelope::now_millis() };
        CurrentSettings { path, current: Arc::new(RwLock::new(versioned)) }
    }

    pub fn get(&self) -> Arc<InnerSettings> {
        self.versioned().settings
    }

    /// The settings in force with their generation, read together.
    pub fn with_generation(&self) -> (Arc<InnerSettings>, u64) {
        let versioned = self.versioned();
        (versioned.settings, versioned.generation)
    }

    fn versioned(&self) -> Versioned {
        self.current.read().map(|v| v.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Re-reads the config file. On any problem the old settings stay in force and
    /// every problem is returned. Settings read only at start-up (node id, data dir,
    /// listeners, the DMZ link) keep their old values until a restart.
    pub fn reload(&self) -> Result<(Arc<InnerSettings>, u64), Vec<String>> {
        let path = self.path.as_ref().ok_or_else(|| vec!["this node was started without a config file".to_string()])?;
        let new = config::load(path, config::parse_inner)?;
        let old = self.get();
        if new.node_id != old.node_id || new.data_dir != old.data_dir || new.admin.listen != old.admin.listen {
            tracing::warn!(message = "node_id, data_dir and admin.listen change only on restart");
        }
        let merged = Arc::new(InnerSettings {
            node_id: old.node_id.clone(),
            data_dir: old.data_dir.clone(),
            dmz: old.dmz.clone(),
            admin: old.admin.clone(),
            ..new
        });
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let generation = envelope::now_millis().max(current.generation + 1);
        *current = Versioned { settings: Arc::clone(&merged), generation };
        Ok((merged, generation))
    }
}
