//! Which partner addresses the DMZ serves: each channel's CIDR rules, pushed by
//! the inner ([`envelope::AddressRules`]). At accept time a connection is served
//! only if some channel permits its address (otherwise it is closed before any
//! protocol byte); when a session names a channel — a login, an SMTP recipient, an
//! AS2 partnership — that channel's own rules are checked again.

use envelope::ChannelVerifiers;
use partner::Peer;

use crate::gateway::DmzGateway;

impl DmzGateway {
    /// Whether any channel permits `peer`'s address; logs a refusal.
    pub(crate) fn admits_peer(&self, peer: Peer) -> bool {
        let config = self.config.get();
        let admitted = config.channels.iter().any(|c| c.addresses.permits(peer.remote.ip()));
        self.intake.stats().connection(peer.protocol, admitted);
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
