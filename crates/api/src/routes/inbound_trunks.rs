//! Inbound trunks: `POST/GET /sip/inbound-trunks`, `GET/PATCH/DELETE
//! /sip/inbound-trunks/{trunk_id}`. A create takes trunkline's snake_case fields, or the
//! `{"trunk": {…}}` file of `lk sip inbound create` (seed 002) verbatim.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, json_object, merge_patch, JsonBody, Tenant};
use crate::pagination::{page_request, page_shown};
use crate::state::AppState;
use crate::trunk_path::{owned_inbound_trunk, TrunkPath};
use crate::wire::Provisioning;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trunkline_core::provisioning::{inbound, status};
use trunkline_core::quotas::Quota;
use trunkline_core::timefmt::iso8601;
use trunkline_domain::inbound::{InboundTrunkConfig, RawInboundTrunk};
use trunkline_domain::lk_json::LkInboundTrunkFile;
use trunkline_domain::{FieldError, ValidationErrors};
use trunkline_store::InboundTrunkRow;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sip/inbound-trunks",
            get(list_inbound_trunks).post(create_inbound_trunk),
        )
        .route(
            "/sip/inbound-trunks/{trunk_id}",
            get(get_inbound_trunk)
                .patch(patch_inbound_trunk)
                .delete(delete_inbound_trunk),
        )
}

pub use crate::trunk_path::INBOUND_NOT_FOUND as NOT_FOUND;

/// `POST /sip/inbound-trunks` in trunkline's snake_case (LiveKit's `SIPInboundTrunkInfo`).
/// The `{"trunk": {…}}` file of `lk sip inbound create` is accepted as well.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing uses the domain's raw types
pub struct CreateInboundTrunk {
    /// 1–100 characters after trimming.
    #[schema(example = "Twilio Inbound SIP Trunk")]
    name: String,
    /// E.164 numbers this trunk receives calls for.
    #[schema(example = json!(["+13074606119"]))]
    numbers: Option<Vec<String>>,
    /// A Twilio or Telnyx provider account (`PA_…`): trunkline also makes the provider side
    /// (Twilio: an Elastic SIP trunk whose origination URL is `LIVEKIT_SIP_URI`; Telnyx: an
    /// FQDN connection whose FQDN is `LIVEKIT_SIP_URI`'s host; `numbers` routed to it), shown
    /// as `provider` in the answer. For Exotel accounts the 400 says which console steps to
    /// take instead.
    provider_account_id: Option<String>,
    /// IPs or CIDR networks calls may come from (`203.0.113.0/24`).
    allowed_addresses: Option<Vec<String>>,
    /// E.164 numbers of the callers this trunk accepts (all when empty).
    allowed_numbers: Option<Vec<String>>,
    /// Digest credentials the provider must present (1–128 characters each, as a pair).
    auth_username: Option<String>,
    /// Sealed at rest, never returned.
    auth_password: Option<String>,
    krisp_enabled: Option<bool>,
    /// Seconds (1–600).
    #[schema(minimum = 1, maximum = 600)]
    ringing_timeout: Option<u64>,
    /// Seconds (1–86400).
    #[schema(minimum = 1, maximum = 86400)]
    max_call_duration: Option<u64>,
    /// `disabled` (default), `allowed` or `required`.
    media_encryption: Option<String>,
}

/// `PATCH /sip/inbound-trunks/{trunk_id}`: any fields of the create; a field left out keeps
/// its value, `null` clears an optional one. The whole result is validated again.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PatchInboundTrunk {
    name: Option<String>,
    numbers: Option<Vec<String>>,
    allowed_addresses: Option<Vec<String>>,
    allowed_numbers: Option<Vec<String>>,
    auth_username: Option<String>,
    auth_password: Option<String>,
    krisp_enabled: Option<bool>,
    #[schema(minimum = 1, maximum = 600)]
    ringing_timeout: Option<u64>,
    #[schema(minimum = 1, maximum = 86400)]
    max_call_duration: Option<u64>,
    media_encryption: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundTrunkDetails {
    #[schema(example = "ST_a1b2c3d4e5f60718293a4b5c6d7e8f90")]
    pub trunk_id: String,
    pub name: String,
    pub numbers: Vec<String>,
    pub allowed_addresses: Vec<String>,
    pub allowed_numbers: Vec<String>,
    pub auth_username: Option<String>,
    /// Whether a password is stored (it is never returned).
    pub auth_password_set: bool,
    pub krisp_enabled: bool,
    pub ringing_timeout: Option<u64>,
    pub max_call_duration: Option<u64>,
    pub media_encryption: String,
    pub livekit_trunk_id: Option<String>,
    pub provisioning: Provisioning,
    /// UTC, `2024-01-15T10:00:00.000000`.
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /sip/inbound-trunks`: one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundTrunkPage {
    pub trunks: Vec<InboundTrunkDetails>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedInboundTrunk {
    pub trunk_id: String,
}

/// The stored public configuration, as `inbound::public_json` writes it.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Stored {
    numbers: Vec<String>,
    allowed_addresses: Vec<String>,
    allowed_numbers: Vec<String>,
    auth_username: Option<String>,
    krisp_enabled: bool,
    ringing_timeout: Option<u64>,
    max_call_duration: Option<u64>,
    media_encryption: String,
}

fn details(state: &AppState, row: &InboundTrunkRow) -> Result<InboundTrunkDetails, ApiError> {
    let s: Stored = serde_json::from_str(&row.config)
        .map_err(|e| ApiError::internal(format!("inbound trunk {} config: {e}", row.id)))?;
    Ok(InboundTrunkDetails {
        trunk_id: row.id.clone(),
        name: row.name.clone(),
        numbers: s.numbers,
        allowed_addresses: s.allowed_addresses,
        allowed_numbers: s.allowed_numbers,
        auth_username: s.auth_username,
        auth_password_set: inbound::has_password(row),
        krisp_enabled: s.krisp_enabled,
        ringing_timeout: s.ringing_timeout,
        max_call_duration: s.max_call_duration,
        media_encryption: s.media_encryption,
        livekit_trunk_id: row.livekit_trunk_id.clone(),
        provisioning: Provisioning::of(row, status::describe(row.status, state.livekit.is_some())),
        created_at: iso8601(row.created_at),
        updated_at: iso8601(row.updated_at),
    })
}

/// Field paths of the `lk` file are under `trunk.`.
fn under(prefix: &str, e: ValidationErrors) -> ApiError {
    ValidationErrors(
        e.0.into_iter()
            .map(|f| FieldError::new(format!("{prefix}.{}", f.field), f.message))
            .collect(),
    )
    .into()
}

pub(crate) fn parse_create(body: Value) -> Result<(String, InboundTrunkConfig), ApiError> {
    let Value::Object(map) = &body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if map.contains_key("trunk") {
        let file: LkInboundTrunkFile = from_value(body, "")?;
        let raw = file
            .trunk
            .into_raw()
            .map_err(|e| ApiError::from(ValidationErrors::from(e)))?;
        return raw.validate().map_err(|e| under("trunk", e));
    }
    let raw: RawInboundTrunk = from_value(body, "")?;
    Ok(raw.validate()?)
}

/// Create an inbound trunk and provision it in LiveKit.
#[utoipa::path(post, path = "/sip/inbound-trunks", tag = "inbound",
    request_body = crate::openapi::livekit_inputs::InboundTrunkCreateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Inbound trunk created", body = Envelope<InboundTrunkDetails>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 429, description = "A quota of this account is reached (data names it); nothing was created", body = Envelope<serde_json::Value>),
        (status = 409, description = "A number is already served by another trunk (yours: named; another account's: not)"),
        (status = 502, description = "LiveKit refused trunkline's credentials or failed"),
        (status = 503, description = "LiveKit unreachable")))]
pub async fn create_inbound_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    state.check_quota(&tenant.id, Quota::InboundTrunks).await?;
    if let Some(account_id) = automated(&body)? {
        return create_automated(&state, &tenant, body, &account_id).await;
    }
    let (name, config) = parse_create(body)?;
    let created = state
        .provisioner
        .create_inbound(&tenant.id, &name, &config)
        .await?;
    let row = owned_inbound_trunk(&state, &tenant, &created.id).await?;
    tracing::info!(trunk_id = %row.id, status = %row.status, "inbound trunk created");
    Ok(ok(
        "Inbound trunk created successfully",
        details(&state, &row)?,
    ))
}

/// The `provider_account_id` of a create that asks for the provider side too.
fn automated(body: &Value) -> Result<Option<String>, ApiError> {
    match body.get("provider_account_id") {
        None => Ok(None),
        Some(Value::String(id)) => Ok(Some(id.clone())),
        Some(_) => Err(ApiError::field(
            "provider_account_id",
            "must be a string (PA_…)",
        )),
    }
}

/// `POST /sip/inbound-trunks` with `provider_account_id`: the provider routes the numbers
/// to LiveKit, then LiveKit's inbound trunk is made (see `provider_accounts::sides`).
async fn create_automated(
    state: &AppState,
    tenant: &Tenant,
    mut body: Value,
    account_id: &str,
) -> Result<Response, ApiError> {
    if let Value::Object(m) = &mut body {
        m.remove("provider_account_id");
    }
    let (name, config) = parse_create(body)?;
    let (created, side) = state
        .create_automated_inbound(&tenant.id, &name, account_id, &config)
        .await?;
    let row = owned_inbound_trunk(state, tenant, &created.id).await?;
    tracing::info!(trunk_id = %row.id, status = %row.status, "inbound trunk created at the provider and LiveKit");
    Ok(ok(
        "Inbound trunk created successfully",
        crate::routes::provider_trunks::with_provider(details(state, &row)?, side)?,
    ))
}

/// An inbound trunk's details, with its provider side when trunkline made one.
async fn shown(state: &AppState, row: &InboundTrunkRow) -> Result<Value, ApiError> {
    let d = details(state, row)?;
    match state.inbound_provider_side(row).await? {
        Some(side) => crate::routes::provider_trunks::with_provider(d, side),
        None => serde_json::to_value(d).map_err(ApiError::internal),
    }
}

/// List inbound trunks, a page at a time, oldest first (never any secret).
#[utoipa::path(get, path = "/sip/inbound-trunks", tag = "inbound",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = r"^[+-]?[0-9]+_[A-Za-z0-9_]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of inbound trunks", body = Envelope<InboundTrunkPage>),
        (status = 400, description = "Invalid limit, cursor or an unknown query parameter"),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list_inbound_trunks(
    State(state): State<AppState>,
    tenant: Tenant,
    uri: Uri,
) -> Result<Response, ApiError> {
    let request = page_request(uri.query())?;
    let rows = state.store.inbound_trunks().list(&tenant.id).await?;
    let (trunks, next_cursor) = page_shown(
        &rows,
        &request,
        |r| (r.created_at, r.id.as_str()),
        |r| details(&state, r),
    )?;
    Ok(ok(
        "Inbound trunks retrieved successfully",
        InboundTrunkPage {
            trunks,
            next_cursor,
        },
    ))
}

/// An inbound trunk's configuration (without the password) and provisioning status.
#[utoipa::path(get, path = "/sip/inbound-trunks/{trunk_id}", tag = "inbound",
    params(("trunk_id" = String, Path, description = "The inbound trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The inbound trunk", body = Envelope<InboundTrunkDetails>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such inbound trunk for this account")))]
pub async fn get_inbound_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(id): TrunkPath,
) -> Result<Response, ApiError> {
    let row = owned_inbound_trunk(&state, &tenant, &id).await?;
    Ok(ok(
        "Inbound trunk retrieved successfully",
        shown(&state, &row).await?,
    ))
}

/// Change an inbound trunk; LiveKit is updated before the change is saved.
#[utoipa::path(patch, path = "/sip/inbound-trunks/{trunk_id}", tag = "inbound",
    params(("trunk_id" = String, Path, description = "The inbound trunk id (ST_…)")),
    request_body = PatchInboundTrunk,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = Envelope<InboundTrunkDetails>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such inbound trunk for this account"),
        (status = 409, description = "A number conflict, or changed concurrently"),
        (status = 502, description = "LiveKit failed"),
        (status = 503, description = "LiveKit unreachable; nothing was changed")))]
pub async fn patch_inbound_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(id): TrunkPath,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let row = owned_inbound_trunk(&state, &tenant, &id).await?;
    let patch = json_object(body)?;
    let merged = inbound::current_raw(&state.keyring, &row)?;
    let raw: RawInboundTrunk = from_value(merge_patch(merged, patch), "")?;
    let (name, config) = raw.validate()?;
    match state.store.provider_trunk_of(&row.id).await? {
        Some(side) => {
            state
                .update_automated_inbound(&row, &side, &name, &config)
                .await?
        }
        None => {
            state
                .provisioner
                .update_inbound(&row, &name, &config)
                .await?
        }
    }
    let row = owned_inbound_trunk(&state, &tenant, &id).await?;
    tracing::info!(trunk_id = %row.id, "inbound trunk updated");
    Ok(ok(
        "Inbound trunk updated successfully",
        shown(&state, &row).await?,
    ))
}

/// Delete an inbound trunk: LiveKit's copy is removed, then ours, and its numbers are freed.
#[utoipa::path(delete, path = "/sip/inbound-trunks/{trunk_id}", tag = "inbound",
    params(("trunk_id" = String, Path, description = "The inbound trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Envelope<DeletedInboundTrunk>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such inbound trunk for this account (or already deleted)"),
        (status = 409, description = "A dispatch rule names this trunk, or a number setup (POST /numbers) made it"),
        (status = 502, description = "LiveKit failed"),
        (status = 503, description = "LiveKit unreachable; nothing was changed")))]
pub async fn delete_inbound_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(id): TrunkPath,
) -> Result<Response, ApiError> {
    let row = owned_inbound_trunk(&state, &tenant, &id).await?;
    // A dispatch rule naming the trunk, or a number setup that made it, refuses the delete
    // before anything goes.
    state.refuse_number_part(&tenant.id, &row.id).await?;
    state.provisioner.check_inbound_deletable(&row).await?;
    state.delete_inbound_provider_side(&row).await?;
    if !state.provisioner.delete_inbound(&row).await? {
        return Err(ApiError::NotFound(NOT_FOUND));
    }
    tracing::info!(trunk_id = %row.id, "inbound trunk deleted");
    Ok(ok(
        "Inbound trunk deleted successfully",
        DeletedInboundTrunk { trunk_id: row.id },
    ))
}
