//! A writer of the Prometheus text exposition format (version 0.0.4): each family
//! once with its `# HELP` and `# TYPE`, then its samples. Label values are escaped;
//! names are fixed strings of ours.

use std::fmt::Write;

use message_service::{Link, LinkState};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metrics page being written.
#[derive(Debug, Default)]
pub struct Metrics {
    text: String,
}

/// Label pairs of one sample.
pub type Labels = Vec<(&'static str, String)>;

impl Metrics {
    /// A counter family with its samples.
    pub fn counter(&mut self, name: &str, help: &str, samples: impl IntoIterator<Item = (Labels, u64)>) {
        self.family(name, help, "counter", samples.into_iter().map(|(l, v)| (l, v as f64)));
    }

    /// A gauge family with its samples.
    pub fn gauge(&mut self, name: &str, help: &str, samples: impl IntoIterator<Item = (Labels, f64)>) {
        self.family(name, help, "gauge", samples.into_iter());
    }

    /// The link's state (1 up, 0 down) and the seconds since the last exchange.
    pub fn link(&mut self, link: &Link) {
        let up = matches!(link.state(), LinkState::Up { .. });
        let up = [(Vec::new(), f64::from(u8::from(up)))];
        self.gauge("portcullis_link_up", "1 while the MessageService link to the peer node is up.", up);
        let now = envelope::now_millis();
        let age = link.last_contact().map(|t| now.saturating_sub(t) as f64 / 1000.0);
        self.gauge(
            "portcullis_link_last_contact_age_seconds",
            "Seconds since the last successful exchange with the peer node (absent: never).",
            age.map(|age| (Vec::new(), age)),
        );
    }

    /// Depth, payload bytes and oldest item's age of spool queues.
    pub fn queues(&mut self, queues: &[(&str, spool::QueueStats)]) {
        type Field = fn(&spool::QueueStats, u64) -> f64;
        let fields: [(&str, &str, Field); 3] = [
            ("portcullis_queue_depth", "Items in a spool queue, not yet acknowledged.", |s, _| s.depth as f64),
            ("portcullis_queue_bytes", "Payload bytes of the items in a spool queue.", |s, _| s.bytes as f64),
            ("portcullis_queue_oldest_age_seconds", "Age of the oldest item in a spool queue (0: empty).", |s, now| {
                s.oldest_enqueued_at.map_or(0.0, |t| now.saturating_sub(t) as f64 / 1000.0)
            }),
        ];
        let now = envelope::now_millis();
        for (name, help, field) in fields {
            let samples = queues.iter().map(|(queue, stats)| (vec![("queue", (*queue).to_owned())], field(stats, now)));
            self.gauge(name, help, samples);
        }
    }

    /// The spool's bytes in use and its quota.
    pub fn usage(&mut self, usage: spool::Usage) {
        let used = [(Vec::new(), usage.used_bytes as f64)];
        self.gauge("portcullis_spool_used_bytes", "Bytes the spool holds (payloads and records).", used);
        let quota = [(Vec::new(), usage.quota_bytes as f64)];
        self.gauge("portcullis_spool_quota_bytes", "The spool's byte quota.", quota);
    }

    /// The page.
    pub fn render(self) -> String {
        self.text
    }

    fn family(&mut self, name: &str, help: &str, kind: &str, samples: impl Iterator<Item = (Labels, f64)>) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.text.push_str(name);
            if !labels.is_empty() {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                let _ = write!(self.text, "{{{}}}", pairs.join(","));
            }
            let _ = writeln!(self.text, " {value}");
        }
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_type_and_escaped_labels() {
        let mut metrics = Metrics::default();
        metrics.counter(
            "x_total",
            "Things.",
            [(vec![("channel", "a\"b\\c\nd".into()), ("protocol", "ftp".into())], 3)],
        );
        metrics.gauge("y", "A level.", [(Vec::new(), 1.5)]);
        let text = metrics.render();
        assert_eq!(
            text,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{channel=\"a\\\"b\\\\c\\nd\",protocol=\"ftp\"} 3\n\
             # HELP y A level.\n# TYPE y gauge\ny 1.5\n"
        );
    }

    #[test]
    fn queues_report_depth_bytes_and_age() {
        let mut metrics = Metrics::default();
        let stats = spool::QueueStats { depth: 2, bytes: 10, oldest_enqueued_at: None };
        metrics.queues(&[("to-inner", stats)]);
        let text = metrics.render();
        assert!(text.contains("portcullis_queue_depth{queue=\"to-inner\"} 2\n"), "{text}");
        assert!(text.contains("portcullis_queue_bytes{queue=\"to-inner\"} 10\n"), "{text}");
        assert!(text.contains("portcullis_queue_oldest_age_seconds{queue=\"to-inner\"} 0\n"), "{text}");
    }
}
