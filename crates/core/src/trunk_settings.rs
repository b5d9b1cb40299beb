//! The bounds of a trunk's own settings (health checks, call limits), one place for the API
//! and the dashboard, which word their errors for their readers but must accept the same values.

use std::ops::RangeInclusive;

/// Seconds between health checks.
pub const HEALTH_INTERVAL_SECS: RangeInclusive<i64> = 10..=3600;
/// Failed checks in a row before a trunk is `down`.
pub const HEALTH_DOWN_AFTER: RangeInclusive<i64> = 1..=10;
/// Calls per second (fractions allowed: Exotel's 200 calls a minute is 3.33).
pub const CALLS_PER_SECOND: RangeInclusive<f64> = 0.01..=1000.0;
/// Concurrent calls on one trunk.
pub const MAX_CONCURRENT_CALLS: RangeInclusive<i64> = 1..=10_000;

/// Calls per second as stored (thousandths), if within [`CALLS_PER_SECOND`].
pub fn cps_milli(calls_per_second: f64) -> Option<i64> {
    (calls_per_second.is_finite() && CALLS_PER_SECOND.contains(&calls_per_second))
        .then(|| (calls_per_second * 1000.0).round() as i64)
}
