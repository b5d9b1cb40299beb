//! A per-tenant rate limit on trunk tests. Each test sends SIP requests from this server to
//! an address the tenant chose, so an unlimited tenant could use trunkline to flood a SIP
//! peer (or tie up its probe sockets). A token bucket per tenant, in memory: each instance
//! limits on its own, which bounds what one tenant can send through any one instance.

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Past this many tenants remembered, buckets that are full again are dropped (a full bucket
/// is the same as a forgotten one).
const FORGET_FULL_BUCKETS_PAST: usize = 10_000;

pub struct TrunkTestLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    per_minute: NonZeroU32,
}

impl TrunkTestLimit {
    /// `per_minute` tests a minute per tenant, all of them available at once after a quiet
    /// minute.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            per_minute,
        }
    }

    /// Takes one test from the tenant's bucket, or says when the next one is allowed.
    pub fn check(&self, tenant_id: &str) -> Result<(), ApiError> {
        if self.limiter.len() > FORGET_FULL_BUCKETS_PAST {
            self.limiter.retain_recent();
        }
        let Err(not_until) = self.limiter.check_key(&tenant_id.to_owned()) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        // Whole seconds, rounded up, so a client that waits exactly this long succeeds.
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let retry_after = retry_after.max(1);
        Err(ApiError::TooManyRequests {
            message: format!(
                "Too many trunk tests: this account may run {} a minute; retry in {retry_after} s",
                self.per_minute
            ),
            data: serde_json::json!({
                "limit": "trunk_tests_per_minute",
                "per_minute": self.per_minute.get(),
                "retry_after_secs": retry_after,
            }),
            retry_after: Some(retry_after),
        })
    }
}

impl Default for TrunkTestLimit {
    fn default() -> Self {
        Self::per_minute(NonZeroU32::new(10).expect("non-zero"))
    }
}
