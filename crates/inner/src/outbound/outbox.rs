//! The outbox folders: a file an internal system drops into
//! `<data>/outbox/<channel>/` is sent to the channel's `outbox_remote`.
//!
//! Each scan (every second) notes every plain file's size and modification time;
//! a file whose both did not change since the previous scan is complete. It is
//! then taken: renamed to `.taken/<send id>~<name>` in the same folder (one atomic
//! step, so a writer still holding it open is not cut short and nobody else takes
//! it), committed as a send with that id, and removed. A crash between those steps
//! finds it in `.taken/` and commits it again under the same id, which adds
//! nothing the second time: each file is sent once.
//!
//! Names beginning with `.` and ending in `.part` or `.tmp` are never taken: an
//! internal system writes under such a name and renames when done.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use envelope::EnvelopeId;
use tokio_util::sync::CancellationToken;

use super::sends::{NewSend, Sends, stage_file};
use crate::settings::CurrentSettings;

const SCAN_EVERY: Duration = Duration::from_secs(1);
const TAKEN: &str = ".taken";

/// What a file looked like at the previous scan.
pub(super) type Seen = HashMap<PathBuf, (u64, Option<SystemTime>)>;

/// Watches the outbox folders until `shutdown`.
pub async fn watch(sends: Arc<Sends>, settings: CurrentSettings, shutdown: CancellationToken) {
    let mut seen = Seen::new();
    loop {
        let current = settings.get();
        for channel in &current.channels {
            let Some(remote) = &channel.outbox_remote else { continue };
            let folder = current.data_dir.join("outbox").join(&channel.name);
            if let Err(error) = scan(&sends, &folder, &channel.name, remote, &mut seen).await {
                tracing::warn!(message = "cannot scan an outbox folder", folder = %folder.display(), %error);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(SCAN_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// One scan of one channel's folder: sends what was taken before, then takes
/// what is complete.
pub(super) async fn scan(
    sends: &Sends,
    folder: &Path,
    channel: &str,
    remote: &str,
    seen: &mut Seen,
) -> std::io::Result<()> {
    let taken = folder.join(TAKEN);
    tokio::fs::create_dir_all(&taken).await?;
    for (path, name) in plain_files(&taken).await? {
        send_taken(sends, &path, &name, channel, remote).await;
    }
    for (path, name) in plain_files(folder).await? {
        if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") {
            continue;
        }
        let metadata = tokio::fs::metadata(&path).await?;
        let now = (metadata.len(), metadata.modified().ok());
        if seen.insert(path.clone(), now) != Some(now) {
            continue;
        }
        seen.remove(&path);
        let id = EnvelopeId::generate();
        let destination = taken.join(format!("{id}~{name}"));
        tokio::fs::rename(&path, &destination).await?;
        send_taken(sends, &destination, &format!("{id}~{name}"), channel, remote).await;
    }
    seen.retain(|path, _| path.exists());
    Ok(())
}

/// Commits a taken file as send `<id>` (from its name `<id>~<name>`) and removes it.
async fn send_taken(sends: &Sends, path: &Path, taken_name: &str, channel: &str, remote: &str) {
    let Some((id, name)) =
        taken_name.split_once('~').and_then(|(id, name)| Some((id.parse::<EnvelopeId>().ok()?, name)))
    else {
        tracing::warn!(message = "a file in the outbox's .taken folder without a send id; leaving it", path = %path.display());
        return;
    };
    let send =
        NewSend { channel: channel.to_owned(), remote: remote.to_owned(), name: name.to_owned(), directory: None };
    let committed = match stage_file(sends.spool(), path).await {
        Ok((staged, sha256)) => sends.submit_as(id, send, staged, sha256).await,
        Err(error) => Err(error),
    };
    match committed {
        Ok(_) => {
            if let Err(error) = tokio::fs::remove_file(path).await {
                tracing::warn!(message = "cannot remove a sent outbox file", path = %path.display(), %error);
            }
        }
        Err(error) => tracing::warn!(message = "cannot send an outbox file yet", path = %path.display(), %error),
    }
}

/// The regular files directly in `folder`, with their names.
async fn plain_files(folder: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut entries = match tokio::fs::read_dir(folder).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(error) => return Err(error),
    };
    while let Some(entry) = entries.next_entry().await? {
        if entry.file_type().await?.is_file()
            && let Ok(name) = entry.file_name().into_string()
        {
            files.push((entry.path(), name));
        }
    }
    Ok(files)
}
