//! Dispatch rules: `POST/GET /sip/dispatch-rules`, `GET/PATCH/DELETE
//! /sip/dispatch-rules/{rule_id}`. A create takes trunkline's snake_case fields, or the
//! `{"dispatch_rule": {…}}` file of `lk sip dispatch create` (seed 002) verbatim.
//!
//! LiveKit's two number filters are easy to swap, so they go by other names here:
//! `dialed_numbers` (LiveKit's `numbers`, the callee) and `caller_numbers` (LiveKit's
//! `inbound_numbers`).

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, json_object, merge_patch, JsonBody, Tenant};
use crate::pagination::{page_request, page_shown};
use crate::state::AppState;
use crate::wire::Provisioning;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trunkline_core::provisioning::dispatch;
use trunkline_core::quotas::Quota;
use trunkline_core::timefmt::iso8601;
use trunkline_domain::dispatch::{DispatchRuleConfig, RawDispatchRule};
use trunkline_domain::ids::DispatchRuleId;
use trunkline_domain::lk_json::LkDispatchRuleFile;
use trunkline_domain::{FieldError, ValidationErrors};
use trunkline_store::DispatchRuleRow;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sip/dispatch-rules",
            get(list_dispatch_rules).post(create_dispatch_rule),
        )
        .route(
            "/sip/dispatch-rules/{rule_id}",
            get(get_dispatch_rule)
                .patch(patch_dispatch_rule)
                .delete(delete_dispatch_rule),
        )
}

pub const NOT_FOUND: &str = "Dispatch rule not found: check the full rule id (it starts with SDR_) and that it belongs to this API key's account";

/// The `{rule_id}` of a path; one that does not decode is a 404 like any unknown id.
pub struct RulePath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RulePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| RulePath(p.0))
            .map_err(|_| ApiError::NotFound(NOT_FOUND))
    }
}

/// Which room a call lands in.
#[derive(Serialize, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RuleInput {
    /// `individual` (a new room per call), `direct` (one room) or `callee` (a room per
    /// dialed number).
    #[serde(rename = "type")]
    #[schema(example = "individual")]
    kind: String,
    /// individual and callee: letters, digits, `-`, `_`, `.`; up to 64.
    #[schema(example = "call-")]
    room_prefix: Option<String>,
    /// direct only.
    room_name: Option<String>,
    /// individual (default true) and callee (default false): add a random suffix.
    randomize: Option<bool>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AgentInput {
    /// The name the agent registers with.
    #[schema(example = "voice-agent")]
    agent_name: String,
    metadata: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RoomConfigInput {
    agents: Vec<AgentInput>,
}

/// `POST /sip/dispatch-rules`. The `{"dispatch_rule": {…}}` file of `lk sip dispatch create`
/// is accepted as well (there, `numbers` is dialed_numbers and `inboundNumbers`
/// caller_numbers).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateDispatchRule {
    #[schema(example = "Twilio Individual Room Dispatch")]
    name: String,
    rule: RuleInput,
    /// 4–12 digits callers must enter.
    pin: Option<String>,
    /// This account's inbound trunk ids (ST_…). Empty or absent: every inbound trunk of the
    /// account (never another account's).
    trunk_ids: Option<Vec<String>>,
    /// Only calls to these numbers (E.164). LiveKit's `numbers`.
    dialed_numbers: Option<Vec<String>>,
    /// Only calls from these numbers (E.164). LiveKit's `inbound_numbers`.
    caller_numbers: Option<Vec<String>>,
    room_config: Option<RoomConfigInput>,
    /// Passed by LiveKit to the caller's participant.
    metadata: Option<String>,
}

/// `PATCH /sip/dispatch-rules/{rule_id}`: any fields of the create; left out keeps, `null`
/// clears. The whole result is validated again.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PatchDispatchRule {
    name: Option<String>,
    rule: Option<RuleInput>,
    pin: Option<String>,
    trunk_ids: Option<Vec<String>>,
    dialed_numbers: Option<Vec<String>>,
    caller_numbers: Option<Vec<String>>,
    room_config: Option<RoomConfigInput>,
    metadata: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchRuleDetails {
    #[schema(example = "SDR_a1b2c3d4e5f60718293a4b5c6d7e8f90")]
    pub rule_id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub rule: Value,
    pub pin: Option<String>,
    /// trunkline inbound trunk ids; empty means every inbound trunk of the account.
    pub trunk_ids: Vec<String>,
    pub dialed_numbers: Vec<String>,
    pub caller_numbers: Vec<String>,
    #[schema(value_type = Object)]
    pub room_config: Value,
    pub metadata: String,
    pub livekit_rule_id: Option<String>,
    pub provisioning: Provisioning,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /sip/dispatch-rules`: one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchRulePage {
    pub rules: Vec<DispatchRuleDetails>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedDispatchRule {
    pub rule_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Stored {
    rule: Value,
    pin: Option<String>,
    trunk_ids: Vec<String>,
    dialed_numbers: Vec<String>,
    caller_numbers: Vec<String>,
    room_config: Value,
    metadata: String,
}

fn details(state: &AppState, row: &DispatchRuleRow) -> Result<DispatchRuleDetails, ApiError> {
    let s: Stored = serde_json::from_str(&row.config)
        .map_err(|e| ApiError::internal(format!("dispatch rule {} config: {e}", row.id)))?;
    Ok(DispatchRuleDetails {
        rule_id: row.id.clone(),
        name: row.name.clone(),
        rule: s.rule,
        pin: s.pin,
        trunk_ids: s.trunk_ids,
        dialed_numbers: s.dialed_numbers,
        caller_numbers: s.caller_numbers,
        room_config: s.room_config,
        metadata: s.metadata,
        livekit_rule_id: row.livekit_rule_id.clone(),
        provisioning: Provisioning::of(
            row,
            dispatch::describe(row.status, state.livekit.is_some()),
        ),
        created_at: iso8601(row.created_at),
        updated_at: iso8601(row.updated_at),
    })
}

pub(crate) fn parse_create(body: Value) -> Result<(String, DispatchRuleConfig), ApiError> {
    let Value::Object(map) = &body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let lk_key = ["dispatch_rule", "dispatchRule"]
        .into_iter()
        .find(|k| map.contains_key(*k));
    if let Some(key) = lk_key {
        let file: LkDispatchRuleFile = from_value(body, "")?;
        let raw = file
            .dispatch_rule
            .into_raw()
            .map_err(|e| ApiError::from(ValidationErrors::from(e)))?;
        return raw.validate().map_err(|e| {
            ValidationErrors(
                e.0.into_iter()
                    .map(|f| FieldError::new(format!("{key}.{}", f.field), f.message))
                    .collect(),
            )
            .into()
        });
    }
    let raw: RawDispatchRule = from_value(body, "")?;
    Ok(raw.validate()?)
}

async fn owned(state: &AppState, tenant: &Tenant, id: &str) -> Result<DispatchRuleRow, ApiError> {
    if DispatchRuleId::parse(id).is_none() {
        return Err(ApiError::NotFound(NOT_FOUND));
    }
    state
        .store
        .dispatch_rules()
        .get(&tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

/// Create a dispatch rule and provision it in LiveKit.
#[utoipa::path(post, path = "/sip/dispatch-rules", tag = "inbound",
    request_body = crate::openapi::livekit_inputs::DispatchRuleCreateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dispatch rule created", body = Envelope<DispatchRuleDetails>),
        (status = 400, description = "Invalid input (including trunk_ids that are not this account's inbound trunks), or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 429, description = "A quota of this account is reached (data names it); nothing was created", body = Envelope<serde_json::Value>),
        (status = 409, description = "Another rule of the account covers the same trunk, numbers and pin"),
        (status = 502, description = "LiveKit refused trunkline's credentials or failed"),
        (status = 503, description = "LiveKit unreachable")))]
pub async fn create_dispatch_rule(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    state.check_quota(&tenant.id, Quota::DispatchRules).await?;
    let (name, config) = parse_create(body)?;
    let created = state
        .provisioner
        .create_rule(&tenant.id, &name, &config)
        .await?;
    let row = owned(&state, &tenant, &created.id).await?;
    tracing::info!(rule_id = %row.id, status = %row.status, "dispatch rule created");
    Ok(ok(
        "Dispatch rule created successfully",
        details(&state, &row)?,
    ))
}

/// List dispatch rules, a page at a time, oldest first.
#[utoipa::path(get, path = "/sip/dispatch-rules", tag = "inbound",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = r"^[+-]?[0-9]+_[A-Za-z0-9_]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of dispatch rules", body = Envelope<DispatchRulePage>),
        (status = 400, description = "Invalid limit, cursor or an unknown query parameter"),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list_dispatch_rules(
    State(state): State<AppState>,
    tenant: Tenant,
    uri: Uri,
) -> Result<Response, ApiError> {
    let request = page_request(uri.query())?;
    let rows = state.store.dispatch_rules().list(&tenant.id).await?;
    let (rules, next_cursor) = page_shown(
        &rows,
        &request,
        |r| (r.created_at, r.id.as_str()),
        |r| details(&state, r),
    )?;
    Ok(ok(
        "Dispatch rules retrieved successfully",
        DispatchRulePage { rules, next_cursor },
    ))
}

#[utoipa::path(get, path = "/sip/dispatch-rules/{rule_id}", tag = "inbound",
    summary = "Show a dispatch rule",
    params(("rule_id" = String, Path, description = "The dispatch rule id (SDR_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dispatch rule", body = Envelope<DispatchRuleDetails>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such dispatch rule for this account")))]
pub async fn get_dispatch_rule(
    State(state): State<AppState>,
    tenant: Tenant,
    RulePath(id): RulePath,
) -> Result<Response, ApiError> {
    let row = owned(&state, &tenant, &id).await?;
    Ok(ok(
        "Dispatch rule retrieved successfully",
        details(&state, &row)?,
    ))
}

/// Change a dispatch rule; LiveKit is updated before the change is saved.
#[utoipa::path(patch, path = "/sip/dispatch-rules/{rule_id}", tag = "inbound",
    params(("rule_id" = String, Path, description = "The dispatch rule id (SDR_…)")),
    request_body = PatchDispatchRule,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = Envelope<DispatchRuleDetails>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such dispatch rule for this account"),
        (status = 409, description = "Conflicts with another rule, or changed concurrently"),
        (status = 502, description = "LiveKit failed"),
        (status = 503, description = "LiveKit unreachable; nothing was changed")))]
pub async fn patch_dispatch_rule(
    State(state): State<AppState>,
    tenant: Tenant,
    RulePath(id): RulePath,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let row = owned(&state, &tenant, &id).await?;
    let patch = json_object(body)?;
    // A change that leaves the room alone keeps a room name stored before `CL_` was
    // reserved; a new room is checked as on create.
    let keeps_room = !patch.contains_key("rule");
    let merged = dispatch::current_raw(&row)?;
    let raw: RawDispatchRule = from_value(merge_patch(merged, patch), "")?;
    let (name, config) = if keeps_room {
        raw.validate_stored()?
    } else {
        raw.validate()?
    };
    state.provisioner.update_rule(&row, &name, &config).await?;
    let row = owned(&state, &tenant, &id).await?;
    tracing::info!(rule_id = %row.id, "dispatch rule updated");
    Ok(ok(
        "Dispatch rule updated successfully",
        details(&state, &row)?,
    ))
}

/// Delete a dispatch rule: LiveKit's copy first, then ours.
#[utoipa::path(delete, path = "/sip/dispatch-rules/{rule_id}", tag = "inbound",
    params(("rule_id" = String, Path, description = "The dispatch rule id (SDR_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Envelope<DeletedDispatchRule>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such dispatch rule for this account (or already deleted)"),
        (status = 409, description = "A number setup (POST /numbers) made this rule: DELETE /numbers/{id} removes it"),
        (status = 502, description = "LiveKit failed"),
        (status = 503, description = "LiveKit unreachable; nothing was changed")))]
pub async fn delete_dispatch_rule(
    State(state): State<AppState>,
    tenant: Tenant,
    RulePath(id): RulePath,
) -> Result<Response, ApiError> {
    let row = owned(&state, &tenant, &id).await?;
    state.refuse_number_part(&tenant.id, &row.id).await?;
    if !state.provisioner.delete_rule(&row).await? {
        return Err(ApiError::NotFound(NOT_FOUND));
    }
    tracing::info!(rule_id = %row.id, "dispatch rule deleted");
    Ok(ok(
        "Dispatch rule deleted successfully",
        DeletedDispatchRule { rule_id: row.id },
    ))
}
