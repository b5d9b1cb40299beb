//! Provider accounts: a tenant's Twilio, Exotel and Telnyx accounts, their numbers, and the
//! webhook events their providers sent.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{JsonBody, PathId, Tenant};
use crate::pagination::{encode_cursor, page_request};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use trunkline_core::provider_accounts::{AccountView, NumberView};
use trunkline_core::timefmt::iso8601;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/provider-accounts", get(list).post(create))
        .route("/provider-accounts/{id}", get(show).delete(remove))
        .route("/provider-accounts/{id}/numbers", get(numbers))
        .route("/provider-accounts/{id}/events", get(events))
}

/// The body of `POST /provider-accounts`: `provider`, `name`, and that provider's
/// credentials (Twilio: `account_sid` with `auth_token`, or with `api_key_sid` and
/// `api_key_secret`; Exotel: `account_sid`, `api_key`, `api_token`, `subdomain`; Telnyx:
/// `api_key`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing is the service layer's
pub struct ProviderAccountInput {
    #[schema(example = "twilio")]
    provider: String,
    name: String,
    account_sid: Option<String>,
    auth_token: Option<String>,
    api_key_sid: Option<String>,
    api_key_secret: Option<String>,
    api_key: Option<String>,
    api_token: Option<String>,
    #[schema(example = "api.in.exotel.com")]
    subdomain: Option<String>,
}

/// Add an account. Its credentials are checked with the provider first (one authenticated
/// read); a refusal is a 400 naming the provider, its error code and message, and nothing
/// is stored. Credentials are sealed and never returned.
#[utoipa::path(post, path = "/provider-accounts", tag = "providers",
    summary = "Add a provider account", operation_id = "create_provider_account", request_body = ProviderAccountInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Account added", body = Envelope<AccountView>),
        (status = 400, description = "Invalid input, or the provider refused the credentials", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 502, description = "The provider answered unexpectedly; nothing was stored"),
        (status = 503, description = "The provider could not be reached; nothing was stored")))]
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let account = state.create_provider_account(&tenant.id, body).await?;
    Ok(ok(
        "Provider account added: its credentials are stored sealed and are not shown again.",
        account,
    ))
}

#[utoipa::path(get, path = "/provider-accounts", tag = "providers",
    summary = "List provider accounts", operation_id = "list_provider_accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's provider accounts", body = Envelope<Vec<AccountView>>),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list(State(state): State<AppState>, tenant: Tenant) -> Result<Response, ApiError> {
    Ok(ok(
        "Provider accounts",
        state.list_provider_accounts(&tenant.id).await?,
    ))
}

#[utoipa::path(get, path = "/provider-accounts/{id}", tag = "providers",
    summary = "Show a provider account", operation_id = "show_provider_account",
    params(("id" = String, Path, description = "PA_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Provider account", body = Envelope<AccountView>),
        (status = 404, description = "No such provider account in this account")))]
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let row = state.provider_account(&tenant.id, &id).await?;
    Ok(ok("Provider account", state.provider_account_view(&row)?))
}

/// Forget an account. Nothing at the provider is changed.
#[utoipa::path(delete, path = "/provider-accounts/{id}", tag = "providers",
    summary = "Delete a provider account", operation_id = "delete_provider_account",
    params(("id" = String, Path, description = "PA_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Provider account deleted"),
        (status = 404, description = "No such provider account in this account"),
        (status = 409, description = "A trunk uses the account")))]
pub async fn remove(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    state.delete_provider_account(&tenant.id, &id).await?;
    Ok(ok(
        "Provider account deleted",
        serde_json::json!({ "provider_account_id": id }),
    ))
}

/// The account's numbers at the provider (Twilio IncomingPhoneNumbers, Exotel ExoPhones,
/// Telnyx phone numbers), each with the trunkline trunks that use it.
#[utoipa::path(get, path = "/provider-accounts/{id}/numbers", tag = "providers",
    summary = "List the account's numbers at the provider", operation_id = "list_provider_numbers",
    params(("id" = String, Path, description = "PA_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Numbers", body = Envelope<Vec<NumberView>>),
        (status = 404, description = "No such provider account in this account"),
        (status = 503, description = "The provider could not be reached")))]
pub async fn numbers(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    Ok(ok(
        "Provider numbers",
        state.provider_numbers(&tenant.id, &id).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub event_id: String,
    /// The endpoint it came to: `voice`, `voice-fallback`, `status`, `sms`, `sms-fallback`
    /// or `recording`.
    pub kind: String,
    /// Twilio's `CallSid`, which ties the events of one call together.
    pub call_sid: Option<String>,
    /// The request's parameters as the provider sent them.
    pub params: Value,
    pub received_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Webhook events the provider sent about this account (verified ones only), oldest first.
/// `call_sid` keeps the events of one call: its voice request, status callbacks and
/// recordings.
#[utoipa::path(get, path = "/provider-accounts/{id}/events", tag = "providers",
    summary = "List the webhook events of an account", operation_id = "list_provider_events",
    params(("id" = String, Path, description = "PA_…"),
        ("limit" = Option<usize>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("call_sid" = Option<String>, Query, description = "Only the events of this Twilio call")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events", body = Envelope<EventPage>),
        (status = 400, description = "Bad limit or cursor", body = Envelope<ErrorData>),
        (status = 404, description = "No such provider account in this account")))]
pub async fn events(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request = page_request(query.as_deref())?;
    let call_sid = form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "call_sid")
        .map(|(_, v)| v.into_owned());
    if call_sid
        .as_deref()
        .is_some_and(|c| c.is_empty() || c.len() > 64)
    {
        return Err(ApiError::field(
            "call_sid",
            "must be a Twilio CallSid (CA followed by 32 hex digits)",
        ));
    }
    let row = state.provider_account(&tenant.id, &id).await?;
    let after = request.after.as_ref().map(|(at, id)| (*at, id.as_str()));
    let mut rows = state
        .store
        .list_provider_events(
            &row.id,
            call_sid.as_deref(),
            after,
            request.limit as i64 + 1,
        )
        .await?;
    let more = rows.len() > request.limit;
    rows.truncate(request.limit);
    let next_cursor = more
        .then(|| rows.last().map(|r| encode_cursor(r.received_at, &r.id)))
        .flatten();
    let events = rows
        .into_iter()
        .map(|r| EventView {
            params: serde_json::from_str(&r.params).unwrap_or(Value::Null),
            event_id: r.id,
            kind: r.kind,
            call_sid: r.call_sid,
            received_at: iso8601(r.received_at),
        })
        .collect();
    Ok(ok(
        "Provider events",
        EventPage {
            events,
            next_cursor,
        },
    ))
}
