//! [`StreamedDelivery`]: a partner upload on its way into the spool.
//!
//! The session's task only appends to a buffer. Every full chunk (1 MiB) goes to a
//! writer task of its own, which hashes it and writes it to a spool staging file,
//! so receiving (decrypting) and hashing + writing run side by side. At most two
//! chunks wait for the writer; a slow disk slows the sender instead of growing
//! memory.
//!
//! A small upload (never a full chunk) never touches a staging file: it is
//! committed as bytes in the spool's own commit, which saves the file fsync and the
//! directory fsync of a staged file — most partner files are small.

use sha2::Digest;
use spool::{NewPayload, SpoolError, StagingFile};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use envelope::Sha256;

use crate::intake::{Accepted, Arrival, Dedupe, Intake, IntakeError};

/// Bytes are gathered to this size before they go to the writer.
const CHUNK: usize = 1 << 20;

/// Full chunks that may wait for the writer.
const QUEUED_CHUNKS: usize = 2;

/// A delivery whose bytes are being streamed in. Dropping it before
/// [`StreamedDelivery::commit`] deletes whatever was staged: nothing is forwarded.
pub struct StreamedDelivery {
    intake: Intake,
    arrival: Arrival,
    buffer: Vec<u8>,
    size: u64,
    writer: Option<Writer>,
}

/// What the writer task hands back: the staging file and the hash so far.
type Written = Result<(Box<dyn StagingFile>, sha2::Sha256), SpoolError>;

/// The writer task of a large upload and the way to feed it.
struct Writer {
    chunks: mpsc::Sender<Vec<u8>>,
    task: JoinHandle<Written>,
}

impl StreamedDelivery {
    pub(crate) fn new(intake: Intake, arrival: Arrival) -> Self {
        StreamedDelivery { intake, arrival, buffer: Vec::new(), size: 0, writer: None }
    }

    pub fn channel(&self) -> &str {
        &self.arrival.channel
    }

    /// SMTP: records the message's `Message-ID`, known only once its headers went by.
    pub fn set_message_id(&mut self, message_id: Option<String>) {
        if let Some(mail) = self.arrival.mail.as_mut() {
            mail.message_id = message_id;
        }
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends bytes; refuses with `InsufficientStorage` once the quota is reached.
    pub async fn write(&mut self, mut bytes: &[u8]) -> Result<(), IntakeError> {
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = CHUNK - self.buffer.len();
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.buffer.extend_from_slice(now);
            bytes = later;
            if self.buffer.len() == CHUNK {
                let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
                self.send(chunk).await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Vec<u8>) -> Result<(), IntakeError> {
        if self.writer.is_none() {
            let staging = self.intake.spool().stage().await?;
            self.writer = Some(Writer::start(staging));
        }
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        if writer.chunks.send(chunk).await.is_err() {
            // The writer stopped early: its result says why.
            return Err(match self.writer.take() {
                Some(writer) => writer.finish_error().await,
                None => writer_gone(),
            });
        }
        Ok(())
    }

    /// Makes the payload durable and enqueues its envelope in one commit. Runs in
    /// a task of its own, so a caller that is cancelled cannot cut it half-way.
    pub async fn commit(self) -> Result<Accepted, IntakeError> {
        let accepted = self.finish(Dedupe::No).await?;
        accepted.ok_or_else(|| IntakeError::Unavailable("delivery taken for a duplicate".into()))
    }

    /// Like [`StreamedDelivery::commit`], but only once per `arrival.id`: an id
    /// accepted before (AS2 derives it from the partner and the Message-ID) gives
    /// `None` and adds nothing. The check and the enqueue are one commit.
    pub async fn commit_once(self) -> Result<Option<Accepted>, IntakeError> {
        self.finish(Dedupe::Yes).await
    }

    async fn finish(mut self, dedupe: Dedupe) -> Result<Option<Accepted>, IntakeError> {
        let rest = std::mem::take(&mut self.buffer);
        let (intake, arrival, size) = (self.intake, self.arrival, self.size);
        let writer = self.writer.take();
        tokio::spawn(async move {
            let (payload, sha256) = match writer {
                None => {
                    let sha256 = Sha256(sha2::Sha256::digest(&rest).into());
                    (NewPayload::Bytes(rest), sha256)
                }
                Some(writer) => writer.finish(rest).await?,
            };
            intake.enqueue(arrival, size, sha256, payload, dedupe).await
        })
        .await
        .unwrap_or_else(|e| Err(IntakeError::Unavailable(e.to_string())))
    }
}

impl Writer {
    fn start(mut staging: Box<dyn StagingFile>) -> Writer {
        let (chunks, mut rx) = mpsc::channel::<Vec<u8>>(QUEUED_CHUNKS);
        let task = tokio::spawn(async move {
            let mut hasher = sha2::Sha256::new();
            while let Some(chunk) = rx.recv().await {
                hasher.update(&chunk);
                staging.write_all(&chunk).await?;
            }
            Ok((staging, hasher))
        });
        Writer { chunks, task }
    }

    /// Writes the last bytes, fsyncs, and hands over the staged payload.
    async fn finish(self, rest: Vec<u8>) -> Result<(NewPayload, Sha256), IntakeError> {
        drop(self.chunks);
        let (mut staging, mut hasher) = joined(self.task.await)?;
        hasher.update(&rest);
        staging.write_all(&rest).await?;
        let staged = staging.finish().await?;
        Ok((NewPayload::Staged(staged), Sha256(hasher.finalize().into())))
    }

    async fn finish_error(self) -> IntakeError {
        drop(self.chunks);
        match joined(self.task.await) {
            Err(error) => error,
            Ok(_) => writer_gone(),
        }
    }
}

fn joined<T>(result: Result<Result<T, SpoolError>, tokio::task::JoinError>) -> Result<T, IntakeError> {
    match result {
        Ok(inner) => Ok(inner?),
        Err(e) => Err(IntakeError::Unavailable(format!("upload writer failed: {e}"))),
    }
}

fn writer_gone() -> IntakeError {
    IntakeError::Unavailable("upload writer stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TO_INNER;
    use crate::active::ActiveConfig;
    use envelope::{ChannelVerifiers, DmzConfig, Partner, Protocol};
    use spool::{SledSpool, SpoolOptions};

    async fn intake(dir: &std::path::Path, quota: u64) -> (Intake, std::sync::Arc<dyn spool::Spool>) {
        let mut options = SpoolOptions::new(dir);
        options.quota_bytes = quota;
        let spool: std::sync::Arc<dyn spool::Spool> = SledSpool::open(options).expect("spool");
        let config = ActiveConfig::default();
        let channels =
            vec![ChannelVerifiers { name: "c".into(), ftp_tls_required: false, logins: vec![], ..Default::default() }];
        let push = DmzConfig { generation: 1, channels, ..DmzConfig::default() };
        config.apply(spool.as_ref(), push).await.expect("config");
        (Intake::new(spool.clone(), config), spool)
    }

    fn arrival() -> Arrival {
        Arrival {
            id: envelope::EnvelopeId::generate(),
            channel: "c".into(),
            protocol: Protocol::Sftp,
            partner: Partner { login: None, remote: None },
            path: "f".into(),
            mail: None,
            as2: None,
            fetched: None,
        }
    }

    async fn stream(intake: &Intake, bytes: &[u8], piece: usize) -> Result<Accepted, IntakeError> {
        let mut delivery = intake.begin(arrival()).await?;
        for part in bytes.chunks(piece) {
            delivery.write(part).await?;
        }
        delivery.commit().await
    }

    #[tokio::test]
    async fn small_and_large_uploads_are_stored_whole_with_the_right_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (intake, spool) = intake(dir.path(), 1 << 30).await;
        for size in [0, 1, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12_345] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let accepted = stream(&intake, &bytes, 32 * 1024 + 7).await.expect("commit");
            assert_eq!(accepted.size, size as u64);
            assert_eq!(accepted.sha256, Sha256(sha2::Sha256::digest(&bytes).into()));
            let items = spool.lease(TO_INNER, 1).await.expect("lease");
            let stored = items[0].payload.read_all().await.expect("read");
            assert!(stored == bytes, "{size} bytes differ after the spool");
            spool.ack(TO_INNER, &[items[0].seq], vec![]).await.expect("ack");
        }
    }

    #[tokio::test]
    async fn a_full_spool_refuses_and_an_abandoned_upload_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (intake, spool) = intake(dir.path(), 4 << 20).await;
        let big = vec![7u8; 6 << 20];
        assert!(matches!(stream(&intake, &big, 1 << 16).await, Err(IntakeError::InsufficientStorage)));
        let mut abandoned = intake.begin(arrival()).await.expect("begin");
        abandoned.write(&vec![1u8; 2 * CHUNK]).await.expect("write");
        drop(abandoned);
        tokio::task::yield_now().await;
        assert_eq!(spool.queue_stats(TO_INNER).depth, 0);
        let small = stream(&intake, b"fits", 2).await.expect("a small upload still fits");
        assert_eq!(small.size, 4);
    }
}
