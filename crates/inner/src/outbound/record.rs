//! A send as the inner tracks it: `send/<id>` in spool state, and the dead letter
//! `dead-letter/<id>` (the same record) when it finally failed; the payload of a
//! dead letter is kept at `<data>/dead-letters/<id>` until it is replayed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spool::{Spool, SpoolError, StateWrite};

pub const SEND_PREFIX: &str = "send/";
pub const DEAD_PREFIX: &str = "dead-letter/";

/// Where a send is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Committed on the inner, not yet handed on.
    Queued,
    /// Handed to the DMZ (its envelope is queued or acked); the outcome is awaited.
    Sent,
    Delivered,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    pub id: String,
    pub channel: String,
    pub remote: String,
    pub name: String,
    pub directory: String,
    pub size: u64,
    /// Hex.
    pub sha256: String,
    pub status: Status,
    /// The partner's reply, or why it failed.
    pub detail: String,
    pub attempts: u32,
    pub created_at: u64,
    pub finished_at: Option<u64>,
}

pub fn send_key(id: &str) -> String {
    format!("{SEND_PREFIX}{id}")
}

pub fn dead_key(id: &str) -> String {
    format!("{DEAD_PREFIX}{id}")
}

pub fn dead_file(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("dead-letters").join(id)
}

pub fn put(key: String, record: &SendRecord) -> StateWrite {
    StateWrite::Put(key, serde_json::to_vec(record).unwrap_or_default())
}

pub fn read(spool: &dyn Spool, key: &str) -> Result<Option<SendRecord>, SpoolError> {
    Ok(spool.read_state(key)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

pub fn list(spool: &dyn Spool, prefix: &str) -> Result<Vec<SendRecord>, SpoolError> {
    let entries = spool.scan_state(prefix)?;
    Ok(entries.into_iter().filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok()).collect())
}
