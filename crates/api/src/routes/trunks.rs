//! The seed-000 trunk API and its extensions (details, PATCH, DELETE).

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{from_value, JsonBody, Tenant};
use crate::state::AppState;
use crate::trunk_path::{owned_outbound_trunk, TrunkPath, NOT_FOUND};
use crate::wire::*;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use trunkline_core::provisioning::status;
use trunkline_core::quotas::Quota;
use trunkline_core::records;
use trunkline_core::timefmt::iso8601;
use trunkline_domain::text;
use trunkline_domain::trunk::{RawExotelConfig, RawSipTrunkConfig};
use trunkline_domain::{TrunkConfig, TrunkType, ValidationErrors};
use trunkline_store::OutboundTrunkRow;

/// Reads `trunk_config` as the configuration of `kind`, naming paths under `trunk_config`.
fn parse_config(kind: TrunkType, raw: serde_json::Value) -> Result<TrunkConfig, ApiError> {
    if !raw.is_object() {
        return Err(ApiError::field("trunk_config", "must be a JSON object"));
    }
    let hint = |e: ApiError| match e {
        ApiError::BadRequest { message, errors } if message.contains("unknown field") => {
            ApiError::BadRequest {
                message: format!("{message} (trunk_config must match trunk_type \"{kind}\")"),
                errors,
            }
        }
        other => other,
    };
    match kind {
        TrunkType::Exotel => {
            let raw: RawExotelConfig = from_value(raw, "trunk_config").map_err(hint)?;
            Ok(TrunkConfig::Exotel(raw.validate("trunk_config")?))
        }
        sip => {
            let raw: RawSipTrunkConfig = from_value(raw, "trunk_config").map_err(hint)?;
            Ok(TrunkConfig::Sip(raw.validate(sip, "trunk_config")?))
        }
    }
}

/// Refuses targets inside the operator's network unless the operator allows them.
pub(crate) fn check_target(state: &AppState, config: &TrunkConfig) -> Result<(), ApiError> {
    if state.allow_private_targets {
        return Ok(());
    }
    let (field, host) = match config {
        TrunkConfig::Sip(c) => ("trunk_config.address", Some(&c.address.host)),
        TrunkConfig::Exotel(c) => ("trunk_config.sip_host", c.sip_host.as_ref()),
    };
    match host {
        Some(h) if h.is_internal() => Err(ApiError::field(
            field,
            format!("must be a public address: {h} is loopback, private, link-local or otherwise internal"),
        )),
        _ => Ok(()),
    }
}

/// Configure a SIP trunk for outbound calls (seed 000).
#[utoipa::path(post, path = "/sip/create-outbound-trunk", tag = "trunks",
    request_body = CreateOutboundTrunk,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Trunk created", body = Envelope<CreatedTrunk>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 409, description = "With provider_account_id: a number is already on a provider trunk"),
        (status = 429, description = "A quota of this account is reached (data names it); nothing was created", body = Envelope<serde_json::Value>),
        (status = 502, description = "LiveKit (or the provider) refused trunkline's credentials or failed"),
        (status = 503, description = "LiveKit (or the provider) unreachable, or a setting automated trunks need is not set; nothing was created")))]
pub async fn create_outbound_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(req): JsonBody<CreateOutboundTrunk>,
) -> Result<Response, ApiError> {
    state.check_quota(&tenant.id, Quota::OutboundTrunks).await?;
    if crate::routes::provider_trunks::wanted(&req) {
        return crate::routes::provider_trunks::create(&state, &tenant, req).await;
    }
    let mut errors = ValidationErrors::default();
    let name = text::required_name(&mut errors, "trunk_name", req.trunk_name.as_deref(), 100);
    let kind = match &req.trunk_type {
        Some(t) => errors.take(TrunkType::parse("trunk_type", t)),
        None => {
            errors.push("trunk_type", "is required");
            None
        }
    };
    let config = match (kind, req.trunk_config) {
        (_, None) => {
            errors.push("trunk_config", "is required");
            None
        }
        (None, Some(_)) => None,
        (Some(kind), Some(raw)) => match parse_config(kind, raw) {
            Ok(c) => Some(c),
            Err(ApiError::BadRequest {
                message,
                errors: more,
            }) => {
                if more.is_empty() {
                    return Err(ApiError::bad_request(message));
                }
                errors.0.extend(more);
                None
            }
            Err(other) => return Err(other),
        },
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (name, kind, config) = (
        name.expect("valid"),
        kind.expect("valid"),
        config.expect("valid"),
    );
    check_target(&state, &config)?;
    let created = state
        .provisioner
        .create(&tenant.id, &name, kind, &config)
        .await?;
    tracing::info!(trunk_id = %created.id, trunk_type = %kind, status = %created.status, "trunk created");
    Ok(ok(
        "Outbound trunk created successfully, Store the trunk id securely.",
        CreatedTrunk {
            trunk_id: created.id,
            status: created.status.to_string(),
            livekit_trunk_id: created.remote_id,
        },
    ))
}

/// List the caller's active trunks (seed 000). Never includes any configuration.
#[utoipa::path(get, path = "/sip/list", tag = "trunks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Trunks", body = Envelope<Vec<TrunkListItem>>),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list_trunks(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Response, ApiError> {
    let list = state
        .store
        .list_outbound_trunks_at(&tenant.id, tenant.list_generation)
        .await?;
    let body =
        state
            .list_bodies
            .get_or_render(state.store.caches_lists(), &tenant.id, &list, |trunks| {
                let items: Vec<TrunkListItem> = trunks
                    .iter()
                    .map(|t| TrunkListItem {
                        trunk_id: t.id.clone(),
                        trunk_name: t.name.clone(),
                        trunk_type: t.trunk_type.clone(),
                        trunk_created_at: iso8601(t.created_at),
                    })
                    .collect();
                let envelope = Envelope {
                    success: true,
                    message: "SIP trunks retrieved successfully".into(),
                    data: items,
                };
                // Sized up front: growing the buffer while writing showed up as memmove in profiles.
                let mut buf = Vec::with_capacity(64 + trunks.len() * 160);
                serde_json::to_writer(&mut buf, &envelope)
                    .expect("serializing plain structs cannot fail");
                bytes::Bytes::from(buf)
            });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

fn details(state: &AppState, row: &OutboundTrunkRow) -> Result<TrunkDetails, ApiError> {
    let config = serde_json::to_value(records::public_config(row)?).map_err(ApiError::internal)?;
    Ok(TrunkDetails {
        trunk_id: row.id.clone(),
        trunk_name: row.name.clone(),
        trunk_type: row.trunk_type.clone(),
        trunk_created_at: iso8601(row.created_at),
        trunk_updated_at: iso8601(row.updated_at),
        trunk_config: config,
        livekit_trunk_id: row.livekit_trunk_id.clone(),
        provisioning: Provisioning::of(row, status::describe(row.status, state.livekit.is_some())),
        health: None,
    })
}

/// A trunk's details: configuration without secrets, LiveKit trunk id, provisioning status.
#[utoipa::path(get, path = "/sip/trunks/{trunk_id}", tag = "trunks",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The trunk", body = Envelope<TrunkDetails>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such trunk for this account")))]
pub async fn get_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(trunk_id): TrunkPath,
) -> Result<Response, ApiError> {
    let row = owned_outbound_trunk(&state, &tenant, &trunk_id).await?;
    let mut details = details(&state, &row)?;
    details.health = state
        .store
        .trunk_health(&row.id)
        .await?
        .filter(|h| h.enabled || h.last_checked_at.is_some())
        .as_ref()
        .map(TrunkHealth::from);
    if let Some(side) = state.provider_side(&row).await? {
        return Ok(ok(
            "Trunk retrieved successfully",
            crate::routes::provider_trunks::with_provider(details, side)?,
        ));
    }
    Ok(ok("Trunk retrieved successfully", details))
}

/// Change a trunk's name or configuration; LiveKit is updated to match before the change is
/// saved.
#[utoipa::path(patch, path = "/sip/trunks/{trunk_id}", tag = "trunks",
    summary = "Change an outbound trunk (seed-000 path)",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    request_body = PatchTrunk,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated trunk", body = Envelope<TrunkDetails>),
        (status = 400, description = "Invalid input, or LiveKit refused it", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such trunk for this account"),
        (status = 409, description = "Changed concurrently"),
        (status = 502, description = "LiveKit failed"),
        (status = 503, description = "LiveKit unreachable")))]
pub async fn patch_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(trunk_id): TrunkPath,
    JsonBody(req): JsonBody<PatchTrunk>,
) -> Result<Response, ApiError> {
    let row = owned_outbound_trunk(&state, &tenant, &trunk_id).await?;
    let kind = records::outbound_trunk_type(&row)?;
    let mut errors = ValidationErrors::default();
    if let Some(t) = &req.trunk_type {
        if t != kind.as_str() {
            errors.push(
                "trunk_type",
                format!("cannot change (this trunk is \"{kind}\"); create a new trunk instead"),
            );
        }
    }
    let name = match &req.trunk_name {
        Some(n) => errors.take(text::name("trunk_name", n, 100)),
        None => Some(row.name.clone()),
    };
    let current = records::open(&state.keyring, &row)?;
    let config = match req.trunk_config {
        None => Some(current),
        Some(raw) if !raw.is_object() => {
            errors.push("trunk_config", "must be a JSON object");
            None
        }
        Some(raw) => {
            let merged = match (&current, kind) {
                (TrunkConfig::Exotel(cur), _) => from_value::<RawExotelConfig>(raw, "trunk_config")
                    .and_then(|p| {
                        p.apply_to(cur, "trunk_config")
                            .map(TrunkConfig::Exotel)
                            .map_err(Into::into)
                    }),
                (TrunkConfig::Sip(cur), kind) => {
                    from_value::<RawSipTrunkConfig>(raw, "trunk_config").and_then(|p| {
                        p.apply_to(cur, kind, "trunk_config")
                            .map(TrunkConfig::Sip)
                            .map_err(Into::into)
                    })
                }
            };
            match merged {
                Ok(c) => Some(c),
                Err(ApiError::BadRequest { errors: more, .. }) if !more.is_empty() => {
                    errors.0.extend(more);
                    None
                }
                Err(other) => return Err(other),
            }
        }
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (name, config) = (name.expect("valid"), config.expect("valid"));
    match state.store.provider_trunk_of(&row.id).await? {
        // An automated trunk: its numbers change at the provider too.
        Some(side) => {
            state
                .update_automated_trunk(&row, &side, &name, &config)
                .await?
        }
        None => {
            check_target(&state, &config)?;
            state.provisioner.update(&row, &name, &config).await?
        }
    }
    let row = owned_outbound_trunk(&state, &tenant, &trunk_id).await?;
    tracing::info!(trunk_id = %row.id, "trunk updated");
    Ok(ok("Trunk updated successfully", details(&state, &row)?))
}

/// Delete a trunk: its LiveKit trunk is removed, then it is deactivated.
#[utoipa::path(delete, path = "/sip/trunks/{trunk_id}", tag = "trunks",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Envelope<DeletedTrunk>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such trunk for this account (or already deleted)"),
        (status = 409, description = "A number setup (POST /numbers) made this trunk: DELETE /numbers/{id} removes it"),
        (status = 502, description = "LiveKit failed"),
        (status = 503, description = "LiveKit unreachable; nothing was changed")))]
pub async fn delete_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(trunk_id): TrunkPath,
) -> Result<Response, ApiError> {
    let row = owned_outbound_trunk(&state, &tenant, &trunk_id).await?;
    state.refuse_number_part(&tenant.id, &row.id).await?;
    state.delete_provider_side(&row).await?;
    if !state.provisioner.delete(&row).await? {
        return Err(ApiError::NotFound(NOT_FOUND));
    }
    tracing::info!(trunk_id = %row.id, "trunk deleted");
    Ok(ok(
        "Trunk deleted successfully",
        DeletedTrunk { trunk_id: row.id },
    ))
}

/// The same as `DELETE /sip/trunks/{trunk_id}`, under the name the baseline used.
#[utoipa::path(delete, path = "/sip/deactivate/{trunk_id}", tag = "trunks",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Envelope<DeletedTrunk>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 404, description = "No such trunk for this account (or already deleted)"),
        (status = 409, description = "A number setup (POST /numbers) made this trunk: DELETE /numbers/{id} removes it"),
        (status = 503, description = "LiveKit unreachable; nothing was changed")))]
pub async fn deactivate_trunk(
    state: State<AppState>,
    tenant: Tenant,
    trunk_id: TrunkPath,
) -> Result<Response, ApiError> {
    delete_trunk(state, tenant, trunk_id).await
}
