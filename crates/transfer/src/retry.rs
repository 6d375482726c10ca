//! Backoff between attempts of a transient failure.

use std::time::Duration;

/// The wait before attempt `attempt + 1` (attempt counts from 1): `base`, doubled
/// per attempt, never above `max`.
pub fn delay(attempt: u32, base_ms: u64, max_ms: u64) -> Duration {
    let factor = 1u64.checked_shl(attempt.saturating_sub(1).min(63)).unwrap_or(u64::MAX);
    Duration::from_millis(base_ms.saturating_mul(factor).min(max_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_cap() {
        assert_eq!(delay(1, 100, 1000), Duration::from_millis(100));
        assert_eq!(delay(2, 100, 1000), Duration::from_millis(200));
        assert_eq!(delay(4, 100, 1000), Duration::from_millis(800));
        assert_eq!(delay(5, 100, 1000), Duration::from_millis(1000));
        assert_eq!(delay(500, 100, 1000), Duration::from_millis(1000));
    }
}
