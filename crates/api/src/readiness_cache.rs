//! LiveKit's readiness answer, cached: `/ready` is polled by load balancers, and each poll
//! must not become a LiveKit request.

use std::time::{Duration, Instant};

/// How long LiveKit's readiness answer is reused.
pub const READINESS_TTL: Duration = Duration::from_secs(3);

/// LiveKit's last readiness answer, reused for [`READINESS_TTL`]. The lock is held across
/// the check, so polls arriving together share one LiveKit request.
#[derive(Default)]
pub struct ReadinessCache(tokio::sync::Mutex<Option<(Instant, String)>>);

impl ReadinessCache {
    pub async fn get_or_check<F, Fut>(&self, check: F) -> String
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = String>,
    {
        let mut last = self.0.lock().await;
        if let Some((at, answer)) = last.as_ref() {
            if at.elapsed() < READINESS_TTL {
                return answer.clone();
            }
        }
        let answer = check().await;
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn polls_within_the_ttl_share_one_check() {
        let cache = ReadinessCache::default();
        let checks = AtomicUsize::new(0);
        let check = || async {
            checks.fetch_add(1, Ordering::SeqCst);
            "ok".to_owned()
        };
        let answers = poll_n_times(&cache, &check, 5).await;
        assert!(answers.iter().all(|a| a == "ok"));
        assert_eq!(checks.load(Ordering::SeqCst), 1, "one LiveKit request");
        // Once the answer is old, the next poll checks again.
        *cache.0.lock().await = Some((Instant::now() - READINESS_TTL, "ok".into()));
        cache.get_or_check(check).await;
        assert_eq!(checks.load(Ordering::SeqCst), 2);
    }

    async fn poll_n_times<F, Fut>(cache: &ReadinessCache, check: &F, n: usize) -> Vec<String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = String>,
    {
        let mut out = vec![];
        for _ in 0..n {
            out.push(cache.get_or_check(check).await);
        }
        out
    }
}
