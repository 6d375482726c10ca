//! Receiving a fetch or send request from the inner: refuse what the pushed config
//! does not allow (with a failed outcome, so the inner learns why), commit the rest
//! durably to the `requests` queue, and only then ack.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use envelope::{
    AckOutcome, Body, DmzConfig, Envelope, EnvelopeId, Payload, RemoteProtocol, RemoteTarget, RequestKind, Sha256,
};
use message_service::ReceiveError;
use sha2::Digest;
use spool::{Enqueued, NewItem, NewPayload, Spool, SpoolError, StateWrite};
use tokio::io::AsyncReadExt;

use super::outcome::{Finished, report};
use crate::REQUESTS;
use crate::active::ActiveConfig;

/// Spool state under which a request whose payload came by reference is marked
/// received (value: Unix milliseconds), so that a redelivery after the outbound
/// file was removed is recognised as a duplicate instead of waiting for a file
/// that will never come again.
pub(crate) const RECEIVED_PREFIX: &str = "outbound-received/";

/// Bytes read from an outbound file at a time.
const CHUNK: usize = 1 << 20;

/// What the receiver does with one request: `None` leaves it unacked (the inner
/// sends it again later).
pub(crate) async fn admit(
    spool: &Arc<dyn Spool>,
    config: &ActiveConfig,
    outbound_dir: &Path,
    envelope: Envelope,
) -> Result<Option<AckOutcome>, ReceiveError> {
    let id = envelope.id;
    let Some(request) = Request::of(&envelope.body) else {
        return Ok(Some(AckOutcome::Rejected { reason: "not a request".into() }));
    };
    if let Err(reason) = allowed(&config.get(), request.kind, request.channel, request.remote) {
        tracing::warn!(
            message = "refused an outbound request",
            %id,
            channel = request.channel,
            kind = envelope.body.kind(),
            address = %request.remote.address(),
            %reason,
        );
        let finished = Finished::failed(reason.clone(), 0);
        report(spool, id, request.kind, request.channel, finished).await?;
        return Ok(Some(AckOutcome::Rejected { reason }));
    }
    let job = Commit {
        spool: Arc::clone(spool),
        id,
        channel: request.channel.to_owned(),
        outbound: outbound_dir.join(id.to_string()),
        expected: request.expected,
        header: envelope::encode(&envelope.body),
    };
    // Spawned: the spool is not cancel-safe and the HTTP exchange may go away.
    tokio::spawn(job.run(envelope.payload))
        .await
        .map_err(|e| ReceiveError::Unavailable(e.to_string()))?
        .map_err(ReceiveError::from)
}

/// The parts of a fetch or send request that admission looks at.
struct Request<'a> {
    kind: RequestKind,
    channel: &'a str,
    remote: &'a RemoteTarget,
    /// A send's payload size and hash.
    expected: Option<(u64, Sha256)>,
}

impl<'a> Request<'a> {
    fn of(body: &'a Body) -> Option<Self> {
        match body {
            Body::Fetch(r) => {
                Some(Request { kind: RequestKind::Fetch, channel: &r.channel, remote: &r.remote, expected: None })
            }
            Body::Send(r) => Some(Request {
                kind: RequestKind::Send,
                channel: &r.channel,
                remote: &r.remote,
                expected: Some((r.size, r.sha256)),
            }),
            _ => None,
        }
    }
}

/// The channel must be pushed, and the address listed in its `dial` (a pickup
/// dials nothing, and only a send can be a pickup). Checked on admission and again
/// before a worker runs the request (the config may have changed in between).
pub(super) fn allowed(
    config: &DmzConfig,
    kind: RequestKind,
    channel: &str,
    remote: &RemoteTarget,
) -> Result<(), String> {
    let Some(verifiers) = config.channel(channel) else {
        return Err(format!("refused by the DMZ: no channel {channel} in its pushed config"));
    };
    match (remote.protocol, kind) {
        (RemoteProtocol::Pickup, RequestKind::Send) => Ok(()),
        (RemoteProtocol::Pickup, RequestKind::Fetch) => Err("refused by the DMZ: a fetch cannot use pickup".into()),
        _ => {
            let address = remote.address();
            if verifiers.dial.iter().any(|listed| listed.eq_ignore_ascii_case(&address)) {
                Ok(())
            } else {
                Err(format!("refused by the DMZ: {address} is not a server channel {channel} lists"))
            }
        }
    }
}

/// Committing one admitted request.
struct Commit {
    spool: Arc<dyn Spool>,
    id: EnvelopeId,
    channel: String,
    /// Where the inner left the payload of a send by reference.
    outbound: PathBuf,
    expected: Option<(u64, Sha256)>,
    header: Vec<u8>,
}

impl Commit {
    async fn run(self, payload: Option<Payload>) -> Result<Option<AckOutcome>, SpoolError> {
        let by_reference = matches!(payload, Some(Payload::Reference { .. }));
        let payload = match self.payload(payload).await? {
            Prepared::Ready(payload) => payload,
            Prepared::Refused(reason) => {
                tracing::warn!(message = "refused an outbound request", id = %self.id, channel = %self.channel, %reason);
                let finished = Finished::failed(reason.clone(), 0);
                report(&self.spool, self.id, RequestKind::Send, &self.channel, finished).await?;
                return Ok(Some(AckOutcome::Rejected { reason }));
            }
            Prepared::Unacked => return Ok(None),
            Prepared::Seen => return Ok(Some(AckOutcome::Duplicate)),
        };
        let item = NewItem { id: self.id.as_u128(), channel: None, header: self.header.clone(), payload };
        let outcome = self.spool.enqueue(REQUESTS, vec![item], true).await?;
        let ack = match outcome.first() {
            Some(Enqueued::Added(_)) => AckOutcome::Committed,
            _ => AckOutcome::Duplicate,
        };
        if by_reference {
            let marker = StateWrite::Put(received_key(self.id), envelope::now_millis().to_be_bytes().to_vec());
            self.spool.write_state(vec![marker]).await?;
            if let Err(error) = tokio::fs::remove_file(&self.outbound).await {
                tracing::warn!(message = "cannot remove an outbound file", id = %self.id, %error);
            }
        }
        tracing::info!(message = "outbound request committed", id = %self.id, ?ack);
        Ok(Some(ack))
    }

    async fn payload(&self, payload: Option<Payload>) -> Result<Prepared, SpoolError> {
        let Some((size, sha256)) = self.expected else { return Ok(Prepared::Ready(NewPayload::None)) };
        match payload {
            None => Ok(Prepared::Refused("refused by the DMZ: a send request without a payload".into())),
            Some(Payload::Inline(bytes)) => {
                let matches = bytes.len() as u64 == size && Sha256(sha2::Sha256::digest(&bytes).into()) == sha256;
                Ok(if matches { Prepared::Ready(NewPayload::Bytes(bytes)) } else { mismatch() })
            }
            Some(Payload::Reference { size: s, sha256: h }) if (s, h) != (size, sha256) => Ok(mismatch()),
            Some(Payload::Reference { .. }) => self.stage(size, sha256).await,
        }
    }

    /// Streams `/outbound/<id>` into a staging file and checks it.
    async fn stage(&self, size: u64, sha256: Sha256) -> Result<Prepared, SpoolError> {
        let mut file = match tokio::fs::File::open(&self.outbound).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if self.spool.read_state(&received_key(self.id))?.is_some() {
                    return Ok(Prepared::Seen);
                }
                tracing::error!(message = "outbound file missing; request left unacked", id = %self.id, path = %self.outbound.display());
                return Ok(Prepared::Unacked);
            }
            Err(error) => return Err(error.into()),
        };
        let mut staging = self.spool.stage().await?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            staging.write_all(&buffer[..n]).await?;
        }
        let got = (staging.written(), Sha256(hasher.finalize().into()));
        if got != (size, sha256) {
            tracing::error!(
                message = "outbound file does not match its reference; request left unacked",
                id = %self.id,
                size = got.0,
                expected_size = size,
            );
            return Ok(Prepared::Unacked);
        }
        Ok(Prepared::Ready(NewPayload::Staged(staging.finish().await?)))
    }
}

/// A send's payload, ready or not.
enum Prepared {
    Ready(NewPayload),
    /// Refused for good (the inner sent something inconsistent).
    Refused(String),
    /// Not now: the file is missing or incomplete; the inner sends again.
    Unacked,
    /// Committed before, and its outbound file already removed.
    Seen,
}

fn mismatch() -> Prepared {
    Prepared::Refused("refused by the DMZ: the payload does not match the request's size and sha-256".into())
}

fn received_key(id: EnvelopeId) -> String {
    format!("{RECEIVED_PREFIX}{id}")
}
