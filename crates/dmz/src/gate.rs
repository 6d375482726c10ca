//! [`Gate`]: whether the partner listeners take new connections. An operator
//! pauses them (`POST /api/v1/listeners/pause`) or drains them (`…/drain`): either
//! way each new connection gets the protocol's "try again later" and is closed,
//! while sessions already open go on to the end of their transfers. A drain is a
//! pause meant to end: the status shows it `drained` once no partner session is
//! left open (e.g. before a planned restart). Resume opens the gate again. The
//! state lives in memory: a restarted DMZ starts open.

use std::sync::atomic::{AtomicU8, Ordering};

/// The state of the partner listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    Open,
    Paused,
    Draining,
}

impl GateState {
    pub fn name(self) -> &'static str {
        match self {
            GateState::Open => "open",
            GateState::Paused => "paused",
            GateState::Draining => "draining",
        }
    }
}

/// The partner listeners' gate, shared by the sessions' gateway and the admin API.
#[derive(Debug, Default)]
pub struct Gate {
    state: AtomicU8,
}

impl Gate {
    pub fn state(&self) -> GateState {
        match self.state.load(Ordering::Acquire) {
            0 => GateState::Open,
            1 => GateState::Paused,
            _ => GateState::Draining,
        }
    }

    /// Whether new partner connections are turned away.
    pub fn is_closed(&self) -> bool {
        self.state() != GateState::Open
    }

    /// Puts the gate in `state`; returns whether that changed anything.
    pub fn set(&self, state: GateState) -> bool {
        let value = match state {
            GateState::Open => 0,
            GateState::Paused => 1,
            GateState::Draining => 2,
        };
        self.state.swap(value, Ordering::AcqRel) != value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_starts_open_and_reports_changes() {
        let gate = Gate::default();
        assert_eq!(gate.state(), GateState::Open);
        assert!(gate.set(GateState::Draining));
        assert!(gate.is_closed());
        assert!(!gate.set(GateState::Draining));
        assert!(gate.set(GateState::Open));
        assert!(!gate.is_closed());
    }
}
