//! Which partner addresses the DMZ serves: each channel's CIDR rules, pushed by
//! the inner ([`envelope::AddressRules`]). At accept time a connection is served
//! only if some channel permits its address (otherwise it is closed before any
//! protocol byte); when a session names a channel — a login, an SMTP recipient, an
//! AS2 partnership — that channel's own rules are checked again.

use envelope::ChannelVerifiers;
use partner::{Admission, Peer, Ticket};

use crate::gateway::DmzGateway;

impl DmzGateway {
    /// Serves `peer` if the listeners are not paused and some channel admits its
    /// address; counts and logs the outcome.
    pub(crate) fn admit(&self, peer: Peer) -> Admission {
        if self.intake.gate().is_closed() {
            let state = self.intake.gate().state().name();
            tracing::info!(message = "partner connection turned away", state, remote = %peer.remote, protocol = %peer.protocol);
            self.intake.stats().connection(peer.protocol, "paused");
            return Admission::Busy;
        }
        match self.admits_peer(peer) {
            true => {
                let (meter, active) = self.intake.stats().opened(peer);
                Admission::Serve(Ticket::new(meter, active))
            }
            false => Admission::Refuse,
        }
    }

    /// Whether any channel permits `peer`'s address; logs a refusal.
    fn admits_peer(&self, peer: Peer) -> bool {
        let config = self.config.get();
        let admitted = config.channels.iter().any(|c| c.addresses.permits(peer.remote.ip()));
        self.intake.stats().connection(peer.protocol, if admitted { "admitted" } else { "refused" });
        if !admitted {
            tracing::warn!(
                message = "partner connection refused: no channel admits this address",
                remote = %peer.remote,
                protocol = %peer.protocol,
            );
        }
        admitted
    }
}

/// Whether `channel` permits `peer`'s address; logs a refusal.
pub(crate) fn channel_admits(channel: &ChannelVerifiers, peer: Peer) -> bool {
    let admitted = channel.addresses.permits(peer.remote.ip());
    if !admitted {
        tracing::warn!(
            message = "partner refused: channel does not admit this address",
            channel = %channel.name,
            remote = %peer.remote,
            protocol = %peer.protocol,
        );
    }
    admitted
}
