//! The accept loop and SSH transport settings shared by both SFTP servers.
//!
//! Each server owns its TCP listener instead of `russh::server::Server::run_on_socket`
//! so that it can refuse a connection before any SSH byte is sent (session cap, IP
//! admission) and drain on shutdown: stop accepting, give every live session a short
//! grace to finish the uploads it has open (counted by [`Busy`]), then disconnect it.
//! Sessions that are idle at shutdown are cut at once.
//!
//! Transport tuning: `aes128-gcm@openssh.com` is offered (russh leaves it out by
//! default; it is the fastest cipher OpenSSH clients use here), channel windows are
//! large enough for a client's full write pipeline and TCP_NODELAY is set, since
//! SFTP is request/response.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use meter::{Meter, Metered};
use russh::keys::PrivateKey;
use russh::server::{Config, Handler};
use russh::{Disconnect, MethodKind, MethodSet, Preferred, cipher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Ciphers offered, fastest first for what OpenSSH clients ask for.
const CIPHERS: &[cipher::Name] =
    &[cipher::AES_128_GCM, cipher::CHACHA20_POLY1305, cipher::AES_256_GCM, cipher::AES_128_CTR, cipher::AES_256_CTR];

/// After a drained session's last upload, how long it may take to hang up by itself.
const LINGER: Duration = Duration::from_secs(1);

/// A connection that has not logged in this long after connecting is cut, so a
/// peer that stalls after the banner cannot hold a session slot until the idle timeout.
const LOGIN_DEADLINE: Duration = Duration::from_secs(60);

/// Longest a disconnected session may take to wind down before it is left behind.
const CUT_TIMEOUT: Duration = Duration::from_secs(2);

/// The russh settings both servers use; `methods` are the login methods offered.
pub(crate) fn ssh_config(host_key: PrivateKey, idle_timeout: Duration, methods: &[MethodKind]) -> Config {
    Config {
        server_id: russh::SshId::Standard("SSH-2.0-portcullis".into()),
        methods: MethodSet::from(methods),
        auth_rejection_time: Duration::from_millis(200),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 65536,
        channel_buffer_size: 64,
        preferred: Preferred { cipher: CIPHERS.into(), ..Preferred::default() },
        max_auth_attempts: 6,
        inactivity_timeout: Some(idle_timeout),
        nodelay: true,
        ..Config::default()
    }
}

/// Counts a session's in-flight work (open uploads) so shutdown can wait for it.
///
/// An upload's work ends only once its CLOSE answer has been handed to the SSH
/// connection ([`Busy::release_after_reply`], [`Busy::reply_sent`]): shutdown must
/// not disconnect between a commit and the OK that tells the client about it.
#[derive(Clone)]
pub(crate) struct Busy {
    count: Arc<watch::Sender<usize>>,
    replied: Arc<Mutex<Vec<BusyGuard>>>,
    /// Set once the client has logged in (see [`LOGIN_DEADLINE`]).
    logged_in: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Busy {
    fn default() -> Self {
        Busy { count: Arc::new(watch::Sender::new(0)), replied: Arc::default(), logged_in: Arc::default() }
    }
}

impl Busy {
    /// Records a successful login: the session is no longer under the login deadline.
    pub(crate) fn logged_in(&self) {
        self.logged_in.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn is_logged_in(&self) -> bool {
        self.logged_in.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks one piece of work as started; it ends when the guard is dropped.
    pub(crate) fn enter(&self) -> BusyGuard {
        self.count.send_modify(|n| *n += 1);
        BusyGuard(self.count.clone())
    }

    /// Ends `guard`'s work once the reply being written now has been sent.
    pub(crate) fn release_after_reply(&self, guard: BusyGuard) {
        self.replied.lock().unwrap_or_else(PoisonError::into_inner).push(guard);
    }

    /// A reply has been handed to the connection: ends work waiting for it.
    pub(crate) fn reply_sent(&self) {
        let done = std::mem::take(&mut *self.replied.lock().unwrap_or_else(PoisonError::into_inner));
        drop(done);
    }

    async fn idle(&self) {
        let mut rx = self.count.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// One piece of in-flight work; see [`Busy`].
pub(crate) struct BusyGuard(Arc<watch::Sender<usize>>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What the accept loop needs to know about one server.
pub(crate) struct Listen {
    pub name: &'static str,
    pub config: Arc<Config>,
    pub max_sessions: usize,
    pub grace: Duration,
}

/// Accepts connections until `shutdown`, then drains. `admit` returns a session's
/// handler, its [`Busy`] and the [`Meter`] counting its socket's bytes, or `None`
/// to close the connection at once.
pub(crate) async fn accept_loop<H, F>(
    listener: TcpListener,
    listen: Listen,
    shutdown: CancellationToken,
    mut admit: F,
) -> std::io::Result<()>
where
    H: Handler<Error = russh::Error> + Send + 'static,
    F: FnMut(SocketAddr) -> Option<(H, Busy, Meter)>,
{
    let listen = Arc::new(listen);
    let tracker = TaskTracker::new();
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(message = "accept failed", server = listen.name, error = %e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if tracker.len() >= listen.max_sessions {
            tracing::warn!(message = "session limit reached, connection refused", server = listen.name, %remote);
            continue;
        }
        let Some((handler, busy, meter)) = admit(remote) else { continue };
        let _ = stream.set_nodelay(true);
        let stream = Metered::new(stream, meter);
        tracker.spawn(run_connection(listen.clone(), stream, handler, busy, shutdown.clone()));
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    Ok(())
}

async fn run_connection<H>(
    listen: Arc<Listen>,
    stream: Metered<TcpStream>,
    handler: H,
    busy: Busy,
    shutdown: CancellationToken,
) where
    H: Handler<Error = russh::Error> + Send + 'static,
{
    let started = tokio::select! {
        _ = shutdown.cancelled() => return,
        () = tokio::time::sleep(LOGIN_DEADLINE) => return,
        started = russh::server::run_stream(listen.config.clone(), stream, handler) => started,
    };
    let session = match started {
        Ok(session) => session,
        Err(e) => {
            tracing::debug!(message = "SSH handshake failed", server = listen.name, error = %e);
            return;
        }
    };
    let handle = session.handle();
    let session = log_end(listen.name, session);
    tokio::pin!(session);
    let login_deadline = async {
        tokio::time::sleep(LOGIN_DEADLINE).await;
        if busy.is_logged_in() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = &mut session => {}
        () = login_deadline => {
            tracing::info!(message = "no login within the deadline; disconnected", server = listen.name);
            let reason = "login timeout".to_owned();
            let _ = handle.disconnect(Disconnect::ByApplication, reason, "en".to_owned()).await;
            let _ = tokio::time::timeout(CUT_TIMEOUT, session).await;
        }
        _ = shutdown.cancelled() => {
            let was_busy = *busy.count.borrow() > 0;
            let _ = tokio::time::timeout(listen.grace, busy.idle()).await;
            // A client whose upload just finished usually hangs up by itself within
            // milliseconds; russh may put a DISCONNECT ahead of a reply still queued.
            if was_busy && tokio::time::timeout(LINGER, &mut session).await.is_ok() {
                return;
            }
            let reason = "server shutting down".to_owned();
            let _ = handle.disconnect(Disconnect::ByApplication, reason, "en".to_owned()).await;
            let _ = tokio::time::timeout(CUT_TIMEOUT, session).await;
        }
    }
}

async fn log_end(name: &'static str, session: impl Future<Output = Result<(), russh::Error>>) {
    if let Err(e) = session.await {
        tracing::debug!(message = "SSH session ended with an error", server = name, error = %e);
    }
}
