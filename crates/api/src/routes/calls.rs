//! Outbound calls: queue one (idempotently), read, list, cancel, transfer; and a trunk's
//! dialing limits.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, PathId, Tenant};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use trunkline_core::calls::place::{place_call, CallRequest, Placed};
use trunkline_core::calls::render::{view, CallView};
use trunkline_core::quotas::Quota;
use trunkline_core::timefmt::iso8601;
use trunkline_domain::call::CallStatus;
use trunkline_domain::{CallId, ValidationErrors};
use trunkline_store::{CallFilter, CallRow};
use utoipa::ToSchema;

pub const NOT_FOUND: &str =
    "Call not found: check the full id (it starts with CL_) and that it belongs to this API key's account";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/call/outbound", post(create))
        .route("/calls", get(list))
        .route("/call/{id}", get(show))
        .route("/call/{id}/cancel", post(cancel))
        .route("/call/{id}/transfer", post(super::call_transfer::transfer))
        .route("/call/{id}/webhooks", get(deliveries))
        .route(
            "/sip/trunks/{trunk_id}/call-limits",
            get(super::call_limits::get_limits).put(super::call_limits::put_limits),
        )
}

/// `POST /call/outbound`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing uses OutboundCall
pub struct OutboundCallInput {
    /// AS_…
    assistant_id: String,
    /// ST_…: a provisioned twilio, telnyx or sip trunk.
    trunk_id: String,
    /// E.164.
    #[schema(example = "+14155550100")]
    to_number: String,
    /// One of the trunk's numbers (default: its first).
    from_number: Option<String>,
    /// Any JSON (at most 16 KiB): the SIP participant's metadata, and in the agent's job.
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundCall {
    assistant_id: Option<String>,
    trunk_id: Option<String>,
    to_number: Option<String>,
    from_number: Option<String>,
    metadata: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub call_id: String,
    pub status: &'static str,
}

fn accepted(call: &CallRow) -> Response {
    let status = trunkline_core::calls::render::public_status(call);
    // A replay (same Idempotency-Key) of a call already under way or over says so.
    let message = match status {
        "queued" => "Call queued".to_owned(),
        s if CallStatus::parse(&call.status).is_some_and(|c| c.is_final()) => {
            format!("Call already placed; it has ended ({s})")
        }
        s => format!("Call already placed; it is {s}"),
    };
    (
        StatusCode::ACCEPTED,
        Json(Envelope {
            success: true,
            message,
            data: Queued {
                call_id: call.id.clone(),
                status,
            },
        }),
    )
        .into_response()
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("");
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters (a UUID is a good choice)",
        ));
    }
    Ok(Some(s.to_owned()))
}

/// Queue an outbound call: 202 with the call id; the dialer dials it under the trunk's
/// limits. The same `Idempotency-Key` again returns the same call and dials nothing more.
#[utoipa::path(post, path = "/call/outbound", tag = "calls", operation_id = "create_call",
    summary = "Queue an outbound call", request_body = OutboundCallInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key again returns the same call and dials nothing more")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Call queued", body = Envelope<Queued>),
        (status = 400, description = "Invalid input", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 429, description = "A quota of this account is reached (data names it); nothing was created", body = Envelope<serde_json::Value>),
        (status = 409, description = "Idempotency-Key reused for a different request"),
        (status = 503, description = "LiveKit is not configured")))]
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request_hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
    if let Some(k) = &key {
        if let Some(existing) = state.store.call_by_idempotency_key(&tenant.id, k).await? {
            return replay(&existing, &request_hash);
        }
    }
    state.check_quota(&tenant.id, Quota::QueuedCalls).await?;
    state.require_livekit()?;
    let req: OutboundCall = from_value(body, "")?;
    let placed = place_call(
        &state,
        &tenant.id,
        CallRequest {
            assistant_id: req.assistant_id,
            trunk_id: req.trunk_id,
            to_number: req.to_number,
            from_number: req.from_number,
            metadata: req.metadata,
            idempotency_key: key,
            request_hash: request_hash.clone(),
        },
    )
    .await?;
    match placed {
        Placed::Queued(row) => Ok(accepted(&row)),
        Placed::Existing(existing) => replay(&existing, &request_hash),
    }
}

fn replay(existing: &CallRow, request_hash: &str) -> Result<Response, ApiError> {
    if existing.request_hash != request_hash {
        return Err(ApiError::Conflict(
            "Idempotency-Key was already used for a different request: use a new key for a new call".into(),
        ));
    }
    Ok(accepted(existing))
}

#[utoipa::path(get, path = "/call/{id}", tag = "calls", operation_id = "get_call",
    summary = "Show a call",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The call", body = Envelope<CallView>),
        (status = 404, description = "No such call in this account")))]
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let call = state
        .store
        .get_call(&tenant.id, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(ok("Call retrieved successfully", view(&call)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses.
    status: Option<String>,
    trunk_id: Option<String>,
    assistant_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallPage {
    pub calls: Vec<CallView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// Newest first, `limit` (1–200, default 50) per page.
#[utoipa::path(get, path = "/calls", tag = "calls", operation_id = "list_calls",
    summary = "List calls, a page at a time, newest first",
    params(
        ("status" = Option<String>, Query, description = "Comma-separated statuses"),
        ("trunk_id" = Option<String>, Query, description = "ST_…"),
        ("assistant_id" = Option<String>, Query, description = "AS_…"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = r"^[+-]?[0-9]+_CL_[0-9a-f]{32}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of calls, newest first", body = Envelope<CallPage>),
        (status = 400, description = "Invalid filter", body = Envelope<ErrorData>)))]
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))?;
    let mut errors = ValidationErrors::default();
    let mut statuses = vec![];
    for s in q
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match CallStatus::parse(s).filter(|c| *c != CallStatus::Claimed) {
            // A claimed call is shown as queued, so asking for queued finds both.
            Some(CallStatus::Queued) => statuses.extend(["queued".to_owned(), "claimed".to_owned()]),
            Some(c) => statuses.push(c.as_str().to_owned()),
            None => errors.push("status", format!("unknown status {s:?}: use queued, dialing, ringing, answered, completed, busy, no_answer, rejected, failed or cancelled")),
        }
    }
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                errors.push("limit", "must be a whole number from 1 to 200");
                50
            }
        },
    };
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(b) => Some(b),
            None => {
                errors.push("cursor", "is not a cursor this API returned");
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let rows = state
        .store
        .list_calls(
            &tenant.id,
            &CallFilter {
                statuses,
                trunk_id: q.trunk_id,
                assistant_id: q.assistant_id,
                before,
                limit: limit + 1,
            },
        )
        .await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<&CallRow> = rows.iter().take(limit as usize).collect();
    let next_cursor = more
        .then(|| page.last().map(|c| format!("{}_{}", c.created_at, c.id)))
        .flatten();
    Ok(ok(
        "Calls retrieved successfully",
        CallPage {
            calls: page.into_iter().map(view).collect(),
            next_cursor,
        },
    ))
}

/// `<created_at>_<call id>`: where a page of calls (newest first) continues.
pub(crate) fn decode_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('_')?;
    let id = CallId::parse(id)?;
    Some((at.parse().ok()?, id.to_string()))
}

/// Cancel: a queued call is never dialed; a ringing one is hung up; an answered one is ended.
#[utoipa::path(post, path = "/call/{id}/cancel", tag = "calls",
    summary = "Cancel a call (or end it, once answered)",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled (or, if answered, ended)", body = Envelope<CallView>),
        (status = 404, description = "No such call in this account"),
        (status = 409, description = "The call already ended"),
        (status = 503, description = "LiveKit unreachable: nothing changed")))]
pub async fn cancel(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let call =
        trunkline_core::calls::cancel::cancel_call(&state, &tenant.id, &id, NOT_FOUND).await?;
    // Hanging up an answered call ends it; only a call not yet answered is cancelled.
    let message = if call.status == CallStatus::Completed.as_str() {
        "Call ended"
    } else {
        "Call cancelled"
    };
    Ok(ok(message, view(&call)))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` header: the same on every retry, for deduplication.
    pub webhook_id: String,
    pub url: String,
    /// pending, delivered or failed (gave up).
    pub status: String,
    pub attempts: i64,
    pub last_http_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
}

#[utoipa::path(get, path = "/call/{id}/webhooks", tag = "calls",
    summary = "List a call's end-of-call webhook deliveries",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "End-of-call webhook deliveries", body = Envelope<Vec<DeliveryView>>),
        (status = 404, description = "No such call in this account")))]
pub async fn deliveries(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    state
        .store
        .get_call(&tenant.id, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    let rows = state.store.deliveries_for_call(&tenant.id, &id).await?;
    let views: Vec<DeliveryView> = rows
        .into_iter()
        .map(|r| DeliveryView {
            next_attempt_at: (r.status == "pending").then(|| iso8601(r.next_attempt_at)),
            webhook_id: r.id,
            url: r.url,
            status: r.status,
            attempts: r.attempts,
            last_http_status: r.last_status,
            last_error: r.last_error,
            delivered_at: r.delivered_at.map(iso8601),
        })
        .collect();
    Ok(ok(
        "End-of-call webhook deliveries retrieved successfully",
        views,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let id = CallId::generate();
        assert_eq!(
            decode_cursor(&format!("123_{id}")),
            Some((123, id.to_string()))
        );
        for bad in [
            "",
            "x",
            "123_",
            "abc_CL_1",
            "123_ST_0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad:?}");
        }
    }
}
