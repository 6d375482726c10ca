//! `[[jobs]]`: scheduled fetches from a channel's FTP/FTPS/SFTP remote. The
//! schedule is a cron expression (croner syntax, 5 or 6 fields, local time),
//! parsed at load so that a bad one is a config problem naming the job.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use envelope::{AfterFetch, RemoteProtocol};
use serde::Deserialize;

use super::Channel;
use crate::Problems;

/// A validated fetch job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub channel: String,
    /// The name of a remote of `channel`.
    pub remote: String,
    /// The schedule as written and parsed.
    pub schedule: String,
    pub cron: croner::Cron,
    /// The remote directory to collect from.
    pub directory: String,
    /// File name glob (`*`, `?`, `[..]`).
    pub pattern: String,
    pub after: AfterFetch,
    pub via_dmz: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct JobFile {
    name: String,
    channel: String,
    remote: String,
    schedule: String,
    #[serde(default)]
    directory: String,
    #[serde(default = "default_pattern")]
    pattern: String,
    after: After,
    move_to: Option<String>,
    via_dmz: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum After {
    Delete,
    Move,
    Leave,
}

fn default_pattern() -> String {
    "*".into()
}

pub(super) fn validate_jobs(files: Vec<JobFile>, channels: &[Channel], problems: &mut Problems) -> Vec<Job> {
    let by_name: HashMap<&str, &Channel> = channels.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut names = HashSet::new();
    files
        .into_iter()
        .filter_map(|file| {
            let field = format!("jobs[{}]", file.name);
            if envelope::validate_segment(&file.name).is_err() {
                problems.push(format!("{field}.name: must be a plain name"));
            }
            if !names.insert(file.name.clone()) {
                problems.push(format!("{field}: job name defined twice"));
            }
            let cron = croner::Cron::from_str(&file.schedule)
                .map_err(|e| {
                    problems.push(format!("{field}.schedule: {:?} is not a cron expression: {e}", file.schedule))
                })
                .ok();
            let via_dmz = check_remote(&file, &field, &by_name, problems);
            let after = match (file.after, file.move_to) {
                (After::Move, Some(to)) if !to.is_empty() => AfterFetch::Move(to),
                (After::Move, _) => {
                    problems.push(format!("{field}.move_to: required with after = \"move\""));
                    AfterFetch::Leave
                }
                (_, Some(_)) => {
                    problems.push(format!("{field}.move_to: only with after = \"move\""));
                    AfterFetch::Leave
                }
                (After::Delete, None) => AfterFetch::Delete,
                (After::Leave, None) => AfterFetch::Leave,
            };
            if file.pattern.is_empty() || file.pattern.contains('/') {
                problems.push(format!("{field}.pattern: a file name glob without '/'"));
            }
            Some(Job {
                name: file.name,
                channel: file.channel,
                remote: file.remote,
                schedule: file.schedule,
                cron: cron?,
                directory: file.directory,
                pattern: file.pattern,
                after,
                via_dmz: file.via_dmz.unwrap_or(via_dmz?),
            })
        })
        .collect()
}

/// Checks the job's channel and remote; the remote's `via_dmz`.
fn check_remote(
    file: &JobFile,
    field: &str,
    channels: &HashMap<&str, &Channel>,
    problems: &mut Problems,
) -> Option<bool> {
    let Some(channel) = channels.get(file.channel.as_str()) else {
        problems.push(format!("{field}.channel: no channel named {:?}", file.channel));
        return None;
    };
    let Some(remote) = channel.remote(&file.remote) else {
        problems.push(format!("{field}.remote: channel {:?} has no remote named {:?}", file.channel, file.remote));
        return None;
    };
    if !matches!(remote.protocol, RemoteProtocol::Ftp | RemoteProtocol::Ftps | RemoteProtocol::Sftp) {
        problems.push(format!(
            "{field}.remote: {:?} is {}; jobs fetch over ftp, ftps or sftp",
            file.remote, remote.protocol
        ));
    }
    if channel.invisible_to_dmz && file.via_dmz == Some(true) {
        problems.push(format!("{field}.via_dmz: channel {:?} is invisible_to_dmz", file.channel));
    }
    Some(remote.via_dmz)
}
