//! What `portcullis ctl send` shows on standard error: the upload's line (bytes,
//! percent, rate, ETA) and the send's status while it is followed. On a terminal one
//! line is redrawn in place with `\r`; elsewhere (logs, CI) plain lines, at most one
//! every [`LOG_EVERY`] for the upload and one per status change. Pure: the caller
//! passes the clock and writes the text.

use std::time::Duration;

use meter::RateWindow;

use super::format::{age, one_line, size};

/// The rate is measured over about this much of the recent past.
const WINDOW: Duration = Duration::from_secs(5);

/// Off a terminal, the upload's line at most this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The upload's rate, measured over the last [`WINDOW`].
pub fn rate_window() -> RateWindow {
    RateWindow::new(WINDOW)
}

/// Whole percent (rounded down, so 100% means done) of `done` of `total`, at most
/// 100; an empty file is 100%.
pub fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        return 100;
    }
    (u128::from(done) * 100 / u128::from(total)).min(100) as u64
}

/// The time `remaining` bytes take at `rate` bytes/s; None for no rate (or one so
/// slow the time does not fit).
pub fn eta(remaining: u64, rate: f64) -> Option<Duration> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(remaining as f64 / rate).ok()
}

/// `85.3 MiB/s`, or `-` when unknown.
fn speed(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{}/s", size(r as u64)))
}

/// `sending invoice.bin  412.0 MiB / 1.0 GiB  40%  85.3 MiB/s  ETA 7s`; without a
/// known total (a pipe), only the bytes and the rate.
pub fn sending(name: &str, sent: u64, total: Option<u64>, rate: Option<f64>) -> String {
    let (name, speed) = (one_line(name), speed(rate));
    let Some(total) = total else { return format!("sending {name}  {}  {speed}", size(sent)) };
    let left = rate.and_then(|r| eta(total.saturating_sub(sent), r));
    let left = left.map_or_else(|| "-".into(), |d| age(d.as_millis() as u64));
    let (sent, percent, total) = (size(sent), percent(sent, total), size(total));
    format!("sending {name}  {sent} / {total}  {percent}%  {speed}  ETA {left}")
}

/// `uploaded invoice.bin  1.0 GiB / 1.0 GiB  100%  85.3 MiB/s  in 12s`: the mean
/// rate of the whole upload.
pub fn uploaded(name: &str, sent: u64, took: Duration) -> String {
    let seconds = took.as_secs_f64();
    let rate = (seconds > 0.0).then(|| sent as f64 / seconds);
    let (name, bytes, speed, took) = (one_line(name), size(sent), speed(rate), age(took.as_millis() as u64));
    format!("uploaded {name}  {bytes} / {bytes}  100%  {speed}  in {took}")
}

/// `send 0190…: sent`.
pub fn send_state(id: &str, status: &str) -> String {
    format!("send {}: {}", one_line(id), one_line(status))
}

/// Standard error as one status line: redrawn in place on a terminal, plain lines
/// elsewhere.
#[derive(Debug)]
pub struct Display {
    terminal: bool,
    /// On a terminal: the characters of the line now shown (0: none).
    width: usize,
    /// Off a terminal: when the last progress line was written.
    logged_at: Duration,
    /// Off a terminal: the last line written.
    last: String,
}

impl Display {
    pub fn new(terminal: bool) -> Self {
        Self { terminal, width: 0, logged_at: Duration::ZERO, last: String::new() }
    }

    /// Progress `at` (since the start): redrawn on a terminal; elsewhere a line once
    /// [`LOG_EVERY`] has passed since the last one.
    pub fn progress(&mut self, at: Duration, line: &str) -> Option<String> {
        if self.terminal {
            return Some(self.redraw(line));
        }
        if at.saturating_sub(self.logged_at) < LOG_EVERY {
            return None;
        }
        self.logged_at = at;
        Some(self.log(line))
    }

    /// A state that has been going on for `waited`: redrawn on a terminal with the
    /// time; elsewhere a line when it differs from the last one.
    pub fn state(&mut self, line: &str, waited: Duration) -> Option<String> {
        if self.terminal {
            return Some(self.redraw(&format!("{line}  {}", age(waited.as_millis() as u64))));
        }
        (line != self.last).then(|| self.log(line))
    }

    /// The last line, ended; elsewhere left out when it was just written.
    pub fn finish(&mut self, line: &str) -> String {
        if !self.terminal {
            return if line == self.last { String::new() } else { self.log(line) };
        }
        let mut text = self.redraw(line);
        text.push('\n');
        self.width = 0;
        text
    }

    /// Ends a line being redrawn, so that what follows starts on its own line.
    pub fn end(&mut self) -> String {
        let open = self.terminal && self.width > 0;
        self.width = 0;
        if open { "\n".into() } else { String::new() }
    }

    /// Back to the line's start; blanks cover what a longer line left.
    fn redraw(&mut self, line: &str) -> String {
        let width = line.chars().count();
        let blanks = " ".repeat(self.width.saturating_sub(width));
        self.width = width;
        format!("\r{line}{blanks}")
    }

    fn log(&mut self, line: &str) -> String {
        self.last = line.to_owned();
        format!("{line}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn percent_rounds_down_and_stays_within_100() {
        assert_eq!(percent(0, 10), 0);
        assert_eq!(percent(995, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
        assert_eq!(percent(2000, 1000), 100);
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(u64::MAX, u64::MAX), 100);
    }

    #[test]
    fn eta_is_the_remaining_bytes_over_the_rate() {
        assert_eq!(eta(100 * MIB, (10 * MIB) as f64), Some(secs(10.0)));
        assert_eq!(eta(0, 5.0), Some(Duration::ZERO));
        assert_eq!(eta(10, 0.0), None);
        assert_eq!(eta(10, f64::NAN), None);
        assert_eq!(eta(u64::MAX, f64::MIN_POSITIVE), None);
    }

    #[test]
    fn the_rate_follows_the_last_few_seconds() {
        let mut rate = rate_window();
        let start = std::time::Instant::now();
        let secs = |s: f64| start + secs(s);
        assert_eq!(rate.per_second(), None);
        rate.record(secs(0.0), 0);
        rate.record(secs(0.1), MIB);
        assert_eq!(rate.per_second(), None, "too short a span to tell");
        rate.record(secs(1.0), 10 * MIB);
        assert_eq!(rate.per_second(), Some((10 * MIB) as f64));
        // Ten seconds at 10 MiB/s, then five at 1 MiB/s: the window sees the slow part.
        for tenth in 11..=100u32 {
            rate.record(secs(f64::from(tenth) / 10.0), u64::from(tenth) * MIB);
        }
        for tenth in 1..=50u32 {
            rate.record(secs(10.0 + f64::from(tenth) / 10.0), 100 * MIB + u64::from(tenth) * MIB / 10);
        }
        let now = rate.per_second().unwrap_or_default();
        assert!((now - MIB as f64).abs() < 1.0, "{now}");
    }

    #[test]
    fn the_upload_line_shows_bytes_percent_rate_and_eta() {
        let line = sending("invoice.bin", 412 * MIB, Some(1024 * MIB), Some(85.3 * MIB as f64));
        assert_eq!(line, "sending invoice.bin  412.0 MiB / 1.0 GiB  40%  85.3 MiB/s  ETA 7s");
        assert_eq!(sending("a\nb", 0, Some(10), None), "sending a b  0 B / 10 B  0%  -  ETA -");
        assert_eq!(sending("pipe", 3 * MIB, None, Some(1024.0)), "sending pipe  3.0 MiB  1.0 KiB/s");
        assert_eq!(
            uploaded("invoice.bin", 100 * MIB, secs(4.0)),
            "uploaded invoice.bin  100.0 MiB / 100.0 MiB  100%  25.0 MiB/s  in 4s"
        );
        assert_eq!(uploaded("empty", 0, Duration::ZERO), "uploaded empty  0 B / 0 B  100%  -  in 0s");
        assert_eq!(send_state("0190", "queued"), "send 0190: queued");
    }

    #[test]
    fn a_terminal_redraws_one_line() {
        let mut display = Display::new(true);
        assert_eq!(display.progress(Duration::ZERO, "sending x  10%").as_deref(), Some("\rsending x  10%"));
        assert_eq!(display.progress(secs(0.2), "sending x  9%").as_deref(), Some("\rsending x  9% "));
        assert_eq!(display.finish("uploaded x"), "\ruploaded x   \n");
        assert_eq!(display.end(), "");
        assert_eq!(display.state("send 1: queued", secs(2.0)).as_deref(), Some("\rsend 1: queued  2s"));
        assert_eq!(display.end(), "\n");
    }

    #[test]
    fn elsewhere_progress_is_a_line_every_few_seconds_and_states_a_line_each() {
        let mut display = Display::new(false);
        assert_eq!(display.progress(secs(1.0), "at 1s"), None);
        assert_eq!(display.progress(secs(5.0), "at 5s").as_deref(), Some("at 5s\n"));
        assert_eq!(display.progress(secs(9.0), "at 9s"), None);
        assert_eq!(display.progress(secs(10.0), "at 10s").as_deref(), Some("at 10s\n"));
        assert_eq!(display.finish("uploaded"), "uploaded\n");
        assert_eq!(display.state("send 1: queued", secs(0.5)).as_deref(), Some("send 1: queued\n"));
        assert_eq!(display.state("send 1: queued", secs(1.0)), None);
        assert_eq!(display.state("send 1: sent", secs(1.5)).as_deref(), Some("send 1: sent\n"));
        assert_eq!(display.finish("send 1: sent"), "");
        assert_eq!(display.finish("send 1: delivered"), "send 1: delivered\n");
        assert_eq!(display.end(), "");
    }
}
