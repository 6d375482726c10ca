//! [`serve`]: the accept loop, one libunftp `Server` per control connection, and the drain on
//! shutdown.
//!
//! Shutdown: stop accepting (the listener is dropped), give open sessions
//! `FtpConfig::shutdown_grace` to end, then cut the control connections of the rest (an upload
//! whose control connection is cut is not committed) and wait briefly for their tasks.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use envelope::Protocol;
use libunftp::options::PassiveHost;
use libunftp::{Server, ServerBuilder, ServerError};
use meter::Meter;
use partner::{Admission, Gateway, Peer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::{ConnectionAuthenticator, SessionUserProvider, new_slot};
use crate::probe::ControlProbe;
use crate::storage::GatewayFs;
use crate::upload::Buffer;
use crate::{FtpConfig, FtpUser};

/// How long cut sessions get to wind down before their tasks are aborted.
const CUT_WAIT: Duration = Duration::from_secs(5);

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long telling a connection "busy" may take.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// What every session of one server shares.
struct Shared {
    gateway: Arc<dyn Gateway>,
    greeting: &'static str,
    passive_ports: std::ops::RangeInclusive<u16>,
    passive_host: PassiveHost,
    tls: Option<Arc<rustls::ServerConfig>>,
    idle_secs: u64,
    logger: slog::Logger,
}

/// Serves FTP (and `AUTH TLS` when `config.tls` is set) on `listener` until `shutdown` is
/// cancelled, then drains the open sessions. Fails only if the TLS files cannot be loaded.
pub async fn serve(
    listener: TcpListener,
    config: FtpConfig,
    gateway: Arc<dyn Gateway>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let grace = config.shutdown_grace;
    let shared = Arc::new(shared(config, gateway)?);
    let cut = CancellationToken::new();
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => match shared.gateway.admission(Peer { remote, protocol: Protocol::Ftp }) {
                    Admission::Serve(ticket) => {
                        let session = run_session(shared.clone(), stream, remote, ticket.meter(), cut.clone());
                        sessions.spawn(async move {
                            let _ticket = ticket;
                            session.await;
                        });
                    }
                    Admission::Refuse => {}
                    Admission::Busy => drop(sessions.spawn(tell_busy(stream))),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "FTP accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    drain(sessions, cut, grace).await;
    Ok(())
}

fn shared(config: FtpConfig, gateway: Arc<dyn Gateway>) -> io::Result<Shared> {
    let tls = match &config.tls {
        Some(files) => {
            Some(partner::tls::server_config(files).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?)
        }
        None => None,
    };
    let passive_host = match config.passive_address {
        Some(IpAddr::V4(ip)) => PassiveHost::Ip(ip),
        Some(IpAddr::V6(ip)) => {
            tracing::warn!(%ip, "PASV cannot advertise IPv6; using the control connection's address (EPSV works)");
            PassiveHost::FromConnection
        }
        None => PassiveHost::FromConnection,
    };
    Ok(Shared {
        gateway,
        // libunftp wants a &'static str; one small leak per server, not per session.
        greeting: Box::leak(config.greeting.into_boxed_str()),
        passive_ports: config.passive_ports,
        passive_host,
        tls,
        idle_secs: config.idle_timeout.as_secs().max(1),
        logger: crate::log::logger(),
    })
}

/// Tells a connection the server takes none now (RFC 959 `421`), within a second.
async fn tell_busy(mut stream: TcpStream) {
    let answer = async {
        stream.write_all(b"421 Service not available, try again later.\r\n").await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(BUSY_TIMEOUT, answer).await;
}

async fn run_session(shared: Arc<Shared>, stream: TcpStream, remote: SocketAddr, meter: Meter, cut: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let (stream, probe) = match ControlProbe::attach(stream) {
        Ok(pair) => pair,
        Err(e) => return tracing::warn!(%remote, error = %e, "FTP session not started"),
    };
    let probe = Arc::new(probe);
    let server = match build_server(&shared, remote, probe.clone(), meter) {
        Ok(server) => server,
        Err(e) => return tracing::warn!(%remote, error = %e, "FTP session not started"),
    };
    tracing::debug!(%remote, "FTP session");
    let service = server.service(stream);
    tokio::pin!(service);
    tokio::select! {
        _ = &mut service => {}
        () = cut.cancelled() => {
            probe.cut();
            let _ = service.await;
        }
    }
    tracing::debug!(%remote, "FTP session ended");
}

fn build_server(
    shared: &Shared,
    remote: SocketAddr,
    probe: Arc<ControlProbe>,
    meter: Meter,
) -> Result<Server<GatewayFs, FtpUser>, ServerError> {
    let slot = new_slot();
    let gateway = shared.gateway.clone();
    let storage = move || GatewayFs {
        gateway: gateway.clone(),
        meter: meter.clone(),
        control: probe.clone(),
        buffer: Buffer::default(),
    };
    let authenticator = ConnectionAuthenticator { gateway: shared.gateway.clone(), remote, slot: slot.clone() };
    let mut builder = ServerBuilder::<GatewayFs, FtpUser>::with_user_detail_provider(
        Box::new(storage),
        Arc::new(SessionUserProvider { slot }),
    )
    .authenticator(Arc::new(authenticator))
    .greeting(shared.greeting)
    .passive_ports(shared.passive_ports.clone())
    .passive_host(shared.passive_host.clone())
    .idle_session_timeout(shared.idle_secs)
    .logger(shared.logger.clone());
    if let Some(tls) = &shared.tls {
        builder = builder.ftps_manual::<PathBuf>(tls.clone());
    }
    builder.build()
}

async fn drain(mut sessions: JoinSet<()>, cut: CancellationToken, grace: Duration) {
    if sessions.is_empty() {
        return;
    }
    tracing::info!(sessions = sessions.len(), "FTP shutting down: waiting for open sessions");
    if tokio::time::timeout(grace, join_all(&mut sessions)).await.is_ok() {
        return;
    }
    tracing::info!(sessions = sessions.len(), "FTP shutdown grace over: cutting the remaining sessions");
    cut.cancel();
    if tokio::time::timeout(CUT_WAIT, join_all(&mut sessions)).await.is_err() {
        sessions.abort_all();
    }
}

async fn join_all(sessions: &mut JoinSet<()>) {
    while sessions.join_next().await.is_some() {}
}
