//! [`Gate`]: whether the partner listeners take new connections. An operator
//! pauses them (`POST /api/v1/listeners/pause`) or drains them (`…/drain`): either
//! way each new connection gets the protocol's "try again later" and is closed,
//! while sessions already open go on to the end of their transfers. A drain is a
//! pause meant to end: the status shows it `drained` once no partner session is
//! left open (e.g. before a planned restart). Resume opens the gate again.
//!
//! A pause outlives a restart: it is kept in the spool's state ([`GATE_KEY`]) and a
//! DMZ that restarts paused stays paused until resumed. A drain does not: it is
//! the step before a planned restart, and the restart ends it.

use std::sync::atomic::{AtomicU8, Ordering};

use spool::{Spool, SpoolError, StateWrite};

/// The spool state key holding `paused` while the listeners are paused.
pub const GATE_KEY: &str = "partner-listeners";

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

/// Keeps whether `state` is a pause (see the module doc).
pub async fn persist(spool: &dyn Spool, state: GateState) -> Result<(), SpoolError> {
    let write = match state {
        GateState::Paused => StateWrite::Put(GATE_KEY.into(), GateState::Paused.name().into()),
        GateState::Open | GateState::Draining => StateWrite::Delete(GATE_KEY.into()),
    };
    spool.write_state(vec![write]).await
}

/// The gate a starting DMZ opens with: paused if it was paused when it stopped.
pub fn restore(spool: &dyn Spool) -> Result<Gate, SpoolError> {
    let gate = Gate::default();
    if spool.read_state(GATE_KEY)?.as_deref() == Some(GateState::Paused.name().as_bytes()) {
        tracing::warn!(
            message = "partner listeners stay paused, as they were when the DMZ stopped; resume them with POST /api/v1/listeners/resume"
        );
        gate.set(GateState::Paused);
    }
    Ok(gate)
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

    #[tokio::test]
    async fn a_pause_is_restored_after_a_restart_and_a_drain_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = || spool::SledSpool::open(spool::SpoolOptions::new(dir.path().join("spool"))).expect("spool");
        let spool = open();
        persist(spool.as_ref(), GateState::Paused).await.expect("persist");
        drop(spool);
        let spool = open();
        assert_eq!(restore(spool.as_ref()).expect("restore").state(), GateState::Paused);
        persist(spool.as_ref(), GateState::Draining).await.expect("persist");
        assert_eq!(restore(spool.as_ref()).expect("restore").state(), GateState::Open);
    }
}
