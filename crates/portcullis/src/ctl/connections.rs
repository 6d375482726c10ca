//! `portcullis ctl connections` (DMZ): the open partner connections of
//! `GET /api/v1/connections` as a table: who, over what, for how long, how many
//! socket bytes each way.

use serde_json::Value;

use super::format::{age, cell, number, size};
use super::table::Table;

/// `GET /api/v1/connections`, served by the DMZ only.
pub const PATH: &str = "/api/v1/connections";

/// One row per connection, in the API's order; `now` in Unix milliseconds.
pub fn table(answer: &Value, now: u64) -> String {
    let mut table = Table::new(["REMOTE", "PROTOCOL", "USER", "CHANNEL", "OPEN FOR", "READ", "WRITTEN"]);
    for connection in answer.get("connections").and_then(Value::as_array).into_iter().flatten() {
        let field = |name: &str| connection.get(name);
        table.row([
            cell(field("remote")),
            cell(field("protocol")),
            cell(field("user")),
            cell(field("channel")),
            number(field("opened_ms"), |opened| age(now.saturating_sub(opened))),
            number(field("bytes_read"), size),
            number(field("bytes_written"), size),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_764_822_125_000;

    #[test]
    fn each_connection_is_a_row() {
        let answer = json!({
            "connections": [
                {"id": 7, "remote": "127.0.0.1:51234", "protocol": "sftp", "user": "demo-user", "channel": "demo",
                 "opened_ms": NOW - 125_000, "bytes_read": 1_572_864, "bytes_written": 567},
                {"id": 8, "remote": "[::1]:40000", "protocol": "smtp", "user": null, "channel": null,
                 "opened_ms": NOW - 3_000, "bytes_read": 0, "bytes_written": 0},
            ],
            "traffic": {"sftp": {"bytes_read": 1_572_864, "bytes_written": 567}},
        });
        assert_eq!(
            table(&answer, NOW),
            "REMOTE           PROTOCOL  USER       CHANNEL  OPEN FOR  READ     WRITTEN\n\
             127.0.0.1:51234  sftp      demo-user  demo     2m5s      1.5 MiB  567 B\n\
             [::1]:40000      smtp      -          -        3s        0 B      0 B\n"
        );
    }

    #[test]
    fn no_connections_say_none_and_odd_json_does_not_panic() {
        let empty = "REMOTE  PROTOCOL  USER  CHANNEL  OPEN FOR  READ  WRITTEN\n(none)\n";
        assert_eq!(table(&json!({"connections": [], "traffic": {}}), NOW), empty);
        for odd in [json!(null), json!([]), json!({"connections": 3})] {
            assert_eq!(table(&odd, NOW), empty);
        }
        let future = json!({"connections": [{"opened_ms": NOW + 5_000, "bytes_read": "x"}]});
        assert_eq!(table(&future, NOW).lines().nth(1), Some("-       -         -     -        0s        -     -"));
    }
}
