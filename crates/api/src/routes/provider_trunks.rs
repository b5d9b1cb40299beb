//! `POST /sip/create-outbound-trunk` with `trunk_config: {"provider_account_id", "numbers"}`:
//! the trunk is made at the provider first, then in LiveKit (see
//! `trunkline_core::provider_accounts::twilio_trunks`).

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::Tenant;
use crate::state::AppState;
use crate::wire::{CreateOutboundTrunk, CreatedTrunk};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use trunkline_core::provider_accounts::twilio_trunks::ProviderSide;
use trunkline_domain::text;
use trunkline_domain::ValidationErrors;

/// Whether the request asks for a trunk made from a provider account.
pub fn wanted(req: &CreateOutboundTrunk) -> bool {
    req.trunk_config
        .as_ref()
        .is_some_and(|c| c.get("provider_account_id").is_some())
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    trunk: CreatedTrunk,
    provider: ProviderSide,
}

pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    req: CreateOutboundTrunk,
) -> Result<Response, ApiError> {
    let mut errors = ValidationErrors::default();
    let name = text::required_name(&mut errors, "trunk_name", req.trunk_name.as_deref(), 100);
    if req.trunk_type.is_none() {
        errors.push("trunk_type", "is required");
    }
    let config = match req.trunk_config {
        Some(Value::Object(m)) => m,
        _ => {
            errors.push("trunk_config", "must be a JSON object");
            Default::default()
        }
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let name = name.unwrap_or_default();
    let (created, provider) = match req.trunk_type.as_deref().unwrap_or_default() {
        "exotel" => state.create_exotel_trunk(&tenant.id, &name, config).await?,
        other => {
            state
                .create_twilio_trunk(&tenant.id, &name, other, config)
                .await?
        }
    };
    tracing::info!(trunk_id = %created.id, status = %created.status, provider = provider.provider, "trunk created at the provider and LiveKit");
    Ok(ok(
        "Outbound trunk created successfully, Store the trunk id securely.",
        Created {
            trunk: CreatedTrunk {
                trunk_id: created.id,
                status: created.status.to_string(),
                livekit_trunk_id: created.remote_id,
            },
            provider,
        },
    ))
}

/// A trunk's details with its provider side added as `provider`.
pub fn with_provider(details: impl Serialize, side: ProviderSide) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(details).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        m.insert(
            "provider".into(),
            serde_json::to_value(side).map_err(ApiError::internal)?,
        );
    }
    Ok(v)
}
