//! `[outbound]` of `dmz.toml`: how the DMZ runs the fetch and send requests of the
//! inner (what to fetch or send, and where, comes with each request).

use serde::Deserialize;

use crate::Problems;

/// The validated `[outbound]` table.
#[derive(Debug, Clone)]
pub struct DmzOutbound {
    /// Requests run side by side (each holds one connection to a partner's server).
    pub workers: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct OutboundFile {
    #[serde(default = "default_workers")]
    workers: u64,
}

impl Default for OutboundFile {
    fn default() -> Self {
        OutboundFile { workers: default_workers() }
    }
}

fn default_workers() -> u64 {
    4
}

impl OutboundFile {
    pub(super) fn validate(self, problems: &mut Problems) -> DmzOutbound {
        problems.range("outbound.workers", self.workers, 1, 64);
        DmzOutbound { workers: usize::try_from(self.workers.clamp(1, 64)).unwrap_or(4) }
    }
}

#[cfg(test)]
mod tests {
    const BASE: &str = "role = \"dmz\"\nnode_id = \"d\"\ndata_dir = \"/tmp/d\"\n[message_service]\nmode = \"pushback\"\n[admin]\nlisten = \"127.0.0.1:0\"\n";

    #[test]
    fn four_workers_unless_told_and_never_none() {
        assert_eq!(crate::parse_dmz(BASE).expect("valid").outbound.workers, 4);
        let two = format!("{BASE}[outbound]\nworkers = 2\n");
        assert_eq!(crate::parse_dmz(&two).expect("valid").outbound.workers, 2);
        let none = format!("{BASE}[outbound]\nworkers = 0\n");
        assert!(crate::parse_dmz(&none).is_err_and(|problems| problems.iter().any(|p| p.contains("outbound.workers"))));
    }
}
