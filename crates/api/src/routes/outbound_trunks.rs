//! The REST form of the outbound trunk API, and the preferred one: `/sip/outbound-trunks`
//! and `/sip/outbound-trunks/{trunk_id}`. Bodies and answers are those of the seed-000
//! routes (which stay as they are); the list is paginated like every other list.

use crate::envelope::ok;
use crate::error::{ApiError, ErrorData};
use crate::extract::{JsonBody, Tenant};
use crate::pagination::{page, page_request};
use crate::routes::trunks;
use crate::state::AppState;
use crate::trunk_path::TrunkPath;
use crate::wire::{
    CreateOutboundTrunk, CreatedTrunk, DeletedTrunk, Envelope, PatchTrunk, TrunkDetails,
    TrunkListItem, TrunkPage,
};
use axum::extract::State;
use axum::http::{header::LOCATION, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use trunkline_core::timefmt::iso8601;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sip/outbound-trunks",
            get(list_outbound_trunks).post(create),
        )
        .route(
            "/sip/outbound-trunks/{trunk_id}",
            get(show).patch(update).delete(remove),
        )
        .route("/sip/trunks", get(to_outbound_trunks))
}

/// Create an outbound trunk: the body of `POST /sip/create-outbound-trunk`.
#[utoipa::path(post, path = "/sip/outbound-trunks", tag = "trunks", operation_id = "create_outbound_trunk_rest",
    summary = "Create an outbound trunk",
    request_body = CreateOutboundTrunk,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Trunk created", body = Envelope<CreatedTrunk>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>),
        (status = 413, description = "Body over 64 KiB", body = Envelope<Option<String>>),
        (status = 429, description = "A quota of this account is reached (data names it); nothing was created", body = Envelope<serde_json::Value>),
        (status = 502, description = "LiveKit refused trunkline's credentials or failed", body = Envelope<Option<String>>),
        (status = 503, description = "LiveKit unreachable", body = Envelope<Option<String>>)))]
pub async fn create(
    state: State<AppState>,
    tenant: Tenant,
    body: JsonBody<CreateOutboundTrunk>,
) -> Result<Response, ApiError> {
    trunks::create_outbound_trunk(state, tenant, body).await
}

/// An outbound trunk's details, as `GET /sip/trunks/{trunk_id}`.
#[utoipa::path(get, path = "/sip/outbound-trunks/{trunk_id}", tag = "trunks", operation_id = "get_outbound_trunk",
    summary = "Show an outbound trunk",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The trunk", body = Envelope<TrunkDetails>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>),
        (status = 404, description = "No such trunk for this account, deleted, or of another kind", body = Envelope<Option<String>>)))]
pub async fn show(
    state: State<AppState>,
    tenant: Tenant,
    id: TrunkPath,
) -> Result<Response, ApiError> {
    trunks::get_trunk(state, tenant, id).await
}

/// Change an outbound trunk, as `PATCH /sip/trunks/{trunk_id}`.
#[utoipa::path(patch, path = "/sip/outbound-trunks/{trunk_id}", tag = "trunks", operation_id = "patch_outbound_trunk",
    summary = "Change an outbound trunk",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    request_body = PatchTrunk,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated trunk", body = Envelope<TrunkDetails>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>),
        (status = 404, description = "No such trunk for this account", body = Envelope<Option<String>>),
        (status = 409, description = "Changed concurrently", body = Envelope<Option<String>>),
        (status = 502, description = "LiveKit failed", body = Envelope<Option<String>>),
        (status = 503, description = "LiveKit unreachable", body = Envelope<Option<String>>)))]
pub async fn update(
    state: State<AppState>,
    tenant: Tenant,
    id: TrunkPath,
    body: JsonBody<PatchTrunk>,
) -> Result<Response, ApiError> {
    trunks::patch_trunk(state, tenant, id, body).await
}

/// Delete an outbound trunk, as `DELETE /sip/trunks/{trunk_id}`.
#[utoipa::path(delete, path = "/sip/outbound-trunks/{trunk_id}", tag = "trunks", operation_id = "delete_outbound_trunk",
    summary = "Delete an outbound trunk",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Envelope<DeletedTrunk>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>),
        (status = 404, description = "No such trunk for this account (or already deleted)", body = Envelope<Option<String>>),
        (status = 409, description = "A number setup (POST /numbers) made this trunk: DELETE /numbers/{id} removes it", body = Envelope<Option<String>>),
        (status = 502, description = "LiveKit failed", body = Envelope<Option<String>>),
        (status = 503, description = "LiveKit unreachable; nothing was changed", body = Envelope<Option<String>>)))]
pub async fn remove(
    state: State<AppState>,
    tenant: Tenant,
    id: TrunkPath,
) -> Result<Response, ApiError> {
    trunks::delete_trunk(state, tenant, id).await
}

/// A page of the caller's outbound trunks, oldest first.
#[utoipa::path(get, path = "/sip/outbound-trunks", tag = "trunks",
    summary = "List outbound trunks, a page at a time",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = r"^[+-]?[0-9]+_[A-Za-z0-9_]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of trunks", body = Envelope<TrunkPage>),
        (status = 400, description = "Invalid limit, cursor or an unknown query parameter", body = Envelope<ErrorData>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>)))]
pub async fn list_outbound_trunks(
    State(state): State<AppState>,
    tenant: Tenant,
    uri: Uri,
) -> Result<Response, ApiError> {
    let request = page_request(uri.query())?;
    let list = state.store.list_outbound_trunks(&tenant.id).await?;
    let (items, next_cursor) = page(list.iter().collect(), &request, |t| {
        (t.created_at, t.id.as_str())
    });
    let trunks = items
        .into_iter()
        .map(|t| TrunkListItem {
            trunk_id: t.id.clone(),
            trunk_name: t.name.clone(),
            trunk_type: t.trunk_type.clone(),
            trunk_created_at: iso8601(t.created_at),
        })
        .collect();
    Ok(ok(
        "Outbound trunks retrieved successfully",
        TrunkPage {
            trunks,
            next_cursor,
        },
    ))
}

/// `GET /sip/trunks` is where a REST client looks first; it is sent on to the list (308
/// keeps the method and the query).
#[utoipa::path(get, path = "/sip/trunks", tag = "trunks",
    summary = "Redirect to GET /sip/outbound-trunks",
    responses((status = 308, description = "See /sip/outbound-trunks (query kept)")))]
pub async fn to_outbound_trunks(uri: Uri) -> Response {
    let target = match uri.query() {
        Some(q) => format!("/sip/outbound-trunks?{q}"),
        None => "/sip/outbound-trunks".to_owned(),
    };
    (StatusCode::PERMANENT_REDIRECT, [(LOCATION, target)]).into_response()
}
