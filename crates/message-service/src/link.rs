//! The shared status of the link to the peer node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use envelope::now_millis;
use tokio::sync::watch;

/// What is known about the link right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// No working exchange with the peer since `since` (Unix ms), for `reason`.
    Down { since: u64, reason: String },
    /// Talking to the peer node `peer` since `since` (Unix ms).
    Up { peer: String, since: u64 },
}

/// Link status, one per node, shared by its server and client halves. Changes are
/// logged once (info when up, warn when down), never per retry.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

struct Shared {
    state: watch::Sender<LinkState>,
    /// Unix ms of the last successful exchange with the peer; 0 = never.
    last_contact: AtomicU64,
}

impl Link {
    /// A link that is down, "not connected yet".
    pub fn new() -> Link {
        let initial = LinkState::Down { since: now_millis(), reason: "not connected yet".into() };
        Link { shared: Arc::new(Shared { state: watch::Sender::new(initial), last_contact: AtomicU64::new(0) }) }
    }

    pub fn state(&self) -> LinkState {
        self.shared.state.borrow().clone()
    }

    /// Notified on every change of state.
    pub fn subscribe(&self) -> watch::Receiver<LinkState> {
        self.shared.state.subscribe()
    }

    /// Unix ms of the last successful exchange with the peer.
    pub fn last_contact(&self) -> Option<u64> {
        match self.shared.last_contact.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(millis),
        }
    }

    /// Records a successful exchange with `peer`; marks the link up if it was not.
    pub(crate) fn set_up(&self, peer: &str) {
        self.shared.last_contact.store(now_millis(), Ordering::Relaxed);
        self.shared.state.send_if_modified(|state| {
            if matches!(state, LinkState::Up { peer: current, .. } if current == peer) {
                return false;
            }
            tracing::info!(peer, "message service link up");
            *state = LinkState::Up { peer: peer.to_owned(), since: now_millis() };
            true
        });
    }

    /// Marks the link down. Repeating the current reason changes (and logs) nothing;
    /// a new reason is logged and replaces the old one, keeping `since`.
    pub(crate) fn set_down(&self, reason: &str) {
        self.shared.state.send_if_modified(|state| {
            let since = match state {
                LinkState::Down { reason: current, .. } if current == reason => return false,
                LinkState::Down { since, .. } => *since,
                LinkState::Up { .. } => now_millis(),
            };
            tracing::warn!(reason, "message service link down");
            *state = LinkState::Down { since, reason: reason.to_owned() };
            true
        });
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::new()
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("state", &self.state()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_down_and_changes_only_on_transitions() {
        let link = Link::new();
        let mut changes = link.subscribe();
        assert!(matches!(link.state(), LinkState::Down { ref reason, .. } if reason == "not connected yet"));
        assert_eq!(link.last_contact(), None);

        link.set_up("inner-1");
        assert!(changes.has_changed().unwrap_or(false));
        changes.mark_unchanged();
        link.set_up("inner-1");
        assert!(!changes.has_changed().unwrap_or(true), "same peer again is no change");
        assert!(link.last_contact().is_some());

        link.set_down("connection refused");
        changes.mark_unchanged();
        link.set_down("connection refused");
        assert!(!changes.has_changed().unwrap_or(true), "same reason again is no change");
        let LinkState::Down { since, .. } = link.state() else { panic!("down expected") };

        link.set_down("protocol version 2 not supported");
        assert!(changes.has_changed().unwrap_or(false));
        assert_eq!(link.state(), LinkState::Down { since, reason: "protocol version 2 not supported".into() });
    }
}
