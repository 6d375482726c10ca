//! [`Outbound`]: the workers that run committed requests: lease from `requests`,
//! open the sealed secret, run the transfer with retries, report the outcome to
//! the inner, then ack.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use envelope::{Body, EnvelopeId, RemoteProtocol, RemoteTarget, RequestKind, SealKey, SecretKind, SendRequest};
use spool::{Spool, StoredItem, StoredPayload};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use transfer::{Plain, TransferError};
use zeroize::Zeroizing;

use super::admit::allowed;
use super::outcome::{Finished, report};
use super::sink::IntakeSink;
use super::transport::Transport;
use crate::REQUESTS;
use crate::active::ActiveConfig;
use crate::intake::Intake;
use crate::pickup::Pickup;

/// Fetch requests carry no retry policy: a transient failure is retried this
/// many times, waiting 1 s, doubled up to 60 s.
const FETCH_RETRIES: (u32, u64, u64) = (3, 1_000, 60_000);

/// How long a worker waits after the spool failed it before trying again.
const SPOOL_PAUSE: Duration = Duration::from_secs(5);

/// Settings of the outbound workers (`[outbound]` in `dmz.toml`).
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Requests run side by side.
    pub workers: usize,
    /// Inline send payloads are written here for the transfer, which reads a file.
    pub scratch_dir: PathBuf,
}

/// What the workers share.
pub struct Outbound {
    pub spool: Arc<dyn Spool>,
    /// The pushed config: the seal key, our AS2 keys.
    pub config: ActiveConfig,
    /// Where fetched files go.
    pub intake: Intake,
    /// Where pickup sends go.
    pub pickup: Pickup,
    pub transport: Arc<dyn Transport>,
    pub settings: OutboundSettings,
}

/// A request as a worker runs it.
enum Request {
    Fetch(envelope::FetchRequest),
    Send(SendRequest),
}

/// A successful attempt.
struct Done {
    detail: String,
    files: Vec<envelope::SeenFile>,
}

impl Outbound {
    /// Spawns the workers; they stop when `shutdown` fires.
    pub fn spawn(self: Arc<Self>, tasks: &TaskTracker, shutdown: &CancellationToken) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.settings.scratch_dir)?;
        for _ in 0..self.settings.workers.max(1) {
            tasks.spawn(Arc::clone(&self).run(shutdown.clone()));
        }
        Ok(())
    }

    /// One worker: waits for a seal key and a request, runs it, again.
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut queued = self.spool.subscribe(REQUESTS);
        let mut pushed = self.config.subscribe();
        while !shutdown.is_cancelled() {
            pushed.borrow_and_update();
            if self.config.get().seal_key.is_none() {
                tokio::select! {
                    changed = pushed.changed() => if changed.is_err() { return } else { continue },
                    () = shutdown.cancelled() => return,
                }
            }
            queued.borrow_and_update();
            let leased = match self.spool.lease(REQUESTS, 1).await {
                Ok(items) => items,
                Err(error) => {
                    tracing::error!(message = "cannot lease outbound requests", %error);
                    tokio::select! { () = tokio::time::sleep(SPOOL_PAUSE) => continue, () = shutdown.cancelled() => return }
                }
            };
            match leased.into_iter().next() {
                Some(item) => self.process(item, &shutdown).await,
                None => tokio::select! {
                    changed = queued.changed() => if changed.is_err() { return },
                    () = shutdown.cancelled() => return,
                },
            }
        }
    }

    /// Runs one leased request to its end, or leaves it in the queue.
    async fn process(&self, item: StoredItem, shutdown: &CancellationToken) {
        let id = EnvelopeId::from_u128(item.id);
        let request = match envelope::decode::<Body>(&item.header, usize::MAX) {
            Ok(Body::Fetch(request)) => Request::Fetch(request),
            Ok(Body::Send(request)) => Request::Send(request),
            other => {
                tracing::error!(message = "undecodable outbound request; dropping it", %id, ok = other.is_ok());
                self.ack(item.seq).await;
                return;
            }
        };
        let config = self.config.get();
        let Some(key) = config.seal_key.clone() else {
            // The key went away between the check and the lease: wait for a push.
            self.spool.release(REQUESTS, &[item.seq]);
            return;
        };
        let (kind, channel) = request.kind_and_channel();
        let opened =
            allowed(&config, kind, channel, request.remote()).and_then(|()| open_secret(&key, request.remote()));
        drop(config);
        let finished = match opened {
            Ok(secret) => self.attempts(id, &request, &secret, &item.payload, shutdown).await,
            Err(detail) => {
                tracing::warn!(message = "outbound request not run", %id, channel, %detail);
                Some(Finished::failed(detail, 0))
            }
        };
        let Some(finished) = finished else {
            tracing::info!(message = "outbound request interrupted by shutdown; it runs again after the restart", %id);
            self.spool.release(REQUESTS, &[item.seq]);
            return;
        };
        self.finish(id, &request, finished, item.seq, shutdown).await;
    }

    /// Attempts until success, a permanent failure or the retries are spent;
    /// `None` if shutdown came first.
    async fn attempts(
        &self,
        id: EnvelopeId,
        request: &Request,
        secret: &Plain,
        payload: &StoredPayload,
        shutdown: &CancellationToken,
    ) -> Option<Finished> {
        let payload = match self.payload_file(id, request, payload).await {
            Ok(file) => file,
            Err(error) => return Some(Finished::failed(error.detail, 0)),
        };
        let (retries, base_ms, max_ms) = request.retry();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = tokio::select! {
                biased;
                () = shutdown.cancelled() => return None,
                result = self.attempt(request, secret, &payload) => result,
            };
            request.log(id, attempt, &result);
            match result {
                Ok(done) => {
                    return Some(Finished { ok: true, detail: done.detail, attempts: attempt, files: done.files });
                }
                Err(error) if !error.transient || attempt > retries => {
                    let mut finished = Finished::failed(error.detail, attempt);
                    finished.files = payload.stored_files();
                    return Some(finished);
                }
                Err(_) => {}
            }
            tokio::select! {
                () = tokio::time::sleep(transfer::retry::delay(attempt, base_ms, max_ms)) => {}
                () = shutdown.cancelled() => return None,
            }
        }
    }

    async fn attempt(&self, request: &Request, secret: &Plain, payload: &PayloadFile) -> Result<Done, TransferError> {
        match request {
            Request::Fetch(fetch) => {
                let files = self.transport.fetch(fetch, secret, &payload.sink).await?;
                Ok(Done { detail: format!("{} file(s) fetched", files.len()), files })
            }
            Request::Send(send) if send.remote.protocol == RemoteProtocol::Pickup => {
                let path = self.pickup.place(send, payload.file()?).await?;
                Ok(Done { detail: format!("placed in {path} for pickup"), files: Vec::new() })
            }
            Request::Send(send) => {
                let as2_key = self.as2_key(send);
                if let (Some(as2), None) = (&send.remote.as2, &as2_key) {
                    let detail = format!("the DMZ holds no AS2 private key for our id {:?}", as2.our_id);
                    return Err(TransferError::permanent(detail));
                }
                let reply =
                    self.transport.send(send, secret, as2_key.as_deref().map(String::as_str), payload.file()?).await?;
                Ok(Done { detail: reply, files: Vec::new() })
            }
        }
    }

    /// Our private key for an AS2 send (memory only, pushed with the config).
    fn as2_key(&self, send: &SendRequest) -> Option<Zeroizing<String>> {
        let our_id = &send.remote.as2.as_ref()?.our_id;
        let config = self.config.get();
        config.as2_keys.iter().find(|k| &k.our_id == our_id).map(|k| Zeroizing::new(k.key_pem.clone()))
    }

    /// The file a send reads: the spool's payload file, or the inline bytes
    /// written to the scratch directory.
    async fn payload_file(
        &self,
        id: EnvelopeId,
        request: &Request,
        payload: &StoredPayload,
    ) -> Result<PayloadFile, TransferError> {
        let mut file = PayloadFile { sink: IntakeSink::new(self.intake.clone()), path: None, scratch: None };
        if matches!(request, Request::Fetch(_)) {
            return Ok(file);
        }
        match payload {
            StoredPayload::File { path, .. } => file.path = Some(path.clone()),
            StoredPayload::Inline(bytes) => {
                let path = self.settings.scratch_dir.join(id.to_string());
                tokio::fs::write(&path, bytes)
                    .await
                    .map_err(|e| TransferError::transient(format!("cannot write the payload for sending: {e}")))?;
                file.path = Some(path.clone());
                file.scratch = Some(path);
            }
            StoredPayload::None => return Err(TransferError::permanent("the send request has no payload")),
        }
        Ok(file)
    }

    /// Reports the outcome, then acks the request (the other order could lose it).
    async fn finish(
        &self,
        id: EnvelopeId,
        request: &Request,
        finished: Finished,
        seq: spool::Seq,
        shutdown: &CancellationToken,
    ) {
        let (kind, channel) = request.kind_and_channel();
        while let Err(error) = report(&self.spool, id, kind, channel, finished.clone()).await {
            tracing::error!(message = "cannot queue an outbound outcome; trying again", %id, %error);
            tokio::select! {
                () = tokio::time::sleep(SPOOL_PAUSE) => {}
                () = shutdown.cancelled() => {
                    self.spool.release(REQUESTS, &[seq]);
                    return;
                }
            }
        }
        self.ack(seq).await;
    }

    async fn ack(&self, seq: spool::Seq) {
        let spool = Arc::clone(&self.spool);
        let acked = tokio::spawn(async move { spool.ack(REQUESTS, &[seq], Vec::new()).await }).await;
        if let Err(error) = acked.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())) {
            // Left leased: it runs again after a restart, and reports the same outcome id.
            tracing::error!(message = "cannot ack an outbound request", seq, %error);
        }
    }
}

/// The plaintext credential of a request; wiped when dropped.
fn open_secret(key: &SealKey, remote: &RemoteTarget) -> Result<Plain, String> {
    let kind = remote.secret_kind;
    if kind == SecretKind::None || remote.protocol == RemoteProtocol::Pickup {
        return Ok(Plain { kind, bytes: Zeroizing::new(Vec::new()) });
    }
    transfer::seal::open(key, kind, &remote.secret)
        .map(|bytes| Plain { kind, bytes })
        .map_err(|error| format!("the DMZ cannot open the request's credential: {error}"))
}

/// What one request's attempts read from and write to.
struct PayloadFile {
    /// Fetch: where files go (and which were stored).
    sink: IntakeSink,
    /// Send: the file to send.
    path: Option<PathBuf>,
    /// A scratch copy of an inline payload, removed when done.
    scratch: Option<PathBuf>,
}

impl PayloadFile {
    fn file(&self) -> Result<&Path, TransferError> {
        self.path.as_deref().ok_or_else(|| TransferError::permanent("the send request has no payload"))
    }

    fn stored_files(&self) -> Vec<envelope::SeenFile> {
        self.sink.stored()
    }
}

impl Drop for PayloadFile {
    fn drop(&mut self) {
        if let Some(path) = self.scratch.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Request {
    fn remote(&self) -> &RemoteTarget {
        match self {
            Request::Fetch(r) => &r.remote,
            Request::Send(r) => &r.remote,
        }
    }

    fn kind_and_channel(&self) -> (RequestKind, &str) {
        match self {
            Request::Fetch(r) => (RequestKind::Fetch, &r.channel),
            Request::Send(r) => (RequestKind::Send, &r.channel),
        }
    }

    /// (retries, base ms, max ms).
    fn retry(&self) -> (u32, u64, u64) {
        match self {
            Request::Fetch(_) => FETCH_RETRIES,
            Request::Send(r) => (r.retries, r.retry_base_ms, r.retry_max_ms),
        }
    }

    /// One attempt, never with a secret.
    fn log(&self, id: EnvelopeId, attempt: u32, result: &Result<Done, TransferError>) {
        let (kind, channel) = self.kind_and_channel();
        let remote = self.remote();
        let address = match remote.protocol {
            RemoteProtocol::Pickup => "pickup".to_owned(),
            _ => remote.address(),
        };
        match result {
            Ok(done) => tracing::info!(
                message = "outbound attempt succeeded", %id, channel, ?kind, remote = %remote.name, %address, attempt, detail = %done.detail
            ),
            Err(error) => tracing::warn!(
                message = "outbound attempt failed", %id, channel, ?kind, remote = %remote.name, %address, attempt,
                transient = error.transient, detail = %error.detail
            ),
        }
    }
}
