//! `GET/PUT /sip/trunks/{trunk_id}/health-check`: opt a trunk into periodic OPTIONS checks and
//! read their state (also shown in the trunk's details as `health`).

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, Tenant};
use crate::state::AppState;
use crate::trunk_path::{owned_outbound_trunk, TrunkPath};
use crate::wire::TrunkHealth;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use trunkline_core::trunk_settings::{HEALTH_DOWN_AFTER, HEALTH_INTERVAL_SECS};
use trunkline_domain::ValidationErrors;
use trunkline_store::now_micros;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/sip/trunks/{trunk_id}/health-check",
        get(get_health).put(put_health),
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckInput {
    pub enabled: Option<bool>,
    /// Seconds between checks, 10–3600 (default 60).
    #[schema(minimum = 10, maximum = 3600)]
    pub interval_seconds: Option<i64>,
    /// Failed checks in a row before the trunk is `down`, 1–10 (default 3).
    #[schema(minimum = 1, maximum = 10)]
    pub down_after: Option<i64>,
}

fn disabled() -> TrunkHealth {
    TrunkHealth {
        enabled: false,
        interval_seconds: 60,
        down_after: 3,
        state: "unknown".into(),
        consecutive_failures: 0,
        last_diagnosis: None,
        last_rtt_ms: None,
        last_checked_at: None,
        state_since: None,
    }
}

#[utoipa::path(get, path = "/sip/trunks/{trunk_id}/health-check", tag = "trunks",
    summary = "Show a trunk's periodic health checks",
    params(("trunk_id" = String, Path, description = "ST_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings and state of the trunk's health checks", body = Envelope<TrunkHealth>),
        (status = 404, description = "No such trunk for this account")))]
pub async fn get_health(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(id): TrunkPath,
) -> Result<Response, ApiError> {
    owned_outbound_trunk(&state, &tenant, &id).await?;
    let h = state.store.trunk_health(&id).await?;
    Ok(ok(
        "Trunk health checks retrieved successfully",
        h.as_ref().map_or_else(disabled, TrunkHealth::from),
    ))
}

/// Turn periodic OPTIONS checks of a trunk on or off. A field left out keeps its value (or
/// the default).
#[utoipa::path(put, path = "/sip/trunks/{trunk_id}/health-check", tag = "trunks",
    summary = "Turn a trunk's periodic health checks on or off",
    request_body = HealthCheckInput,
    params(("trunk_id" = String, Path, description = "ST_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings saved; with checks on, the first runs at once", body = Envelope<TrunkHealth>),
        (status = 400, description = "Invalid settings", body = Envelope<ErrorData>),
        (status = 404, description = "No such trunk for this account")))]
pub async fn put_health(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(id): TrunkPath,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    owned_outbound_trunk(&state, &tenant, &id).await?;
    let input: HealthCheckInput = from_value(body, "")?;
    let current = state.store.trunk_health(&id).await?;
    let mut errors = ValidationErrors::default();
    let interval = input
        .interval_seconds
        .or(current.as_ref().map(|h| h.interval_secs))
        .unwrap_or(60);
    if !HEALTH_INTERVAL_SECS.contains(&interval) {
        errors.push(
            "interval_seconds",
            "must be a whole number of seconds from 10 to 3600",
        );
    }
    let down_after = input
        .down_after
        .or(current.as_ref().map(|h| h.down_after))
        .unwrap_or(3);
    if !HEALTH_DOWN_AFTER.contains(&down_after) {
        errors.push("down_after", "must be a whole number from 1 to 10");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let enabled = input
        .enabled
        .or(current.as_ref().map(|h| h.enabled))
        .unwrap_or(true);
    state
        .store
        .set_trunk_health(&id, &tenant.id, enabled, interval, down_after, now_micros())
        .await?;
    let h = state.store.trunk_health(&id).await?;
    Ok(ok(
        "Trunk health checks updated successfully",
        h.as_ref().map_or_else(disabled, TrunkHealth::from),
    ))
}
