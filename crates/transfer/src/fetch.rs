//! Fetch: connect, list the directory, take each file that matches the pattern and
//! was not seen, stream it into the sink (which commits it durably, deduplicated by
//! [`fetched_id`]), and only then apply the after-action (delete, move, leave).

use async_trait::async_trait;
use envelope::{EnvelopeId, FetchRequest, SeenFile};
use tokio::io::AsyncRead;

use crate::{Plain, TransferError};

/// One remote file being fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// The file name (the delivery's path below the channel).
    pub name: String,
    /// Its path on the partner's server.
    pub remote_path: String,
    /// The size the listing gave, if any.
    pub listed_size: Option<u64>,
}

/// Where fetched files go: the DMZ's `to-inner` queue, or the inner's `inbound`
/// queue for `via_dmz = false`.
#[async_trait]
pub trait FetchSink: Send + Sync {
    /// Reads `source` to its end and commits it durably as a delivery of the
    /// request's channel under envelope id `id` (deduplicated: `Ok(false)` when
    /// that id was committed before). Returns only after the commit.
    async fn store(
        &self,
        id: EnvelopeId,
        request: &FetchRequest,
        file: &FetchedFile,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<bool, TransferError>;
}

/// The envelope id of a fetched file: derived from the job, the remote path and the
/// listed size, so a run repeated after a crash commits the same file once.
pub fn fetched_id(request: &FetchRequest, file: &FetchedFile) -> EnvelopeId {
    let _ = (request, file);
    unimplemented_id()
}

fn unimplemented_id() -> EnvelopeId {
    EnvelopeId::generate()
}

/// Runs one fetch; returns the files stored (new or duplicate) in this run.
pub async fn fetch(request: &FetchRequest, secret: &Plain, sink: &dyn FetchSink) -> Result<Vec<SeenFile>, TransferError> {
    let _ = (request, secret, sink);
    Err(TransferError::permanent("fetch is not implemented yet"))
}
