//! `POST /livekit/webhook`: where LiveKit's webhooks (configured in LiveKit with this URL)
//! report calls. Nothing unsigned, altered or signed for another key gets past the check;
//! such a request is 401 and changes nothing.

use crate::envelope::ok;
use crate::error::{ApiError, AuthFailure};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header::AUTHORIZATION, HeaderMap};
use axum::response::Response;
use trunkline_core::calls::tracking;
use trunkline_livekit::{verify_webhook, WebhookError};

/// LiveKit's webhook receiver (configure this URL in LiveKit). Authenticated by LiveKit's
/// signature, not an API key.
#[utoipa::path(post, path = "/livekit/webhook", tag = "calls",
    summary = "Receive LiveKit's webhooks (signed by LiveKit, not an API key)",
    request_body(content = String, content_type = "application/webhook+json", description = "LiveKit WebhookEvent (protojson)"),
    params(("Authorization" = String, Header, description = "LiveKit's JWT (HS256, sha256 claim = body hash)")),
    responses(
        (status = 200, description = "Applied, or not about a trunkline call"),
        (status = 401, description = "Unsigned, altered, expired or signed for another key: nothing changed"),
        (status = 503, description = "LiveKit is not configured on this server")))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let lk = state.require_livekit()?;
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let event = match verify_webhook(lk.api_key(), lk.api_secret(), auth, &body) {
        Ok(ev) => ev,
        Err(WebhookError::BadBody(e)) => {
            return Err(ApiError::bad_request(format!(
                "the signed body is not a LiveKit webhook event: {e}"
            )))
        }
        Err(e) => {
            tracing::warn!(error = %e, "LiveKit webhook refused");
            return Err(ApiError::Unauthorized(AuthFailure::LiveKitSignature));
        }
    };
    let effect = tracking::apply(&state.store, &event).await?;
    if matches!(effect, tracking::Effect::Applied(s) if s.is_final()) {
        state.outbox_wake.notify_one();
        let room = event
            .room
            .as_ref()
            .map(|r| r.name.as_str())
            .unwrap_or_default();
        if let Some(call) = tracking::owning_call(&state.store, room).await? {
            trunkline_core::calls::warm_transfer::caller_gone(&state.store, lk, &call.id).await?;
        }
    }
    tracing::debug!(event = %event.event, id = %event.id, ?effect, "LiveKit webhook");
    Ok(ok(
        "Webhook received",
        serde_json::json!({ "event": event.event }),
    ))
}
