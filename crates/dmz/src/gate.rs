//! [`Gate`]: whether the partner listeners take new connections. An operator
//! pauses them (`POST /api/v1/listeners/pause`): each new connection gets the
//! protocol's "try again later" and is closed, while sessions already open go on
//! to the end of their transfers; resume opens the gate again. The state lives in
//! memory: a restarted DMZ starts open.

use std::sync::atomic::{AtomicBool, Ordering};

/// The partner listeners' gate, shared by the sessions' gateway and the admin API.
#[derive(Debug, Default)]
pub struct Gate {
    paused: AtomicBool,
}

impl Gate {
    /// Whether new partner connections are turned away.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Turns new partner connections away (or lets them in again); returns whether
    /// that changed anything.
    pub fn set_paused(&self, paused: bool) -> bool {
        self.paused.swap(paused, Ordering::AcqRel) != paused
    }
}
