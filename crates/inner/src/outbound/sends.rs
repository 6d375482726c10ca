//! [`Sends`]: files for partners, committed on the inner first (the `sends` queue,
//! payload included, and the record `send/<id>`), then handed on:
//!
//! - through the DMZ: a `Body::Send` envelope (id = the send's id) in `to-dmz`,
//!   the payload inline up to `streaming_size`, above it uploaded first to the
//!   DMZ's internal SFTP `/outbound/<id>` and sent by reference; status `sent`; the
//!   DMZ's outcome ends it;
//! - directly (`via_dmz = false`): `transfer::send` from here, with the remote's
//!   retry policy.
//!
//! The `sends` item (and so its payload) stays until the outcome: delivered → the
//! item is acked; failed → the payload is kept as a dead letter
//! (`<data>/dead-letters/<id>`, `dead-letter/<id>`) in the same commit as the ack.
//! A replay submits the dead letter again as a new send. After a restart, items
//! are leased again: a `queued` one is handed on again (the DMZ dedupes by id), a
//! `sent` one waits for its outcome.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envelope::{Body, Envelope, EnvelopeId, Payload, RequestOutcome, SendRequest, Sha256};
use sftp::fetch::Fetcher;
use spool::{NewItem, NewPayload, Seq, Spool, SpoolError, StagedPayload, StoredItem, StoredPayload};
use tokio_util::sync::CancellationToken;

use super::record::{self, SendRecord, Status};
use crate::TO_DMZ;
use crate::settings::CurrentSettings;

/// The inner's queue of sends until their outcome.
pub const SENDS: &str = "sends";

/// A send that could not be handed on (DMZ unreachable for an upload) is tried
/// again after this long.
const HAND_ON_PAUSE: Duration = Duration::from_secs(5);

/// Why a send was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("no channel {0:?}")]
    NoChannel(String),
    #[error("channel {0} has no remote {1:?}")]
    NoRemote(String, String),
    #[error("bad file name {0:?}: a plain name is needed")]
    BadName(String),
    #[error("no dead letter {0:?}")]
    NoDeadLetter(String),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("dead letter payload: {0}")]
    Io(#[from] std::io::Error),
}

/// What to send, and to whom.
#[derive(Debug, Clone)]
pub struct NewSend {
    pub channel: String,
    /// A remote of `channel`.
    pub remote: String,
    /// The file's name at the partner.
    pub name: String,
    /// The remote directory; `None`: the remote's own.
    pub directory: Option<String>,
}

/// The `sends` queue item of send `id`. Not the id itself: the send's `to-dmz`
/// envelope carries that, and the spool's dedupe table spans all queues.
fn queue_item_id(id: EnvelopeId) -> u128 {
    id.as_u128() ^ (1 << 127)
}

/// The sends of this node.
pub struct Sends {
    spool: Arc<dyn Spool>,
    settings: CurrentSettings,
    /// Uploads payloads above `streaming_size` to the DMZ.
    uploader: Arc<Fetcher>,
    /// Leased `sends` items waiting for their outcome, by send id.
    held: Mutex<HashMap<String, (Seq, StoredPayload)>>,
}

impl Sends {
    pub fn new(spool: Arc<dyn Spool>, settings: CurrentSettings, uploader: Arc<Fetcher>) -> Arc<Sends> {
        Arc::new(Sends { spool, settings, uploader, held: Mutex::default() })
    }

    /// The spool sends are committed to (payloads are staged there).
    pub fn spool(&self) -> &dyn Spool {
        self.spool.as_ref()
    }

    /// Commits a send of `staged` (whose sha-256 is `sha256`) under a new id;
    /// returns the id.
    pub async fn submit(&self, send: NewSend, staged: StagedPayload, sha256: Sha256) -> Result<String, SubmitError> {
        self.submit_as(EnvelopeId::generate(), send, staged, sha256).await
    }

    /// Commits a send under `id`. Idempotent: submitting an id again adds
    /// nothing, so a caller that may repeat itself after a crash (the outbox
    /// folder, profile responses) derives the id from what it sends.
    pub async fn submit_as(
        &self,
        id: EnvelopeId,
        send: NewSend,
        staged: StagedPayload,
        sha256: Sha256,
    ) -> Result<String, SubmitError> {
        let settings = self.settings.get();
        let NewSend { channel, remote, name, directory } = send;
        let found = settings.channel(&channel).ok_or_else(|| SubmitError::NoChannel(channel.clone()))?;
        let target = found.remote(&remote).ok_or_else(|| SubmitError::NoRemote(channel.clone(), remote.clone()))?;
        if envelope::validate_segment(&name).is_err() {
            return Err(SubmitError::BadName(name));
        }
        let key = record::send_key(&id.to_string());
        if record::read(self.spool.as_ref(), &key)?.is_none() {
            let record = SendRecord {
                id: id.to_string(),
                channel,
                remote,
                name,
                directory: directory.unwrap_or_else(|| target.directory.clone()),
                size: staged.size(),
                sha256: sha256.to_string(),
                status: Status::Queued,
                detail: String::new(),
                attempts: 0,
                created_at: envelope::now_millis(),
                finished_at: None,
            };
            self.spool.write_state(vec![record::put(key, &record)]).await?;
            tracing::info!(message = "send queued", %id, channel = %record.channel, remote = %record.remote, name = %record.name, size = record.size);
        }
        let item = NewItem {
            id: queue_item_id(id),
            channel: None,
            header: id.to_string().into_bytes(),
            payload: NewPayload::Staged(staged),
        };
        self.spool.enqueue(SENDS, vec![item], true).await?;
        Ok(id.to_string())
    }

    /// Hands queued sends on until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut queued = self.spool.subscribe(SENDS);
        while !shutdown.is_cancelled() {
            queued.borrow_and_update();
            match self.spool.lease(SENDS, 16).await {
                Ok(items) if !items.is_empty() => {
                    for item in items {
                        Arc::clone(&self).dispatch(item).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::error!(message = "cannot lease sends", %error),
            }
            tokio::select! {
                changed = queued.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// The DMZ's outcome of a send.
    pub async fn outcome(&self, outcome: &RequestOutcome) -> Result<(), SpoolError> {
        let Some(record) = record::read(self.spool.as_ref(), &record::send_key(&outcome.request.to_string()))? else {
            tracing::warn!(message = "outcome of an unknown send", request = %outcome.request);
            return Ok(());
        };
        if matches!(record.status, Status::Delivered | Status::Failed) {
            return Ok(());
        }
        self.finish(record, outcome.ok, &outcome.detail, outcome.attempts).await
    }

    /// Submits a dead letter again as a new send; returns the new id.
    pub async fn replay(&self, id: &str) -> Result<String, SubmitError> {
        let Some(letter) = record::read(self.spool.as_ref(), &record::dead_key(id))? else {
            return Err(SubmitError::NoDeadLetter(id.to_owned()));
        };
        let file = record::dead_file(&self.settings.get().data_dir, id);
        let (staged, sha256) = stage_file(self.spool.as_ref(), &file).await?;
        let send = NewSend {
            channel: letter.channel,
            remote: letter.remote,
            name: letter.name,
            directory: Some(letter.directory),
        };
        let new = self.submit(send, staged, sha256).await?;
        self.spool.write_state(vec![spool::StateWrite::Delete(record::dead_key(id))]).await?;
        let _ = tokio::fs::remove_file(&file).await;
        tracing::info!(message = "dead letter replayed", %id, new = %new);
        Ok(new)
    }

    async fn dispatch(self: Arc<Self>, item: StoredItem) {
        let id = String::from_utf8_lossy(&item.header).into_owned();
        let record = match record::read(self.spool.as_ref(), &record::send_key(&id)) {
            Ok(Some(record)) => record,
            Ok(None) => {
                tracing::error!(message = "a send without its record; dropping it", %id);
                let _ = self.spool.ack(SENDS, &[item.seq], Vec::new()).await;
                return;
            }
            Err(error) => {
                tracing::error!(message = "cannot read a send's record", %id, %error);
                return self.release_later(item.seq);
            }
        };
        self.held.lock().unwrap_or_else(PoisonError::into_inner).insert(id, (item.seq, item.payload.clone()));
        match record.status {
            Status::Sent => {}
            Status::Delivered | Status::Failed => {
                let (ok, detail, attempts) =
                    (record.status == Status::Delivered, record.detail.clone(), record.attempts);
                if let Err(error) = self.finish(record, ok, &detail, attempts).await {
                    tracing::error!(message = "cannot settle a finished send", %error);
                }
            }
            Status::Queued => self.hand_on(record, item).await,
        }
    }

    /// Hands a queued send to the DMZ, or runs it here for a direct remote.
    async fn hand_on(self: Arc<Self>, record: SendRecord, item: StoredItem) {
        let settings = self.settings.get();
        let remote = settings.channel(&record.channel).and_then(|c| c.remote(&record.remote)).cloned();
        let Some(remote) = remote else {
            let detail = format!("channel {} has no remote {} any more", record.channel, record.remote);
            let _ = self.finish(record, false, &detail, 0).await;
            return;
        };
        let request = match self.request(&record) {
            Ok(request) => request,
            Err(detail) => return drop(self.finish(record, false, &detail, 0).await),
        };
        if !remote.via_dmz {
            tokio::spawn(async move { self.direct(record, request, remote, item.payload).await });
            return;
        }
        match self.to_dmz(&record, request, &item.payload).await {
            Ok(()) => {
                let sent = SendRecord { status: Status::Sent, ..record };
                if let Err(error) = self.spool.write_state(vec![record::put(record::send_key(&sent.id), &sent)]).await {
                    tracing::error!(message = "cannot record a send as sent", id = %sent.id, %error);
                }
                tracing::info!(message = "send handed to the DMZ", id = %sent.id, channel = %sent.channel, remote = %sent.remote);
            }
            Err(error) => {
                tracing::warn!(message = "send not handed to the DMZ yet; trying again", id = %record.id, %error);
                self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(&record.id);
                self.release_later(item.seq);
            }
        }
    }

    /// The request, its secret sealed for the trip.
    fn request(&self, record: &SendRecord) -> Result<SendRequest, String> {
        let settings = self.settings.get();
        let channel = settings.channel(&record.channel).ok_or("the channel is gone")?;
        let remote = channel.remote(&record.remote).ok_or("the remote is gone")?;
        let key = crate::seal::load_or_create(&settings.data_dir).map_err(|e| format!("seal key: {e}"))?;
        let target = crate::remotes::target(channel, remote, &key).map_err(|e| format!("sealing: {e}"))?;
        Ok(SendRequest {
            channel: record.channel.clone(),
            name: record.name.clone(),
            remote: target,
            directory: record.directory.clone(),
            size: record.size,
            sha256: parse_sha256(&record.sha256).ok_or("bad sha-256 in the record")?,
            retries: remote.retries,
            retry_base_ms: remote.retry_base_ms,
            retry_max_ms: remote.retry_max_ms,
            delete_after_pickup: remote.delete_after_pickup,
        })
    }

    /// Queues the `Body::Send` envelope; a payload above `streaming_size` is
    /// uploaded to the DMZ first and travels by reference.
    async fn to_dmz(&self, record: &SendRecord, request: SendRequest, payload: &StoredPayload) -> Result<(), String> {
        let id: EnvelopeId = record.id.parse().map_err(|_| "bad send id".to_string())?;
        let wire = if record.size <= self.settings.get().streaming_size {
            Payload::Inline(payload.read_all().await.map_err(|e| e.to_string())?)
        } else {
            let StoredPayload::File { path, .. } = payload else { return Err("payload not in a file".into()) };
            let mut file = tokio::fs::File::open(path).await.map_err(|e| e.to_string())?;
            self.uploader.upload("/outbound", &record.id, &mut file).await.map_err(|e| e.to_string())?;
            Payload::Reference { size: request.size, sha256: request.sha256 }
        };
        let envelope = Envelope { id, body: Body::Send(request), payload: Some(wire) };
        let item = message_service::new_item(envelope).map_err(|e| e.to_string())?;
        self.spool.enqueue(TO_DMZ, vec![item], true).await.map(drop).map_err(|e| e.to_string())
    }

    /// Runs the send from here (`via_dmz = false`), retrying transient failures.
    async fn direct(
        &self,
        record: SendRecord,
        request: SendRequest,
        remote: config::inner::Remote,
        payload: StoredPayload,
    ) {
        let (file, scratch) = match payload_file(&self.settings.get().data_dir, &record.id, &payload).await {
            Ok(file) => file,
            Err(error) => return drop(self.finish(record, false, &format!("payload: {error}"), 0).await),
        };
        let secret = crate::remotes::plain(&remote);
        let as2_key =
            self.settings.get().channel(&record.channel).and_then(|c| c.as2.as_ref()).map(|a| a.our_key_pem.clone());
        let mut attempt = 0;
        let (ok, detail) = loop {
            attempt += 1;
            match transfer::send(&request, &secret, as2_key.as_deref(), &file).await {
                Ok(reply) => break (true, reply),
                Err(error) if !error.transient || attempt > request.retries => break (false, error.detail),
                Err(error) => {
                    tracing::warn!(message = "send attempt failed; retrying", id = %record.id, attempt, detail = %error.detail)
                }
            }
            tokio::time::sleep(transfer::retry::delay(attempt, request.retry_base_ms, request.retry_max_ms)).await;
        };
        if scratch {
            let _ = tokio::fs::remove_file(&file).await;
        }
        if let Err(error) = self.finish(record, ok, &detail, attempt).await {
            tracing::error!(message = "cannot record a direct send's end", %error);
        }
    }

    /// Records the end of a send; acks its item (keeping a failed one's payload as
    /// a dead letter) in the same commit.
    async fn finish(&self, mut record: SendRecord, ok: bool, detail: &str, attempts: u32) -> Result<(), SpoolError> {
        record.status = if ok { Status::Delivered } else { Status::Failed };
        record.detail = detail.to_owned();
        record.attempts = attempts;
        record.finished_at.get_or_insert_with(envelope::now_millis);
        let mut writes = vec![record::put(record::send_key(&record.id), &record)];
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(&record.id);
        if !ok && let Some((_, payload)) = &held {
            keep_dead_letter(&self.settings.get().data_dir, &record.id, payload).await?;
            writes.push(record::put(record::dead_key(&record.id), &record));
        }
        match held {
            Some((seq, _)) => self.spool.ack(SENDS, &[seq], writes).await?,
            None => self.spool.write_state(writes).await?,
        }
        if ok {
            tracing::info!(message = "send delivered", id = %record.id, channel = %record.channel, remote = %record.remote, attempts, %detail);
        } else {
            tracing::warn!(message = "send failed; kept as a dead letter", id = %record.id, channel = %record.channel, remote = %record.remote, attempts, %detail);
        }
        Ok(())
    }

    fn release_later(&self, seq: Seq) {
        let spool = Arc::clone(&self.spool);
        tokio::spawn(async move {
            tokio::time::sleep(HAND_ON_PAUSE).await;
            spool.release(SENDS, &[seq]);
        });
    }
}

/// Copies a failed send's payload to `<data>/dead-letters/<id>` (fsynced).
async fn keep_dead_letter(data_dir: &std::path::Path, id: &str, payload: &StoredPayload) -> Result<(), SpoolError> {
    let target = record::dead_file(data_dir, id);
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    match payload {
        StoredPayload::File { path, .. } => drop(tokio::fs::copy(path, &target).await?),
        other => tokio::fs::write(&target, other.read_all().await?).await?,
    }
    tokio::fs::File::open(&target).await?.sync_all().await?;
    Ok(())
}

/// A file holding the payload: the spool's own, or a scratch copy of inline bytes
/// (`true`: remove it afterwards).
async fn payload_file(
    data_dir: &std::path::Path,
    id: &str,
    payload: &StoredPayload,
) -> std::io::Result<(PathBuf, bool)> {
    match payload {
        StoredPayload::File { path, .. } => Ok((path.clone(), false)),
        other => {
            let dir = data_dir.join("sends-scratch");
            tokio::fs::create_dir_all(&dir).await?;
            let file = dir.join(id);
            tokio::fs::write(&file, other.read_all().await.map_err(std::io::Error::other)?).await?;
            Ok((file, true))
        }
    }
}

/// Copies a local file into a spool staging file, hashing it.
pub async fn stage_file(spool: &dyn Spool, path: &std::path::Path) -> Result<(StagedPayload, Sha256), SubmitError> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut staging = spool.stage().await?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        hasher.update(chunk);
        staging.write_all(chunk).await?;
    }
    Ok((staging.finish().await?, Sha256(hasher.finalize().into())))
}

fn parse_sha256(hex: &str) -> Option<Sha256> {
    let mut bytes = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Sha256(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_digest_survives_its_hex_form() {
        let digest = envelope::Sha256([0xab; 32]);
        assert_eq!(super::parse_sha256(&digest.to_string()), Some(digest));
        assert_eq!(super::parse_sha256("zz"), None);
    }
}
