use crate::envelope::ok;
use crate::state::AppState;
use crate::wire::{Health, Readiness};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Up", body = crate::envelope::Envelope<Health>)))]
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
        (status = 200, description = "Ready", body = crate::envelope::Envelope<Readiness>),
        (status = 503, description = "A dependency is not ready (`success` is false)", body = crate::envelope::Envelope<Readiness>)))]
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
