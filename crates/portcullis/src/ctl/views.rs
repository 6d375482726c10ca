//! The admin API's JSON as text for people. Nothing here trusts the JSON's shape:
//! a missing or odd field prints as `-`.

use serde_json::{Map, Value};

use super::format::{age, cell, number, size, utc};
use super::table::Table;

/// `status`: who the node is, its link and spool, then its queues.
pub fn status(status: &Value, now: u64) -> String {
    let mut lines = vec![
        ("node", cell(status.get("node_id"))),
        ("role", cell(status.get("role"))),
        ("link", link(status.get("link"), now)),
        ("spool", spool(status.get("spool"))),
    ];
    if status.get("partner_listeners").is_some() {
        lines.push(("listeners", gate(status)));
    }
    let mut out: String = lines.into_iter().map(|(key, value)| format!("{key:<10} {value}\n")).collect();
    out.push('\n');
    out.push_str(&queues(status));
    out
}

fn link(link: Option<&Value>, now: u64) -> String {
    let Some(link) = link else { return "-".into() };
    let field = |name: &str| link.get(name);
    let mut text = cell(field("state"));
    if let Some(peer) = field("peer").and_then(Value::as_str) {
        text.push_str(&format!(" (peer {peer})"));
    }
    if let Some(since) = field("since").and_then(Value::as_u64).filter(|&t| t > 0) {
        text.push_str(&format!(" since {} UTC ({} ago)", utc(since), age(now.saturating_sub(since))));
    }
    if let Some(reason) = field("reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
        text.push_str(&format!(": {}", cell(Some(&Value::from(reason)))));
    }
    match field("last_contact").and_then(Value::as_u64) {
        Some(last) => text.push_str(&format!("; last contact {} ago", age(now.saturating_sub(last)))),
        None => text.push_str("; no contact yet"),
    }
    text
}

fn spool(spool: Option<&Value>) -> String {
    let used = number(spool.and_then(|s| s.get("used_bytes")), size);
    let quota = number(spool.and_then(|s| s.get("quota_bytes")), size);
    format!("{used} used of {quota}")
}

/// `queues`: the status's queues as a table.
pub fn queues(status: &Value) -> String {
    let mut table = Table::new(["QUEUE", "DEPTH", "BYTES", "OLDEST AGE"]);
    for (name, queue) in status.get("queues").and_then(Value::as_object).into_iter().flatten() {
        table.row([
            name.clone(),
            cell(queue.get("depth")),
            number(queue.get("bytes"), size),
            number(queue.get("oldest_age_ms"), age),
        ]);
    }
    table.render()
}

/// `channels`: NAME, then every other field the channels carry.
pub fn channels(list: &Value) -> String {
    records(list.as_array().map_or(&[][..], Vec::as_slice), &["name"])
}

/// A table of JSON objects: the `first` columns, then every other key in the order
/// it first appears.
fn records(rows: &[Value], first: &[&str]) -> String {
    let mut columns: Vec<String> = first.iter().map(|&c| c.to_owned()).collect();
    for row in rows {
        for key in row.as_object().into_iter().flat_map(Map::keys) {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut table = Table::new(columns.iter().map(|c| c.to_uppercase()));
    for row in rows {
        table.row(columns.iter().map(|c| cell(row.get(c))));
    }
    table.render()
}

/// The `limit` most recent deliveries, newest first.
pub fn recent_transfers(records: &Value, limit: usize) -> Vec<Value> {
    let mut records = records.as_array().cloned().unwrap_or_default();
    records.sort_by_key(|r| std::cmp::Reverse(r.get("delivered_at_us").and_then(Value::as_u64).unwrap_or(0)));
    records.truncate(limit);
    records
}

/// `transfers`: one row per delivery record.
pub fn transfers(records: &[Value]) -> String {
    let mut table = Table::new(["TIME (UTC)", "CHANNEL", "PATH", "PROTOCOL", "PARTNER", "SIZE", "SHA-256", "OUTCOME"]);
    for record in records {
        let field = |name: &str| record.get(name);
        let partner =
            match (field("partner_login").and_then(Value::as_str), field("partner_remote").and_then(Value::as_str)) {
                (Some(login), Some(remote)) => format!("{login}@{remote}"),
                (Some(one), None) | (None, Some(one)) => one.to_owned(),
                (None, None) => "-".into(),
            };
        let sha256 = match field("sha256").and_then(Value::as_str) {
            Some(hex) if !hex.is_empty() => hex.chars().take(12).collect(),
            _ => "-".into(),
        };
        table.row([
            number(field("delivered_at_us"), |us| utc(us / 1000)),
            cell(field("channel")),
            cell(field("path")),
            cell(field("protocol")),
            cell(Some(&Value::from(partner))),
            number(field("size"), size),
            sha256,
            cell(field("outcome")),
        ]);
    }
    table.render()
}

/// `stats`: one small table per key; rows of labels, COUNT and BYTES.
pub fn stats(stats: &Value) -> String {
    let Some(families) = stats.as_object() else { return format!("{}\n", cell(Some(stats))) };
    let mut out = String::new();
    for (name, family) in families {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{name}:\n"));
        out.push_str(&match family {
            Value::Array(rows) => tallies(rows),
            Value::Object(map) if map.values().all(|row| row.get("bytes_read").is_some()) => traffic(map),
            Value::Object(map) => {
                let mut table = Table::new(["KEY", "VALUE"]);
                for (key, value) in map {
                    table.row([key.clone(), cell(Some(value))]);
                }
                table.render()
            }
            other => format!("{}\n", cell(Some(other))),
        });
    }
    if out.is_empty() { "(no counters)\n".into() } else { out }
}

/// Byte traffic per protocol or peer channel: totals and rates over the last 10 s.
fn traffic(rows: &Map<String, Value>) -> String {
    if rows.is_empty() {
        return "(none)\n".into();
    }
    let mut table = Table::new(["", "READ", "WRITTEN", "READ/S", "WRITTEN/S"]);
    for (name, row) in rows {
        table.row([
            name.clone(),
            number(row.get("bytes_read"), size),
            number(row.get("bytes_written"), size),
            number(row.get("read_per_second"), size),
            number(row.get("written_per_second"), size),
        ]);
    }
    table.render()
}

fn tallies(rows: &[Value]) -> String {
    let mut labels: Vec<String> = Vec::new();
    for key in rows.iter().filter_map(Value::as_object).flat_map(Map::keys) {
        if key != "count" && key != "bytes" && !labels.contains(key) {
            labels.push(key.clone());
        }
    }
    let header = labels.iter().map(|l| l.to_uppercase()).chain(["COUNT".into(), "BYTES".into()]);
    let mut table = Table::new(header);
    for row in rows {
        let cells = labels.iter().map(|l| cell(row.get(l)));
        table.row(cells.chain([cell(row.get("count")), number(row.get("bytes"), size)]));
    }
    table.render()
}

/// `dead-letters`: the sends that failed for good.
pub fn dead_letters(records: &Value) -> String {
    let mut table = Table::new(["ID", "CHANNEL", "REMOTE", "NAME", "SIZE", "ATTEMPTS", "FAILED (UTC)", "DETAIL"]);
    for record in records.as_array().into_iter().flatten() {
        let field = |name: &str| record.get(name);
        let detail = ["detail", "reason", "error"].iter().map(|&k| cell(field(k))).find(|d| d != "-");
        table.row([
            cell(field("id")),
            cell(field("channel")),
            cell(field("remote")),
            cell(field("name")),
            number(field("size"), size),
            cell(field("attempts")),
            number(field("finished_at"), utc),
            detail.unwrap_or_else(|| "-".into()),
        ]);
    }
    table.render()
}

/// `replay`: the new send's id, alone on its line (for scripts).
pub fn replayed(answer: &Value) -> String {
    format!("{}\n", cell(answer.get("id")))
}

/// `reload`: `reloaded`, or the problems.
pub fn reload(answer: &Value) -> String {
    if answer.get("reloaded").and_then(Value::as_bool) == Some(true) {
        return "reloaded\n".into();
    }
    let problems = answer.get("problems").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let mut out = format!("not reloaded: {} problem(s)\n", problems.len());
    for problem in problems {
        out.push_str(&format!("  {}\n", cell(Some(problem))));
    }
    out
}

/// `pause`, `drain`, `resume`: the partner listeners' state.
pub fn listeners(answer: &Value) -> String {
    format!("partner listeners {}\n", gate(answer))
}

/// `open, 0 active connection(s)`, `draining, 0 active connection(s), drained`.
fn gate(answer: &Value) -> String {
    let drained = if answer.get("drained").and_then(Value::as_bool) == Some(true) { ", drained" } else { "" };
    let (state, active) = (cell(answer.get("partner_listeners")), cell(answer.get("active_connections")));
    format!("{state}, {active} active connection(s){drained}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_796_342_400_000;

    #[test]
    fn status_shows_node_link_spool_and_queues() {
        let status = json!({
            "node_id": "dmz-1", "role": "dmz",
            "link": {"state": "up", "peer": "inner-1", "since": NOW - 125_000, "last_contact": NOW - 1_000},
            "queues": {"to-inner": {"depth": 2, "bytes": 1536, "oldest_age_ms": 3_000}, "requests": {"depth": 0, "bytes": 0, "oldest_age_ms": null}},
            "spool": {"used_bytes": 1536, "quota_bytes": 1_073_741_824},
            "partner_listeners": "open", "active_connections": 0,
        });
        let text = status_text(&status);
        assert!(text.contains("node       dmz-1\n"), "{text}");
        assert!(
            text.contains(
                "link       up (peer inner-1) since 2026-12-03 23:57:55 UTC (2m5s ago); last contact 1s ago\n"
            ),
            "{text}"
        );
        assert!(text.contains("spool      1.5 KiB used of 1.0 GiB\n"), "{text}");
        assert!(text.contains("listeners  open, 0 active connection(s)\n"), "{text}");
        assert!(
            text.ends_with(
                "QUEUE     DEPTH  BYTES    OLDEST AGE\nrequests  0      0 B      -\nto-inner  2      1.5 KiB  3s\n"
            ),
            "{text}"
        );
    }

    fn status_text(status: &Value) -> String {
        super::status(status, NOW)
    }

    #[test]
    fn a_down_link_and_odd_json_do_not_panic() {
        let down = json!({"link": {"state": "down", "since": NOW, "reason": "refused", "last_contact": null}});
        assert!(
            status_text(&down)
                .contains("link       down since 2026-12-04 00:00:00 UTC (0s ago): refused; no contact yet\n")
        );
        for odd in [json!(null), json!([]), json!("x"), json!({"queues": 3, "link": 1, "spool": []})] {
            let text = status_text(&odd);
            assert!(text.contains("node       -\n") && text.ends_with("(none)\n"), "{text}");
            let _ = (stats(&odd), dead_letters(&odd), channels(&odd), reload(&odd), replayed(&odd));
            let _ = transfers(&recent_transfers(&odd, 20));
        }
    }

    #[test]
    fn transfers_are_newest_first_and_limited() {
        let records = json!([
            {"id": "a", "channel": "demo", "path": "old.edi", "protocol": "sftp", "partner_login": "acme", "partner_remote": "10.0.0.1:5000",
             "size": 2048, "sha256": "0123456789abcdef0123", "delivered_at_us": (NOW - 1000) * 1000, "outcome": "delivered"},
            {"id": "b", "channel": "demo", "path": "new.edi", "protocol": "admin", "partner_login": null,
             "size": 5, "sha256": "fedcba9876543210", "delivered_at_us": NOW * 1000, "outcome": "unroutable"},
            {"id": "c"},
        ]);
        let recent = recent_transfers(&records, 2);
        assert_eq!(recent.iter().map(|r| r["id"].as_str()).collect::<Vec<_>>(), [Some("b"), Some("a")]);
        let text = transfers(&recent);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "TIME (UTC)           CHANNEL  PATH     PROTOCOL  PARTNER             SIZE     SHA-256       OUTCOME"
        );
        assert_eq!(
            lines[1],
            "2026-12-04 00:00:00  demo     new.edi  admin     -                   5 B      fedcba987654  unroutable"
        );
        assert_eq!(
            lines[2],
            "2026-12-03 23:59:59  demo     old.edi  sftp      acme@10.0.0.1:5000  2.0 KiB  0123456789ab  delivered"
        );
        let all = transfers(&recent_transfers(&records, 20));
        let last: Vec<&str> = all.lines().last().unwrap_or_default().split_whitespace().collect();
        assert_eq!(last, ["-"; 8], "{all}");
    }

    #[test]
    fn channels_come_from_either_node() {
        let dmz = json!([{"name": "demo", "logins": ["acme", "globex"]}, {"name": "empty", "logins": []}]);
        assert_eq!(channels(&dmz), "NAME   LOGINS\ndemo   acme,globex\nempty  -\n");
        let inner = json!([{"name": "demo", "invisible_to_dmz": false}]);
        assert_eq!(channels(&inner), "NAME  INVISIBLE_TO_DMZ\ndemo  false\n");
    }

    #[test]
    fn stats_print_a_table_per_family() {
        let stats_json = json!({
            "deliveries": [{"channel": "demo", "protocol": "sftp", "count": 3, "bytes": 3072}],
            "active": {"sftp": 1},
            "failures": [],
        });
        assert_eq!(
            stats(&stats_json),
            "active:\nKEY   VALUE\nsftp  1\n\ndeliveries:\nCHANNEL  PROTOCOL  COUNT  BYTES\ndemo     sftp      3      3.0 KiB\n\n\
             failures:\nCOUNT  BYTES\n(none)\n"
        );
        let traffic = json!({"traffic": {"ftp": {"bytes_read": 2048, "bytes_written": 0, "read_per_second": 1024,
                                                  "written_per_second": 0}}});
        assert_eq!(
            stats(&traffic),
            "traffic:\n     READ     WRITTEN  READ/S   WRITTEN/S\nftp  2.0 KiB  0 B      1.0 KiB  0 B\n"
        );
    }

    #[test]
    fn dead_letters_replay_and_reload() {
        let dead = json!([{"id": "s1", "channel": "out", "remote": "acme", "name": "x.edi", "size": 10, "attempts": 5,
                           "finished_at": NOW, "detail": "550 no\nthanks", "status": "failed"}]);
        let text = dead_letters(&dead);
        assert!(
            text.lines().nth(1).is_some_and(
                |l| l.starts_with("s1  out      acme    x.edi  10 B  5         2026-12-04 00:00:00  550 no thanks")
            ),
            "{text}"
        );
        assert_eq!(replayed(&json!({"id": "s2"})), "s2\n");
        assert_eq!(reload(&json!({"reloaded": true})), "reloaded\n");
        let drained =
            json!({"partner_listeners": "draining", "active_connections": 0, "drained": true, "changed": true});
        assert_eq!(listeners(&drained), "partner listeners draining, 0 active connection(s), drained\n");
        assert_eq!(
            reload(&json!({"reloaded": false, "problems": ["a", "b"]})),
            "not reloaded: 2 problem(s)\n  a\n  b\n"
        );
    }
}
