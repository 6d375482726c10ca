//! [`RateWindow`]: how fast a growing count grows, per second, over the recent past.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Below this span between the oldest and newest sample there is no rate yet.
const MIN_SPAN: Duration = Duration::from_millis(200);

/// Samples of a count that only grows (bytes so far), kept back to `span`.
#[derive(Debug, Clone)]
pub struct RateWindow {
    span: Duration,
    /// (when, count), oldest first.
    samples: VecDeque<(Instant, u64)>,
}

impl RateWindow {
    pub fn new(span: Duration) -> Self {
        RateWindow { span, samples: VecDeque::new() }
    }

    /// Notes `count` at `at` (never earlier than the last sample). One sample at
    /// least `span` old is kept, so the rate covers the whole span.
    pub fn record(&mut self, at: Instant, count: u64) {
        self.samples.push_back((at, count));
        while self.samples.get(1).is_some_and(|&(second, _)| at.saturating_duration_since(second) >= self.span) {
            self.samples.pop_front();
        }
    }

    /// Units per second between the oldest and the newest sample; None until they
    /// are [`MIN_SPAN`] apart.
    pub fn per_second(&self) -> Option<f64> {
        let (&(first_at, first), &(last_at, last)) = (self.samples.front()?, self.samples.back()?);
        let span = last_at.saturating_duration_since(first_at);
        (span >= MIN_SPAN).then(|| last.saturating_sub(first) as f64 / span.as_secs_f64())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_covers_the_span_and_needs_a_fifth_of_a_second() {
        let start = Instant::now();
        let mut window = RateWindow::new(Duration::from_secs(2));
        assert_eq!(window.per_second(), None);
        window.record(start, 0);
        window.record(start + Duration::from_millis(100), 50);
        assert_eq!(window.per_second(), None, "too short a span to tell");
        window.record(start + Duration::from_secs(1), 1_000);
        assert_eq!(window.per_second(), Some(1_000.0));
        window.record(start + Duration::from_secs(3), 1_000);
        window.record(start + Duration::from_secs(5), 1_000);
        // The growth is more than a span ago: idle now.
        assert_eq!(window.per_second(), Some(0.0));
        assert_eq!(window.len(), 2);
    }
}
