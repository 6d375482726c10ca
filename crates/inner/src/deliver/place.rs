//! Putting a batch's files in place: write and fsync them under temp names
//! several at once, then rename them in batch order and fsync each directory
//! once. A failure holds back the rest of *its own channel* in the batch (their
//! temp files are removed); other channels' files still go in place. A failure
//! that no retry can cure ([`write::is_permanent`]) is reported as such, so the
//! item can be kept aside instead of blocking its channel.

use std::collections::HashSet;
use std::io;

use super::plan::{Destination, Planned};
use super::unpack;
use super::write::{self, Prepared};

/// Files written and fsynced at once within a batch.
const PARALLEL_WRITES: usize = 8;

/// Writes and fsyncs every planned file, [`PARALLEL_WRITES`] at a time; the
/// results come back in plan order.
pub async fn prepare_all(planned: &[Planned]) -> Vec<io::Result<Prepared>> {
    let mut results = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(PARALLEL_WRITES) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|p| {
                let (target, payload, tag) =
                    (p.destination.target().to_path_buf(), p.item.payload.clone(), p.id.clone());
                let attachments = matches!(p.destination, Destination::Profile { attachments: true, .. });
                tokio::task::spawn_blocking(move || match attachments {
                    true => unpack::prepare_attachments(&target, &payload, &tag),
                    false => write::prepare(&target, &payload, &tag),
                })
            })
            .collect();
        for (task, planned) in tasks.into_iter().zip(chunk) {
            let result = task.await.map_err(io::Error::other).and_then(|r| r);
            if let Err(error) = &result {
                tracing::warn!(message = "delivery failed; will retry", id = %planned.id, target = %planned.destination.target().display(), %error);
            }
            results.push(result);
        }
    }
    results
}

/// What became of one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Durably in place.
    Placed,
    /// Not placed; try again later.
    Held,
    /// Its target can never be written (the reason says why).
    Impossible(String),
}

/// Renames the prepared files into place in plan order and fsyncs their
/// directories. `channels[i]` is item i's channel: after an item fails, later
/// items of its channel are discarded, not published. `roots_ready[i]`: item i's
/// root, where its own path starts ([`Planned::root`](super::plan::Planned::root)),
/// was a directory before the batch was written.
pub fn publish_in_order(
    channels: &[String],
    roots_ready: &[bool],
    prepared: Vec<io::Result<Prepared>>,
) -> Vec<Placement> {
    let mut failed: HashSet<&str> = HashSet::new();
    let mut outcome = vec![Placement::Held; channels.len()];
    let mut published = Vec::new();
    for (index, (channel, result)) in channels.iter().zip(prepared).enumerate() {
        let error = match result {
            Ok(file) if !failed.contains(channel.as_str()) => match file.publish() {
                Ok(()) => {
                    published.push((index, file));
                    continue;
                }
                Err(error) => {
                    tracing::warn!(message = "delivery failed", target = %file.target().display(), %error);
                    file.discard();
                    error
                }
            },
            Ok(file) => {
                file.discard();
                continue;
            }
            Err(error) => error,
        };
        failed.insert(channel);
        if impossible(&error, roots_ready[index]) {
            outcome[index] = Placement::Impossible(error.to_string());
        }
    }
    match write::sync_parents(published.iter().map(|(_, file)| file.target())) {
        Ok(()) => published.iter().for_each(|(index, _)| outcome[*index] = Placement::Placed),
        Err(error) => tracing::warn!(message = "cannot fsync delivery directories; will retry", %error),
    }
    outcome
}

/// A failure no retry can cure: a name too long, or a file/directory clash
/// below the delivery's root (made by the partner's own paths). A clash at or
/// above the root (a profile directory that is not a directory) is the
/// operator's to fix, so it is retried. Whether the root was a directory is read
/// before the batch's writes: read after them, a root that a sibling's write has
/// just created (after the operator's repair) would turn the clash that failed
/// this item into an "impossible" one, and the item would be set aside for good.
fn impossible(error: &io::Error, root_was_ready: bool) -> bool {
    error.kind() == io::ErrorKind::InvalidFilename || (write::is_permanent(error) && root_was_ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool::StoredPayload;

    #[test]
    fn a_clash_is_retried_when_the_root_was_not_there_before_the_batch() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("erp"), b"").expect("a file where the profile directory goes");
        let failed = vec![write::prepare(&root.path().join("erp/c/f.txt"), &StoredPayload::Inline(b"x".to_vec()), "F")];
        // Meanwhile the operator repairs it and a sibling's write makes the root.
        std::fs::remove_file(root.path().join("erp")).expect("repair");
        std::fs::create_dir_all(root.path().join("erp/c")).expect("root made by a sibling");
        let outcome = publish_in_order(&["c".to_string()], &[false], failed);
        assert_eq!(outcome, [Placement::Held], "retried, not set aside");
    }

    #[test]
    fn a_failure_holds_back_its_own_channel_only_and_leaves_no_temp_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let bytes = |b: &[u8]| StoredPayload::Inline(b.to_vec());
        std::fs::write(root.path().join("not-a-dir"), b"").expect("file");
        let prepared = vec![
            write::prepare(&root.path().join("out/a1.txt"), &bytes(b"a"), "A1"),
            write::prepare(&root.path().join("not-a-dir/b1.txt"), &bytes(b"b"), "B1"),
            write::prepare(&root.path().join("out/b2.txt"), &bytes(b"b"), "B2"),
            write::prepare(&root.path().join("out/a2.txt"), &bytes(b"a"), "A2"),
        ];
        assert!(prepared[1].is_err());
        let channels: Vec<String> = ["a", "b", "b", "a"].map(String::from).to_vec();
        let outcome = publish_in_order(&channels, &[true; 4], prepared);
        assert_eq!(outcome[0], Placement::Placed);
        assert!(matches!(outcome[1], Placement::Impossible(_)), "{outcome:?}");
        assert_eq!(outcome[2..], [Placement::Held, Placement::Placed]);
        let mut names: Vec<_> =
            std::fs::read_dir(root.path().join("out")).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        names.sort();
        assert_eq!(
            names,
            ["a1.txt", "a2.txt"].map(std::ffi::OsString::from),
            "b2 must wait for b1; no temp file may stay"
        );
    }
}
