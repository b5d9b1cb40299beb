//! `POST /call/{id}/transfer`: cold transfer (SIP REFER) of an answered call.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, PathId, Tenant};
use crate::routes::calls::NOT_FOUND;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trunkline_core::calls::dialer::{participant_identity, room_of};
use trunkline_core::calls::render::{view, CallView};
use trunkline_domain::call::CallStatus;
use trunkline_domain::E164;
use utoipa::ToSchema;

/// `POST /call/{id}/transfer`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TransferInput {
    /// E.164 (sent as `tel:`), or a `sip:`/`sips:`/`tel:` URI.
    #[schema(example = "+15550100001")]
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: Option<String>,
}

/// `to` as LiveKit's TransferSIPParticipant wants it: an E.164 number becomes `tel:+…`; a
/// `sip:`/`sips:`/`tel:` URI passes if it has no spaces or control characters.
fn transfer_target(raw: &str) -> Result<String, ApiError> {
    let rule = "must be an E.164 number (+15550100000) or a sip:, sips: or tel: URI";
    if raw.starts_with('+') {
        return E164::parse("to", raw)
            .map(|n| format!("tel:{n}"))
            .map_err(|e| ApiError::field("to", e.message));
    }
    let lower = raw.to_ascii_lowercase();
    let body = ["sip:", "sips:", "tel:"]
        .iter()
        .find_map(|p| lower.strip_prefix(p));
    match body {
        Some(rest)
            if !rest.is_empty()
                && raw.len() <= 256
                && !raw
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>') =>
        {
            Ok(raw.to_owned())
        }
        _ => Err(ApiError::field("to", rule)),
    }
}

/// Cold transfer (SIP REFER) of the answered callee to another number or URI.
#[utoipa::path(post, path = "/call/{id}/transfer", tag = "calls", request_body = TransferInput,
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Transferred (SIP REFER accepted)", body = Envelope<CallView>),
        (status = 400, description = "Invalid target", body = Envelope<ErrorData>),
        (status = 404, description = "No such call in this account"),
        (status = 409, description = "The call is not answered"),
        (status = 502, description = "The transfer target refused, or LiveKit failed")))]
pub async fn transfer(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let body: TransferBody = from_value(body, "")?;
    let to = transfer_target(
        body.to
            .as_deref()
            .ok_or_else(|| ApiError::field("to", "is required"))?,
    )?;
    let call = state
        .store
        .get_call(&tenant.id, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    if call.status != CallStatus::Answered.as_str() {
        return Err(ApiError::Conflict(format!(
            "only an answered call can be transferred; this one is {}",
            trunkline_core::calls::render::public_status(&call)
        )));
    }
    let lk = state.require_livekit()?;
    let identity = call
        .participant_identity
        .clone()
        .unwrap_or_else(|| participant_identity(&call));
    match lk
        .transfer_sip_participant(
            &room_of(&call),
            &identity,
            &to,
            std::time::Duration::from_secs(40),
        )
        .await
    {
        Ok(()) => {}
        Err(e) => {
            if let Some(code) = trunkline_core::calls::outcome::sip_status(&e) {
                return Err(ApiError::Upstream {
                    status: StatusCode::BAD_GATEWAY,
                    message: format!("the transfer target refused the transfer (SIP {code})"),
                });
            }
            return Err(e.into());
        }
    }
    state.store.set_transferred(&call.id, &to).await?;
    let call = state
        .store
        .get_call(&tenant.id, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(ok("Call transferred successfully", view(&call)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_targets() {
        assert_eq!(transfer_target("+15550100000").unwrap(), "tel:+15550100000");
        assert_eq!(
            transfer_target("sip:agent@pbx.example.com").unwrap(),
            "sip:agent@pbx.example.com"
        );
        assert_eq!(
            transfer_target("tel:+15550100000").unwrap(),
            "tel:+15550100000"
        );
        for bad in [
            "",
            "15550100000",
            "+0123",
            "sip:",
            "http://x",
            "sip:a b@c",
            "sip:a\r\nX: y",
        ] {
            assert!(transfer_target(bad).is_err(), "{bad:?}");
        }
    }
}
