//! The trunk a path names: the `{trunk_id}` extractor and the lookup of that trunk within the
//! caller's account, shared by every `/sip/trunks/{trunk_id}/…` route.

use crate::error::ApiError;
use crate::extract::Tenant;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use trunkline_domain::TrunkId;
use trunkline_store::TrunkRow;

pub const NOT_FOUND: &str = "Trunk not found: check the full trunk id (it starts with ST_) and that it belongs to this API key's account";

/// The `{trunk_id}` of a path. A segment that does not even decode (`%FF`) names no trunk:
/// 404 in the envelope, like any other unknown id.
pub struct TrunkPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TrunkPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| {
                tracing::Span::current().record("trunk_id", p.0.as_str());
                TrunkPath(p.0)
            })
            .map_err(|_| ApiError::NotFound(NOT_FOUND))
    }
}

/// A tenant's trunk by a path id, or the trunk 404.
pub async fn owned_trunk(
    state: &AppState,
    tenant: &Tenant,
    trunk_id: &str,
) -> Result<TrunkRow, ApiError> {
    // A malformed id cannot exist: same answer as a missing one, without a database trip.
    if TrunkId::parse(trunk_id).is_none() {
        return Err(ApiError::NotFound(NOT_FOUND));
    }
    state
        .store
        .outbound_trunks()
        .get(&tenant.id, trunk_id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}
