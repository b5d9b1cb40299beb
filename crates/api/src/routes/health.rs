use crate::envelope::ok;
use crate::state::AppState;
use crate::wire::{Health, Readiness};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::time::{Duration, Instant};

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn health() -> Response {
    ok(
        "ok",
        Health {
            status: "ok".into(),
        },
    )
}

/// The database answers and, when configured, LiveKit accepts our credentials.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is not ready", body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database");
            "unreachable".to_owned()
        }
    };
    let livekit = match &state.livekit {
        None => "not_configured".to_owned(),
        Some(lk) => {
            state
                .livekit_readiness
                .get_or_check(|| async {
                    match lk.ping().await {
                        // `serve --demo`: reachable, but a stand-in, never to be taken for
                        // LiveKit.
                        Ok(()) if state.livekit_demo => "demo".to_owned(),
                        Ok(()) => "ok".to_owned(),
                        Err(e) => {
                            tracing::warn!(error = %e, "readiness: LiveKit");
                            e.readiness().to_owned()
                        }
                    }
                })
                .await
        }
    };
    let ready = database == "ok" && matches!(livekit.as_str(), "ok" | "not_configured" | "demo");
    let body = crate::envelope::Envelope {
        success: ready,
        message: if ready {
            "ready".into()
        } else {
            "not ready".into()
        },
        data: Readiness { database, livekit },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

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
