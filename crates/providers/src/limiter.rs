//! Client-side limits for providers that publish them. Exotel's vSIP API allows 200 requests
//! a minute and 50 concurrent connections per account (EX-REF "Rate Limit";
//! developer.exotel.com vSIP tcp-integration): trunkline keeps under both rather than
//! discovering them through refusals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests allowed in any `window`.
    pub per_window: u32,
    pub window: Duration,
    /// Requests that may go at once after a quiet spell. The bucket refills at
    /// `(per_window - burst) / window`, so that a burst plus a window of refill never
    /// exceeds `per_window`, whether the provider counts fixed or sliding windows.
    pub burst: u32,
    /// Requests in flight at once.
    pub concurrent: u32,
}

impl Limits {
    fn refill_per_sec(&self) -> f64 {
        f64::from(self.per_window.saturating_sub(self.burst).max(1))
            / self.window.as_secs_f64().max(0.001)
    }
}

/// A token bucket and a concurrency cap for one provider account.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    bucket: Mutex<Bucket>,
    in_flight: Arc<Semaphore>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Held for the whole request: dropping it frees a concurrency slot.
#[derive(Debug)]
pub struct Permit {
    _slot: OwnedSemaphorePermit,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limits.burst.max(1)),
                last: Instant::now(),
            }),
            in_flight: Arc::new(Semaphore::new(limits.concurrent.max(1) as usize)),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Waits for a concurrency slot, then for a token.
    pub async fn acquire(&self) -> Permit {
        let slot = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        loop {
            let wait = {
                let mut b = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let rate = self.limits.refill_per_sec();
                let cap = f64::from(self.limits.burst.max(1));
                b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(cap);
                b.last = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64((1.0 - b.tokens) / rate))
                }
            };
            match wait {
                None => return Permit { _slot: slot },
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }
}

/// The limiter of the account named by `key`, shared by every client of that account in this
/// process (the API builds a client per request; the limit is the account's).
pub fn shared(key: &str, limits: Limits) -> Arc<Limiter> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Limiter>>>> = OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    map.entry(key.to_owned())
        .or_insert_with(|| Arc::new(Limiter::new(limits)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXOTEL: Limits = Limits {
        per_window: 200,
        window: Duration::from_secs(60),
        burst: 20,
        concurrent: 50,
    };

    #[tokio::test(start_paused = true)]
    async fn never_more_than_per_minute_in_any_window() {
        let l = Limiter::new(EXOTEL);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..450 {
            drop(l.acquire().await);
            at.push(start.elapsed());
        }
        // The burst goes at once.
        assert!(at[19] < Duration::from_millis(1), "{:?}", at[19]);
        // Every 60-second window starting at a grant holds at most 200 grants.
        for (i, t0) in at.iter().enumerate() {
            let n = at[i..]
                .iter()
                .take_while(|t| **t < *t0 + Duration::from_secs(60))
                .count();
            assert!(n <= 200, "{n} grants in the minute from {t0:?}");
        }
        // And the limit is used: 450 grants take about (450 - 20) / 3 s.
        let total = at.last().unwrap().as_secs_f64();
        assert!((143.0..145.0).contains(&total), "{total}");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped() {
        let l = Arc::new(Limiter::new(Limits {
            per_window: 10_000,
            window: Duration::from_secs(60),
            burst: 1_000,
            concurrent: 3,
        }));
        let held: Vec<Permit> = futures_join(&l, 3).await;
        let l2 = l.clone();
        let waiter = tokio::spawn(async move { l2.acquire().await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished(), "a fourth request got through");
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("freed slot is handed on")
            .unwrap();
    }

    async fn futures_join(l: &Limiter, n: usize) -> Vec<Permit> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(l.acquire().await);
        }
        v
    }

    #[test]
    fn accounts_share_one_limiter_by_key() {
        let a = shared("exotel:test-a", EXOTEL);
        let b = shared("exotel:test-a", EXOTEL);
        let c = shared("exotel:test-c", EXOTEL);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
