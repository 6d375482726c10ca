//! After `portcullis ctl send`'s upload: the send's record, polled until it is
//! delivered or failed, its status shown on standard error meanwhile.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Admin, encode};
use super::format::cell;
use super::progress::{self, Display};
use super::upload::to_stderr;

/// How often the record is read.
const POLL: Duration = Duration::from_millis(500);

/// `GET /api/v1/sends/<id>`.
pub fn record_path(id: &str) -> String {
    format!("/api/v1/sends/{}", encode(id))
}

/// The record's `status`, `-` when it has none.
pub fn status(record: &Value) -> String {
    cell(record.get("status"))
}

/// Whether the send has ended: `sent` still awaits the partner's outcome.
pub fn is_final(status: &str) -> bool {
    matches!(status, "delivered" | "failed")
}

/// Polls the send's record until it is final; returns that record.
pub async fn follow(admin: &Admin, id: &str, terminal: bool) -> Result<Value, String> {
    let path = record_path(id);
    let started = Instant::now();
    let mut display = Display::new(terminal);
    loop {
        let record = match admin.get(&path).await {
            Ok(record) => record,
            Err(e) => {
                to_stderr(&display.end());
                return Err(format!("cannot follow send {id}: {e}"));
            }
        };
        let status = status(&record);
        let line = progress::send_state(id, &status);
        if is_final(&status) {
            to_stderr(&display.finish(&line));
            return Ok(record);
        }
        if let Some(text) = display.state(&line, started.elapsed()) {
            to_stderr(&text);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_delivered_and_failed_end_the_wait() {
        for (record, done) in [
            (json!({"status": "queued"}), false),
            (json!({"status": "sent"}), false),
            (json!({"status": "delivered"}), true),
            (json!({"status": "failed"}), true),
            (json!({}), false),
        ] {
            assert_eq!(is_final(&status(&record)), done, "{record}");
        }
        assert_eq!(record_path("a/b"), "/api/v1/sends/a%2Fb");
    }
}
