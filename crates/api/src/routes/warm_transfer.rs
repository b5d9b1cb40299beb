//! Warm transfer of an answered call (`/call/{id}/warm-transfer…`): the agent consults the
//! target in a room of its own, then `complete` hands the caller over, or `cancel` hangs up
//! the consultation. How it runs: `trunkline_core::calls::warm_transfer`.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, PathId, Tenant};
use crate::routes::calls::NOT_FOUND;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trunkline_core::calls::warm_transfer_requests as wtr;
use trunkline_core::timefmt::iso8601;
use trunkline_store::WarmTransferRow;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/call/{id}/warm-transfer", post(start))
        .route("/call/{id}/warm-transfer/complete", post(complete))
        .route("/call/{id}/warm-transfer/cancel", post(cancel))
        .route("/call/{id}/warm-transfers", get(list))
}

/// `POST /call/{id}/warm-transfer`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing uses WarmBody
pub struct WarmTransferInput {
    /// E.164, a `tel:` URI, or a `sip:` URI whose user part is dialed over the call's
    /// outbound trunk (an extension of the trunk's PBX).
    #[schema(example = "+15550100001")]
    to: String,
    /// The agent that consults the target (default: the call's own agent).
    agent_name: Option<String>,
    /// Any JSON (at most 16 KiB), passed to the agent in its job metadata.
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarmBody {
    to: Option<String>,
    agent_name: Option<String>,
    metadata: Option<Value>,
}

/// One warm transfer of a call.
#[derive(Serialize, ToSchema)]
pub struct WarmTransferView {
    /// WT_…
    pub transfer_id: String,
    pub call_id: String,
    pub to: String,
    pub agent_name: String,
    /// The consultation room as the tenant names it.
    pub room_name: String,
    /// dialing, consulting, completed or ended.
    pub status: String,
    /// Once over: accepted, declined, busy, no_answer, failed or cancelled.
    pub outcome: Option<String>,
    pub sip_status_code: Option<i64>,
    pub error: Option<String>,
    pub created_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
}

fn view(t: &WarmTransferRow) -> WarmTransferView {
    WarmTransferView {
        transfer_id: t.id.clone(),
        call_id: t.call_id.clone(),
        to: t.target.clone(),
        agent_name: t.agent_name.clone(),
        room_name: trunkline_core::rooms::tenant_room(&t.tenant_id, &t.room)
            .unwrap_or(&t.room)
            .to_owned(),
        status: t.status.clone(),
        outcome: t.outcome.clone(),
        sip_status_code: t.sip_status_code,
        error: t.error.clone(),
        created_at: iso8601(t.created_at),
        answered_at: t.answered_at.map(iso8601),
        ended_at: t.ended_at.map(iso8601),
    }
}

/// Starts a warm transfer: a consultation room, the agent dispatched into it, the target
/// dialed into it. Answers at once; the transfer's progress shows in
/// `GET /call/{id}/warm-transfers`.
#[utoipa::path(post, path = "/call/{id}/warm-transfer", tag = "calls", operation_id = "start_warm_transfer", request_body = WarmTransferInput,
    summary = "Start a warm transfer of an answered call",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Dialing the target in the background", body = Envelope<WarmTransferView>),
        (status = 400, description = "Invalid field", body = Envelope<ErrorData>),
        (status = 404, description = "No such call in this account", body = Envelope<ErrorData>),
        (status = 409, description = "The call is not answered, or a transfer is already in progress", body = Envelope<ErrorData>),
        (status = 503, description = "LiveKit is not configured", body = Envelope<ErrorData>)))]
pub async fn start(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let body: WarmBody = from_value(body, "")?;
    let input = wtr::StartInput {
        to: body.to,
        agent_name: body.agent_name,
        metadata: body.metadata,
    };
    let t = wtr::start(&state, &tenant.id, &id, input, NOT_FOUND).await?;
    Ok((
        StatusCode::ACCEPTED,
        ok("Warm transfer started: dialing the target", view(&t)),
    )
        .into_response())
}

/// Hands the caller over: the target moves into the caller's room, the agent leaves it, and
/// the consultation room closes.
#[utoipa::path(post, path = "/call/{id}/warm-transfer/complete", tag = "calls", operation_id = "complete_warm_transfer",
    summary = "Complete the warm transfer: connect the target with the caller",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Transferred", body = Envelope<WarmTransferView>),
        (status = 404, description = "No such call in this account", body = Envelope<ErrorData>),
        (status = 409, description = "No transfer is consulting (none open, still dialing, or the target left), or the call is not answered", body = Envelope<ErrorData>),
        (status = 502, description = "LiveKit failed; the transfer is still consulting and can be completed again", body = Envelope<ErrorData>)))]
pub async fn complete(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let done = wtr::complete(&state, &tenant.id, &id, NOT_FOUND).await?;
    Ok(ok("Warm transfer completed", view(&done)).into_response())
}

/// Hangs up the consultation: the target's leg and the consultation room end; the caller
/// stays with the agent.
#[utoipa::path(post, path = "/call/{id}/warm-transfer/cancel", tag = "calls", operation_id = "cancel_warm_transfer",
    summary = "Cancel the warm transfer in progress",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled", body = Envelope<WarmTransferView>),
        (status = 404, description = "No such call in this account", body = Envelope<ErrorData>),
        (status = 409, description = "No warm transfer in progress", body = Envelope<ErrorData>)))]
pub async fn cancel(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let done = wtr::cancel(&state, &tenant.id, &id, NOT_FOUND).await?;
    Ok(ok("Warm transfer cancelled", view(&done)).into_response())
}

/// The call's warm transfers, oldest first, each with its status, timestamps and outcome.
#[utoipa::path(get, path = "/call/{id}/warm-transfers", tag = "calls", operation_id = "list_warm_transfers",
    summary = "List a call's warm transfers",
    params(("id" = String, Path, description = "CL_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The call's warm transfers", body = Envelope<Vec<WarmTransferView>>),
        (status = 404, description = "No such call in this account", body = Envelope<ErrorData>)))]
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let all = wtr::list(&state, &tenant.id, &id, NOT_FOUND).await?;
    let views: Vec<WarmTransferView> = all.iter().map(view).collect();
    Ok(ok("Warm transfers", views).into_response())
}
