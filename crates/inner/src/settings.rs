//! The inner's configuration in force, replaceable on reload.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use config::InnerSettings;

/// Shared handle on the settings in force and the file they came from.
#[derive(Clone)]
pub struct CurrentSettings {
    path: Option<PathBuf>,
    current: Arc<RwLock<Arc<InnerSettings>>>,
}

impl CurrentSettings {
    /// `path` is re-read on reload; `None` (the demo's built-in config) cannot reload.
    pub fn new(settings: InnerSettings, path: Option<PathBuf>) -> Self {
        CurrentSettings { path, current: Arc::new(RwLock::new(Arc::new(settings))) }
    }

    pub fn get(&self) -> Arc<InnerSettings> {
        self.current.read().map(|s| Arc::clone(&s)).unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Re-reads the config file. On any problem the old settings stay in force and
    /// every problem is returned. Settings read only at start-up (node id, data dir,
    /// listeners, the DMZ link) keep their old values until a restart.
    pub fn reload(&self) -> Result<Arc<InnerSettings>, Vec<String>> {
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
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&merged);
        Ok(merged)
    }
}
