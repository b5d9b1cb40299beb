//! `GET/PUT /sip/trunks/{trunk_id}/call-limits`: a trunk's calls per second and concurrent
//! calls.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, PathId, Tenant};
use crate::state::AppState;
use crate::trunk_path::owned_outbound_trunk;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trunkline_core::trunk_settings::{cps_milli, MAX_CONCURRENT_CALLS};
use trunkline_domain::ValidationErrors;
use utoipa::ToSchema;

/// `PUT /sip/trunks/{trunk_id}/call-limits`: a field left out returns to the default.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct LimitsInput {
    /// 0.01–1000.
    #[schema(minimum = 0.01, maximum = 1000.0)]
    calls_per_second: Option<f64>,
    /// 1–10000.
    #[schema(minimum = 1, maximum = 10000)]
    max_concurrent_calls: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    calls_per_second: Option<f64>,
    max_concurrent_calls: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LimitsView {
    pub trunk_id: String,
    pub calls_per_second: f64,
    pub max_concurrent_calls: i64,
    /// Whether each value is the trunk's own or trunkline's default.
    pub calls_per_second_is_default: bool,
    pub max_concurrent_calls_is_default: bool,
}

async fn limits_view(state: &AppState, trunk_id: &str) -> Result<LimitsView, ApiError> {
    let (cps, conc) = state.store.trunk_limits(trunk_id).await?;
    Ok(LimitsView {
        trunk_id: trunk_id.to_owned(),
        calls_per_second: cps.unwrap_or(state.calls.default_cps_milli) as f64 / 1000.0,
        max_concurrent_calls: conc.unwrap_or(state.calls.default_trunk_concurrency),
        calls_per_second_is_default: cps.is_none(),
        max_concurrent_calls_is_default: conc.is_none(),
    })
}

#[utoipa::path(get, path = "/sip/trunks/{trunk_id}/call-limits", tag = "calls",
    summary = "Show a trunk's dialing limits",
    params(("trunk_id" = String, Path, description = "ST_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The trunk's limits", body = Envelope<LimitsView>),
        (status = 404, description = "No such trunk in this account")))]
pub async fn get_limits(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    owned_outbound_trunk(&state, &tenant, &id).await?;
    Ok(ok(
        "Trunk call limits retrieved successfully",
        limits_view(&state, &id).await?,
    ))
}

/// Sets a trunk's calls per second (0.01–1000, fractions allowed: Exotel's 200 calls a minute
/// is 3.33) and concurrent calls (1–10000). A field left out returns to the default.
#[utoipa::path(put, path = "/sip/trunks/{trunk_id}/call-limits", tag = "calls",
    summary = "Set a trunk's dialing limits", request_body = LimitsInput,
    params(("trunk_id" = String, Path, description = "ST_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Limits set", body = Envelope<LimitsView>),
        (status = 400, description = "Invalid limits", body = Envelope<ErrorData>),
        (status = 404, description = "No such trunk in this account")))]
pub async fn put_limits(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    owned_outbound_trunk(&state, &tenant, &id).await?;
    let body: LimitsBody = from_value(body, "")?;
    let mut errors = ValidationErrors::default();
    let cps = body.calls_per_second.and_then(|c| {
        let milli = cps_milli(c);
        if milli.is_none() {
            errors.push("calls_per_second", "must be a number from 0.01 to 1000");
        }
        milli
    });
    let conc = body.max_concurrent_calls.and_then(|c| {
        if MAX_CONCURRENT_CALLS.contains(&c) {
            Some(c)
        } else {
            errors.push(
                "max_concurrent_calls",
                "must be a whole number from 1 to 10000",
            );
            None
        }
    });
    if !errors.is_empty() {
        return Err(errors.into());
    }
    state
        .store
        .set_trunk_limits(&id, &tenant.id, cps, conc)
        .await?;
    Ok(ok(
        "Trunk call limits updated successfully",
        limits_view(&state, &id).await?,
    ))
}
