//! Fetch: connect, list the directory, take each file that matches the pattern and
//! was not seen, stream it into the sink (which commits it durably, deduplicated by
//! [`fetched_id`]), and only then apply the after-action (delete, move, leave).

use async_trait::async_trait;
use envelope::{AfterFetch, EnvelopeId, FetchRequest, FetchedMeta, Partner, Protocol, RemoteProtocol, SeenFile};
use remote::{RemoteEntry, Session};
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;

use crate::target::{endpoint, remote_error};
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
    ///
    /// `source` returns an error instead of its end when the download failed or
    /// was short: a sink must commit only after a read returned a clean end. A
    /// sink may answer `Ok(false)` for a known id without reading `source` (the
    /// rest is drained by the caller); answering `Ok(true)` before the end is an
    /// error of the sink, reported as a permanent failure.
    async fn store(
        &self,
        id: EnvelopeId,
        request: &FetchRequest,
        file: &FetchedFile,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<bool, TransferError>;
}

/// How a fetched file is described as a delivery of the request's channel: the
/// protocol it came by, the login as its partner, and where it was found. Both
/// sinks (the DMZ's intake, the inner's own `inbound` queue) use this.
pub fn delivered_as(
    request: &FetchRequest,
    file: &FetchedFile,
) -> Result<(Protocol, Partner, FetchedMeta), TransferError> {
    let protocol = match request.remote.protocol {
        RemoteProtocol::Ftp => Protocol::Ftp,
        RemoteProtocol::Ftps => Protocol::Ftps,
        RemoteProtocol::Sftp => Protocol::Sftp,
        other => return Err(TransferError::permanent(format!("cannot fetch over {other}"))),
    };
    let login = Some(request.remote.user.clone()).filter(|user| !user.is_empty());
    let fetched = FetchedMeta {
        job: request.job.clone(),
        remote: request.remote.name.clone(),
        remote_path: file.remote_path.clone(),
    };
    Ok((protocol, Partner { login, remote: None }, fetched))
}

/// The envelope id of a fetched file: derived from the job, the remote path and the
/// listed size, so a run repeated after a crash commits the same file once.
///
/// The first 128 bits of SHA-256 over `fetch`, channel, job, remote name, remote
/// path and listed size (decimal, `-` when unknown), NUL-separated.
pub fn fetched_id(request: &FetchRequest, file: &FetchedFile) -> EnvelopeId {
    let size = file.listed_size.map_or_else(|| "-".to_owned(), |size| size.to_string());
    let mut digest = Sha256::new().chain_update(b"fetch");
    for part in [&request.channel, &request.job, &request.remote.name, &file.remote_path, &size] {
        digest = digest.chain_update(b"\0").chain_update(part.as_bytes());
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.finalize()[..16]);
    EnvelopeId::from_bytes(bytes)
}

/// Runs one fetch; returns the files stored (new or duplicate) in this run.
pub async fn fetch(
    request: &FetchRequest,
    secret: &Plain,
    sink: &dyn FetchSink,
) -> Result<Vec<SeenFile>, TransferError> {
    let endpoint = endpoint(&request.remote, secret)?;
    let mut session = remote::connect(&endpoint).await.map_err(|e| remote_error(&e))?;
    let result = fetch_listed(session.as_mut(), request, sink).await;
    if result.is_ok() {
        // The files are stored and their after-actions done: a failed logout
        // changes nothing for them.
        let _ = session.close().await;
    }
    result
}

async fn fetch_listed(
    session: &mut dyn Session,
    request: &FetchRequest,
    sink: &dyn FetchSink,
) -> Result<Vec<SeenFile>, TransferError> {
    let listed = session.list(&request.directory).await.map_err(|e| remote_error(&e))?;
    let mut stored = Vec::new();
    for entry in wanted(request, listed) {
        let file = FetchedFile {
            remote_path: remote::join(&request.directory, &entry.name),
            name: entry.name,
            listed_size: entry.size,
        };
        fetch_one(session, request, &file, sink).await?;
        after(session, request, &file).await?;
        stored.push(SeenFile { name: file.name, size: file.listed_size });
    }
    Ok(stored)
}

/// The files to take, in name order: matching the pattern, not seen before.
fn wanted(request: &FetchRequest, mut listed: Vec<RemoteEntry>) -> Vec<RemoteEntry> {
    let seen = |entry: &RemoteEntry| {
        request
            .seen
            .iter()
            .any(|seen| seen.name == entry.name && (request.after != AfterFetch::Leave || seen.size == entry.size))
    };
    listed.retain(|entry| entry.is_file && remote::pattern_matches(&request.pattern, &entry.name) && !seen(entry));
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    listed
}

/// Streams one file into the sink (see `pipe`); `Ok` once the sink committed it.
async fn fetch_one(
    session: &mut dyn Session,
    request: &FetchRequest,
    file: &FetchedFile,
    sink: &dyn FetchSink,
) -> Result<bool, TransferError> {
    let (writer, mut reader) = crate::pipe::pipe(file.listed_size);
    let id = fetched_id(request, file);
    // The reader is dropped when the store ends, so a sink that fails early makes
    // the download's next write fail instead of waiting on a full pipe. After an
    // `Ok` the rest is drained: a sink may answer a duplicate without reading, and
    // the download must still end normally to keep the session in step.
    let store = async move {
        let stored = sink.store(id, request, file, &mut reader).await;
        let rest = match stored {
            Ok(_) => tokio::io::copy(&mut reader, &mut tokio::io::sink()).await.ok(),
            Err(_) => None,
        };
        (stored, rest, reader.refused().map(str::to_owned))
    };
    let (downloaded, (stored, rest, refused)) = tokio::join!(writer.download(session, &file.remote_path), store);
    match (downloaded, stored, refused) {
        (Err(error), Err(_), _) if !matches!(error, remote::RemoteError::Local { .. }) => Err(remote_error(&error)),
        // The download was complete but not what was listed: worth another run,
        // whatever the sink made of the refused end.
        (_, Err(_), Some(refused)) => Err(TransferError::transient(refused)),
        // The sink failed on its own (the download then broke on the closed pipe).
        (_, Err(error), None) => Err(error),
        (Err(error), Ok(_), _) => Err(remote_error(&error)),
        (Ok(_), Ok(true), _) if rest.is_some_and(|rest| rest > 0) => Err(TransferError::permanent(format!(
            "the sink committed {} as {id} before reading it to its end",
            file.remote_path
        ))),
        (Ok(_), Ok(new), _) => Ok(new),
    }
}

/// Deletes or moves the stored file on the server (nothing for `Leave`).
async fn after(session: &mut dyn Session, request: &FetchRequest, file: &FetchedFile) -> Result<(), TransferError> {
    let done = match &request.after {
        AfterFetch::Delete => session.delete(&file.remote_path).await,
        AfterFetch::Move(directory) => session.rename(&file.remote_path, &remote::join(directory, &file.name)).await,
        AfterFetch::Leave => Ok(()),
    };
    done.map_err(|e| remote_error(&e))
}

#[cfg(test)]
mod tests;
