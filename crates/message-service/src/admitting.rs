//! [`AdmittingListener`]: the MessageService's TCP listener with the peer address
//! rules applied at accept, so a denied peer gets its connection closed before any
//! HTTP byte is read or written (the request guard checks again). Every admitted
//! connection counts its bytes into the server's peer-traffic [`Meter`].

use std::net::SocketAddr;

use envelope::AddressRules;
use meter::{Meter, Metered};
use tokio::net::{TcpListener, TcpStream};

/// Accepts only connections from addresses `rules` permit; logs the others.
pub(crate) struct AdmittingListener {
    pub(crate) inner: TcpListener,
    pub(crate) rules: AddressRules,
    pub(crate) traffic: Meter,
}

impl axum::serve::Listener for AdmittingListener {
    type Io = Metered<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Metered<TcpStream>, SocketAddr) {
        loop {
            let (stream, peer) = axum::serve::Listener::accept(&mut self.inner).await;
            if self.rules.permits(peer.ip()) {
                return (Metered::new(stream, self.traffic.clone()), peer);
            }
            tracing::warn!(%peer, "message service connection refused: address not allowed");
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The peer's address, as requests see it (`ConnectInfo<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, AdmittingListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, AdmittingListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}
