//! `POST/GET /numbers`, `GET/DELETE /numbers/{id}`: one number of a provider account set up
//! end to end (see `trunkline_core::provider_accounts::numbers`).

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{JsonBody, PathId, Tenant};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use trunkline_core::provider_accounts::numbers::NumberSetup;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/numbers", get(list).post(create))
        .route("/numbers/{id}", get(show).delete(remove))
}

/// The body of `POST /numbers`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing is the service layer's
pub struct NumberInput {
    /// A Twilio or Telnyx provider account (`PA_…`).
    provider_account_id: String,
    /// An E.164 number of that account, on no Twilio trunk (Telnyx connection) yet.
    #[schema(example = "+15550100000")]
    number: String,
    /// The assistant (`AS_…`) whose agent answers the number's calls.
    assistant_id: String,
    /// `inbound`, `outbound` or `both`.
    #[schema(example = "both")]
    direction: String,
}

/// Set a number up in one call: for `outbound`, a trunk made at the provider and in LiveKit;
/// for `inbound`, the provider sending the number's calls to LiveKit, an inbound trunk and a
/// dispatch rule to the assistant's agent; `both`, all of it (at Twilio on one trunk; at
/// Telnyx the number on the inbound connection, the outbound one using it as caller id).
/// The same body again answers the same setup (200, nothing made). A failure undoes what was
/// made.
#[utoipa::path(post, path = "/numbers", tag = "providers",
    summary = "Set a number up end to end", operation_id = "create_number", request_body = NumberInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Set up (or already set up by the same request)", body = Envelope<NumberSetup>),
        (status = 400, description = "Invalid input, or the provider or LiveKit refused it; nothing was made", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 409, description = "The number is already set up differently, or on a Twilio trunk or Telnyx connection trunkline did not make"),
        (status = 502, description = "The provider or LiveKit failed; nothing was made"),
        (status = 503, description = "The provider or LiveKit could not be reached; nothing was made")))]
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (setup, made) = state.create_number(&tenant.id, body).await?;
    tracing::info!(number_id = %setup.number_id, made, "number set up");
    let message = if made {
        "Number set up"
    } else {
        "Number already set up by the same request"
    };
    Ok(ok(message, setup))
}

#[utoipa::path(get, path = "/numbers", tag = "providers",
    summary = "List set-up numbers", operation_id = "list_numbers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's number setups", body = Envelope<Vec<NumberSetup>>),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list(State(state): State<AppState>, tenant: Tenant) -> Result<Response, ApiError> {
    Ok(ok("Numbers", state.numbers(&tenant.id).await?))
}

#[utoipa::path(get, path = "/numbers/{id}", tag = "providers",
    summary = "Show a number setup", operation_id = "show_number",
    params(("id" = String, Path, description = "NB_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The setup", body = Envelope<NumberSetup>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such number setup in this account")))]
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    Ok(ok("Number", state.number(&tenant.id, &id).await?))
}

/// Remove exactly what the setup made (the rule, the trunks, their Twilio side), then the
/// setup. An outage answers its error; a second delete finishes.
#[utoipa::path(delete, path = "/numbers/{id}", tag = "providers",
    summary = "Delete a number setup", operation_id = "delete_number",
    params(("id" = String, Path, description = "NB_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Removed"),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such number setup in this account"),
        (status = 502, description = "The provider or LiveKit failed"),
        (status = 503, description = "The provider or LiveKit could not be reached")))]
pub async fn remove(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    state.delete_number(&tenant.id, &id).await?;
    Ok(ok("Number removed", serde_json::json!({ "number_id": id })))
}
