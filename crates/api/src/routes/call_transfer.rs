//! `POST /call/{id}/transfer`: cold transfer (SIP REFER) of an answered call.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, PathId, Tenant};
use crate::routes::calls::NOT_FOUND;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trunkline_core::calls::render::{view, CallView};
use trunkline_core::calls::transfer::{transfer_call, transfer_target};
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
    let call = transfer_call(&state, &tenant.id, &id, &to, NOT_FOUND).await?;
    Ok(ok("Call transferred successfully", view(&call)))
}
