//! `GET /me` and `GET /keys`: which tenant an API key acts for, and that tenant's keys
//! (public ids, names and prefixes; a key itself is never shown again after its creation).

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::Tenant;
use crate::extract::{JsonBody, PathId};
use crate::state::AppState;
use crate::wire::Envelope;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use serde::Deserialize;
use serde::Serialize;
use trunkline_core::sealing::{generate_api_key, hash_api_key};
use trunkline_core::timefmt::iso8601;
use trunkline_domain::{text, ApiKeyId, ValidationErrors};
use trunkline_store::KeyRevocation;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{key_id}", delete(revoke_key))
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub tenant_id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedKey {
    pub key_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub key_id: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The tenant this API key acts for.
#[utoipa::path(get, path = "/me", tag = "account", summary = "Show the caller's tenant",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tenant", body = Envelope<MeView>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>)))]
pub async fn me(State(state): State<AppState>, tenant: Tenant) -> Result<Response, ApiError> {
    let profile = state
        .store
        .tenant_profile(&tenant.id)
        .await?
        .ok_or_else(|| ApiError::internal("an authenticated key's tenant is missing"))?;
    Ok(ok(
        "Account retrieved successfully",
        MeView {
            tenant_id: profile.id,
            email: profile.email,
            name: profile.name,
            created_at: iso8601(profile.created_at),
        },
    ))
}

/// The caller's API keys, revoked ones included.
#[utoipa::path(get, path = "/keys", tag = "account", summary = "List the caller's API keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The keys, oldest first", body = Envelope<Vec<KeyView>>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>)))]
pub async fn list_keys(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Response, ApiError> {
    let keys = state.store.tenant_keys(&tenant.id).await?;
    let keys: Vec<KeyView> = keys
        .into_iter()
        .map(|k| KeyView {
            key_id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at: iso8601(k.created_at),
            revoked_at: k.revoked_at.map(iso8601),
        })
        .collect();
    Ok(ok("API keys retrieved successfully", keys))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyInput {
    /// 1–100 characters, to tell the key apart later.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub key_id: String,
    pub name: String,
    /// The key itself: shown this once, never again.
    pub api_key: String,
    pub prefix: String,
    pub created_at: String,
}

/// A new API key for the caller's tenant, shown once.
#[utoipa::path(post, path = "/keys", tag = "account", summary = "Create an API key",
    request_body = NewKeyInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new key (shown only in this answer)", body = Envelope<CreatedKey>),
        (status = 400, description = "Invalid name", body = Envelope<crate::error::ErrorData>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>)))]
pub async fn create_key(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(input): JsonBody<NewKeyInput>,
) -> Result<Response, ApiError> {
    let mut errors = ValidationErrors::default();
    let name = text::required_name(&mut errors, "name", input.name.as_deref(), 100);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let name = name.expect("valid");
    let key = generate_api_key();
    let key_id = ApiKeyId::generate();
    let prefix = &key[..12];
    let created_at = state
        .store
        .add_tenant_key(
            &tenant.id,
            key_id.as_str(),
            &name,
            &hash_api_key(&key),
            prefix,
        )
        .await?;
    tracing::info!(key_id = %key_id, "API key created");
    Ok(ok(
        "API key created successfully. Store it now: it is not shown again",
        CreatedKey {
            key_id: key_id.to_string(),
            name,
            prefix: prefix.to_owned(),
            api_key: key,
            created_at: iso8601(created_at),
        },
    ))
}

/// Revoke one of the caller's keys; the tenant's last key cannot be revoked (409).
#[utoipa::path(delete, path = "/keys/{key_id}", tag = "account", summary = "Revoke an API key",
    params(("key_id" = String, Path, description = "AK_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked", body = Envelope<RevokedKey>),
        (status = 401, description = "Missing, unknown or revoked API key", body = Envelope<Option<String>>),
        (status = 404, description = "No such unrevoked key in this account", body = Envelope<Option<String>>),
        (status = 409, description = "The account's last key", body = Envelope<Option<String>>)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(key_id): PathId,
) -> Result<Response, ApiError> {
    match state.store.revoke_tenant_key(&tenant.id, &key_id).await? {
        KeyRevocation::Revoked => {
            tracing::info!(key_id = %key_id, "API key revoked");
            Ok(ok("API key revoked successfully", RevokedKey { key_id }))
        }
        KeyRevocation::NotFound => Err(ApiError::NotFound(
            "API key not found: GET /keys lists this account's keys (AK_…)",
        )),
        KeyRevocation::LastKey => Err(ApiError::Conflict(
            "This is the account's last API key: create another with POST /keys first".into(),
        )),
    }
}
