//! What the DMZ reports about pickup files: each complete download, kept in spool
//! state (`picked-up/<ms>-<id>`) for the admin API and logged.

use envelope::{EnvelopeId, PickedUp};
use serde_json::{Value, json};
use spool::{Spool, SpoolError, StateWrite};

pub const PICKED_UP_PREFIX: &str = "picked-up/";

/// Records a complete pickup download (idempotent: the key holds the envelope id).
pub async fn record_picked_up(spool: &dyn Spool, id: EnvelopeId, event: &PickedUp) -> Result<(), SpoolError> {
    tracing::info!(
        message = "partner picked up a file",
        channel = %event.channel,
        path = %event.path,
        size = event.size,
        login = event.partner.login.as_deref().unwrap_or("-"),
        remote = %event.partner.remote.map(|r| r.to_string()).unwrap_or_default(),
        deleted = event.deleted
    );
    let record = json!({
        "channel": event.channel,
        "path": event.path,
        "size": event.size,
        "partner_login": event.partner.login,
        "partner_remote": event.partner.remote.map(|r| r.to_string()),
        "deleted": event.deleted,
        "at": event.at,
    });
    let key = format!("{PICKED_UP_PREFIX}{:020}-{id}", event.at);
    spool.write_state(vec![StateWrite::Put(key, record.to_string().into_bytes())]).await
}

/// The recorded pickups, oldest first.
pub fn picked_up_records(spool: &dyn Spool) -> Result<Vec<Value>, SpoolError> {
    let entries = spool.scan_state(PICKED_UP_PREFIX)?;
    Ok(entries.into_iter().filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok()).collect())
}
