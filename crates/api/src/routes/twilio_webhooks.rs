//! `POST /twilio/{provider_account_id}/{voice|voice-fallback|status|sms|sms-fallback|recording}`:
//! Twilio's webhooks. No API key: the `X-Twilio-Signature` proves the sender. A missing or
//! wrong signature gets 403 and nothing is recorded; verified requests are rate-limited per
//! account.

use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use trunkline_core::provider_accounts::twilio_webhooks::{Refusal, WebhookRequest, KINDS};
use trunkline_providers::twilio::signature::{SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER};

pub fn routes() -> Router<AppState> {
    Router::new().route("/twilio/{account_id}/{kind}", post(receive))
}

/// Past this many accounts remembered, full buckets are dropped.
const FORGET_FULL_BUCKETS_PAST: usize = 10_000;

/// Verified webhook requests per account, per instance: a token bucket each.
pub struct WebhookLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    per_minute: NonZeroU32,
}

impl WebhookLimit {
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            per_minute,
        }
    }

    fn check(&self, account_id: &str) -> Result<(), ApiError> {
        if self.limiter.len() > FORGET_FULL_BUCKETS_PAST {
            self.limiter.retain_recent();
        }
        let Err(not_until) = self.limiter.check_key(&account_id.to_owned()) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let retry_after = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        Err(ApiError::TooManyRequests {
            message: format!(
                "Too many webhook requests for this provider account: {} a minute are accepted; retry in {retry_after} s",
                self.per_minute
            ),
            data: serde_json::json!({
                "limit": "twilio_webhooks_per_minute",
                "per_minute": self.per_minute.get(),
                "retry_after_secs": retry_after,
            }),
            retry_after: Some(retry_after),
        })
    }
}

impl Default for WebhookLimit {
    fn default() -> Self {
        Self::per_minute(NonZeroU32::new(600).expect("non-zero"))
    }
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(Envelope {
            success: false,
            message,
            data: serde_json::Value::Null,
        }),
    )
        .into_response()
}

/// Twilio's webhooks to a provider account. `voice` answers TwiML dialing the called
/// number's LiveKit inbound trunk (`<Dial><Sip>`), `voice-fallback` a short apology; the
/// others answer an empty `<Response/>`. Every verified request is recorded (see
/// `GET /provider-accounts/{id}/events`).
#[utoipa::path(post, path = "/twilio/{account_id}/{kind}", tag = "providers",
    summary = "Receive a Twilio webhook", operation_id = "receive_twilio_webhook",
    request_body(content = std::collections::HashMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "Twilio's parameters (or a JSON body, with bodySHA256 in the query)"),
    params(("account_id" = String, Path, description = "PA_… of a Twilio account"),
        ("kind" = String, Path, description = "voice, voice-fallback, status, sms, sms-fallback or recording")),
    responses(
        (status = 200, description = "TwiML", content_type = "text/xml"),
        (status = 403, description = "Missing or wrong X-Twilio-Signature; nothing recorded"),
        (status = 404, description = "No such Twilio provider account, or no such endpoint"),
        (status = 429, description = "Over the account's webhook rate; nothing recorded"),
        (status = 503, description = "TRUNKLINE_PUBLIC_URL is not set")))]
pub async fn receive(
    State(state): State<AppState>,
    Path((account_id, kind)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !KINDS.contains(&kind.as_str()) {
        return Err(ApiError::NotFound(
            "No such Twilio webhook: the endpoints are voice, voice-fallback, status, sms, sms-fallback and recording",
        ));
    }
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    let req = WebhookRequest {
        path_and_query,
        content_type: header_str(header::CONTENT_TYPE.as_str()),
        body: &body,
        signature: header_str(SIGNATURE_HEADER),
        signature_settings: header_str(SIGNATURE_SETTINGS_HEADER),
    };
    let row = match state.verify_twilio_webhook(&account_id, &req).await {
        Ok(row) => row,
        Err(Refusal::UnknownAccount) => {
            return Err(ApiError::NotFound(
                "No such Twilio provider account: the webhook URL must name a PA_… id of a Twilio account",
            ))
        }
        Err(Refusal::NoPublicUrl) => {
            return Ok(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Twilio webhooks cannot be verified: TRUNKLINE_PUBLIC_URL is not set on this trunkline".into(),
            ))
        }
        Err(Refusal::Signature(why)) => {
            tracing::warn!(account = %account_id, kind, why, "Twilio webhook refused");
            return Ok(refuse(
                StatusCode::FORBIDDEN,
                format!("Twilio signature rejected: {why}"),
            ));
        }
    };
    state.twilio_webhooks.check(&row.id)?;
    let twiml = state.handle_twilio_webhook(&row, &kind, &req).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        twiml,
    )
        .into_response())
}
