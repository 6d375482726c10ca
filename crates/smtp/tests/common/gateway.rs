//! An in-memory [`MailGateway`]: `*@acme.test` is channel `acme`, `*@bank.test` channel
//! `bank` (AUTH as `alice`/`secret` required), anything else unknown. Messages are
//! recorded only on commit; switches make the spool full, commits fail, or writes hit a
//! quota.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use envelope::{EnvelopeId, Sha256};
use partner::{FsError, Login, MailEnvelope, MailGateway, MessageUpload, Peer, Receipt, RecipientError};
use tokio::sync::watch;

/// A committed message.
#[derive(Debug, Clone)]
pub struct Committed {
    pub envelope: MailEnvelope,
    pub bytes: Vec<u8>,
    pub message_id: Option<String>,
    pub id: EnvelopeId,
}

/// How many uploads began, were committed, or were dropped uncommitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub begun: u64,
    pub committed: u64,
    pub abandoned: u64,
}

#[derive(Default)]
pub struct Shared {
    pub committed: Mutex<Vec<Committed>>,
    pub counts: watch::Sender<Counts>,
    /// `begin_message` answers `InsufficientStorage`.
    pub spool_full: AtomicBool,
    /// `commit` answers `Unavailable`.
    pub fail_commit: AtomicBool,
    /// Writes beyond this many bytes of one message fail with `InsufficientStorage`.
    pub quota: AtomicU64,
    /// Largest single `write`, to show messages stream in pieces.
    pub largest_write: AtomicU64,
}

pub struct FakeGateway {
    pub shared: Arc<Shared>,
}

impl FakeGateway {
    pub fn new() -> FakeGateway {
        let shared = Shared { quota: AtomicU64::new(u64::MAX), ..Shared::default() };
        FakeGateway { shared: Arc::new(shared) }
    }

    pub fn committed(&self) -> Vec<Committed> {
        self.shared.committed.lock().expect("committed").clone()
    }

    pub fn counts(&self) -> Counts {
        *self.shared.counts.borrow()
    }

    /// Waits (up to 10 s) until the counts satisfy `done`.
    pub async fn settle(&self, done: impl Fn(&Counts) -> bool) -> Counts {
        let mut counts = self.shared.counts.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), counts.wait_for(|c| done(c))).await;
        let now = self.counts();
        assert!(waited.is_ok(), "counts never settled: {now:?}");
        now
    }
}

#[async_trait]
impl MailGateway for FakeGateway {
    async fn authenticate(&self, _peer: Peer, user: &str, password: &str) -> Option<Login> {
        (user == "alice" && password == "secret").then(|| Login {
            channel: "bank".into(),
            user: user.into(),
            tls_required: false,
        })
    }

    fn recipient(&self, _peer: Peer, address: &str, login: Option<&Login>) -> Result<String, RecipientError> {
        let domain = address.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
        match domain.as_str() {
            "acme.test" => Ok("acme".into()),
            "bank.test" if login.is_some_and(|l| l.channel == "bank") => Ok("bank".into()),
            "bank.test" => Err(RecipientError::AuthRequired),
            _ => Err(RecipientError::Unknown),
        }
    }

    async fn begin_message(&self, envelope: MailEnvelope) -> Result<Box<dyn MessageUpload>, FsError> {
        if self.shared.spool_full.load(Ordering::SeqCst) {
            return Err(FsError::InsufficientStorage);
        }
        self.shared.counts.send_modify(|c| c.begun += 1);
        Ok(Box::new(FakeUpload { shared: self.shared.clone(), envelope, bytes: Vec::new(), committed: false }))
    }
}

struct FakeUpload {
    shared: Arc<Shared>,
    envelope: MailEnvelope,
    bytes: Vec<u8>,
    committed: bool,
}

#[async_trait]
impl MessageUpload for FakeUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.shared.largest_write.fetch_max(bytes.len() as u64, Ordering::SeqCst);
        if (self.bytes.len() + bytes.len()) as u64 > self.shared.quota.load(Ordering::SeqCst) {
            return Err(FsError::InsufficientStorage);
        }
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn written(&self) -> u64 {
        self.bytes.len() as u64
    }

    async fn commit(mut self: Box<Self>, message_id: Option<String>) -> Result<Receipt, FsError> {
        if self.shared.fail_commit.load(Ordering::SeqCst) {
            return Err(FsError::Unavailable("spool commit failed".into()));
        }
        let id = EnvelopeId::generate();
        let receipt = Receipt { id, size: self.bytes.len() as u64, sha256: Sha256([0; 32]) };
        let message =
            Committed { envelope: self.envelope.clone(), bytes: std::mem::take(&mut self.bytes), message_id, id };
        self.shared.committed.lock().expect("committed").push(message);
        self.committed = true;
        self.shared.counts.send_modify(|c| c.committed += 1);
        Ok(receipt)
    }
}

impl Drop for FakeUpload {
    fn drop(&mut self) {
        if !self.committed {
            self.shared.counts.send_modify(|c| c.abandoned += 1);
        }
    }
}
