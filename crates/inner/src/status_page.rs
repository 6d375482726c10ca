//! The status page (`GET /status` on the admin port): one server-rendered HTML
//! page — link, per-channel counters, queues with the oldest item's age, recent
//! transfers and dead letters — that reloads itself every few seconds. Behind the
//! admin token like every route; a browser signs in at `/sign-in` (cookie).

use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;
use message_service::LinkState;
use plumbing::html::escape;
use plumbing::human::{age, size, utc};

use crate::admin::AdminState;
use crate::deliver::journal::{DeliveryRecord, RECORD_PREFIX};
use crate::outbound::record::{self, DEAD_PREFIX};
use crate::{INBOUND, TO_DMZ, outbound::SENDS};

/// Seconds between reloads.
const REFRESH_SECS: u32 = 5;
/// Transfers shown.
const RECENT: usize = 25;
/// Journal records read per render, newest ids first: the page costs the same
/// however long the journal is (a delivery held back behind more than this many
/// newer ones is not among the recent ones).
const JOURNAL_WINDOW: usize = 500;

pub async fn page(State(state): State<AdminState>) -> Html<String> {
    let node = state.settings.get().node_id.clone();
    let mut body = String::new();
    link(&mut body, &state);
    channels(&mut body, &state);
    queues(&mut body, &state);
    transfers(&mut body, &state);
    dead_letters(&mut body, &state);
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\"><title>portcullis — {node}</title>\
         <style>{STYLE}</style></head><body><h1>portcullis inner node <code>{node}</code></h1>{body}\
         <p class=\"muted\">Reloads every {REFRESH_SECS} s. Counters since the node started.</p></body></html>",
        node = escape(&node),
    ))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:80em;color:#222}\
    table{border-collapse:collapse;margin-bottom:1.5em;width:100%}th,td{text-align:left;padding:.3em .6em;\
    border-bottom:1px solid #ddd;font-size:.95em}th{background:#f3f3f3}td.n{text-align:right}\
    .up{color:#070;font-weight:bold}.down{color:#b00;font-weight:bold}.muted{color:#777}code{font-size:.95em}";

fn link(out: &mut String, state: &AdminState) {
    let now = envelope::now_millis();
    let contact = state.link.last_contact().map_or("never".to_owned(), |t| age(now.saturating_sub(t)) + " ago");
    let (class, text) = match state.link.state() {
        LinkState::Up { peer, .. } => ("up", format!("up — DMZ {}", escape(&peer))),
        LinkState::Down { reason, .. } => ("down", format!("down — {}", escape(&reason))),
    };
    let _ = write!(
        out,
        "<h2>Link</h2><p id=\"link\" class=\"{class}\">{text}</p><p>Last contact: {}</p>",
        escape(&contact)
    );
}

fn channels(out: &mut String, state: &AdminState) {
    let counts = state.stats.per_channel();
    let settings = state.settings.get();
    let rows = settings.channels.iter().map(|channel| {
        let c = counts.get(&channel.name).copied().unwrap_or_default();
        let visibility = if channel.invisible_to_dmz { "inner only" } else { "pushed to the DMZ" };
        vec![
            escape(&channel.name),
            visibility.to_owned(),
            c.delivered.to_string(),
            size(c.bytes),
            c.failures.to_string(),
        ]
    });
    table(out, "Channels", "channels", &["channel", "visibility", "delivered", "bytes", "failed writes"], rows);
}

fn queues(out: &mut String, state: &AdminState) {
    let now = envelope::now_millis();
    let rows = [INBOUND, TO_DMZ, SENDS].into_iter().map(|name| {
        let stats = state.spool.queue_stats(name);
        let oldest = stats.oldest_enqueued_at.map_or("—".to_owned(), |t| age(now.saturating_sub(t)));
        vec![name.to_owned(), stats.depth.to_string(), size(stats.bytes), oldest]
    });
    table(out, "Queues", "queues", &["queue", "depth", "bytes", "oldest"], rows);
}

fn transfers(out: &mut String, state: &AdminState) {
    // Journal keys are envelope ids, which sort by time: the newest are at the end.
    let mut records: Vec<DeliveryRecord> = state
        .spool
        .last_state(RECORD_PREFIX, JOURNAL_WINDOW)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
        .collect();
    records.sort_by_key(|r| std::cmp::Reverse(r.delivered_at_us));
    let rows = records.into_iter().take(RECENT).map(|r| {
        let partner =
            format!("{}@{}", r.partner_login.as_deref().unwrap_or("-"), r.partner_remote.as_deref().unwrap_or("-"));
        vec![
            escape(&utc(r.delivered_at_us / 1000)),
            escape(&r.channel),
            escape(&r.path),
            escape(&r.protocol),
            escape(&partner),
            size(r.size),
            format!("<code>{}</code>", escape(r.sha256.get(..12).unwrap_or(&r.sha256))),
            escape(&r.outcome),
        ]
    });
    let headers = ["time (UTC)", "channel", "path", "protocol", "partner", "size", "sha-256", "outcome"];
    table(out, "Recent transfers", "transfers", &headers, rows);
}

fn dead_letters(out: &mut String, state: &AdminState) {
    let records = record::list(state.spool.as_ref(), DEAD_PREFIX).unwrap_or_default();
    let rows = records
        .into_iter()
        .map(|r| vec![escape(&r.id), escape(&r.channel), escape(&r.remote), escape(&r.name), escape(&r.detail)]);
    table(out, "Dead letters", "dead-letters", &["id", "channel", "remote", "file", "why"], rows);
}

/// A table of already-escaped cells; "none" when there are no rows.
fn table(out: &mut String, title: &str, id: &str, headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = write!(out, "<h2>{title}</h2><table id=\"{id}\"><thead><tr>");
    headers.iter().for_each(|h| {
        let _ = write!(out, "<th>{h}</th>");
    });
    out.push_str("</tr></thead><tbody>");
    let mut empty = true;
    for row in rows {
        empty = false;
        out.push_str("<tr>");
        row.iter().for_each(|cell| {
            let _ = write!(out, "<td>{cell}</td>");
        });
        out.push_str("</tr>");
    }
    if empty {
        let _ = write!(out, "<tr><td colspan=\"{}\" class=\"muted\">none</td></tr>", headers.len());
    }
    out.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_says_none() {
        let mut out = String::new();
        table(&mut out, "T", "t", &["a", "b"], std::iter::empty());
        assert!(out.contains("<td colspan=\"2\" class=\"muted\">none</td>"), "{out}");
    }
}
