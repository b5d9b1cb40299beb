//! The trunk a path names: the `{trunk_id}` extractor and the lookup of that trunk within the
//! caller's account, shared by every `/sip/trunks/{trunk_id}/…` and
//! `/sip/inbound-trunks/{trunk_id}` route.

use crate::error::ApiError;
use crate::extract::Tenant;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use trunkline_domain::TrunkId;
use trunkline_store::{InboundTrunkRow, OutboundTrunkRow, Resource};

pub const INBOUND_NOT_FOUND: &str = "Inbound trunk not found: check the full trunk id (it starts with ST_) and that it belongs to this API key's account";

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

/// A tenant's outbound trunk by a path id, or the trunk 404.
pub async fn owned_outbound_trunk(
    state: &AppState,
    tenant: &Tenant,
    trunk_id: &str,
) -> Result<OutboundTrunkRow, ApiError> {
    owned(state, tenant, trunk_id, TrunkDirection::Outbound).await
}

/// A tenant's inbound trunk by a path id, or the inbound trunk 404.
pub async fn owned_inbound_trunk(
    state: &AppState,
    tenant: &Tenant,
    trunk_id: &str,
) -> Result<InboundTrunkRow, ApiError> {
    owned(state, tenant, trunk_id, TrunkDirection::Inbound).await
}

async fn owned<R: Resource>(
    state: &AppState,
    tenant: &Tenant,
    trunk_id: &str,
    direction: TrunkDirection,
) -> Result<R, ApiError> {
    // A malformed id cannot exist: no database trip, but a LiveKit id is named as such.
    if TrunkId::parse(trunk_id).is_none() {
        return Err(malformed_trunk_id(trunk_id, direction.not_found()));
    }
    match state
        .store
        .resources::<R>()
        .get(&tenant.id, trunk_id)
        .await?
    {
        Some(row) => Ok(row),
        None => Err(missing_trunk(state, tenant, trunk_id, direction).await?),
    }
}

/// Which kind of trunk a route expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrunkDirection {
    Outbound,
    Inbound,
}

impl TrunkDirection {
    fn not_found(self) -> &'static str {
        match self {
            Self::Outbound => NOT_FOUND,
            Self::Inbound => INBOUND_NOT_FOUND,
        }
    }
}

/// `ST_` and something other than trunkline's 32 hex digits: most likely LiveKit's own id of
/// the trunk (`ST_` and 12 letters or digits), which the client copied from `livekit_trunk_id`.
fn malformed_trunk_id(id: &str, otherwise: &'static str) -> ApiError {
    let rest = id.strip_prefix("ST_").unwrap_or_default();
    if !rest.is_empty() && rest.len() < 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return ApiError::NotFoundBecause(format!(
            "{id} looks like a LiveKit trunk id (livekit_trunk_id); this path takes trunkline's trunk_id: ST_ and 32 hex digits, as GET /sip/list or GET /sip/inbound-trunks shows"
        ));
    }
    ApiError::NotFound(otherwise)
}

/// The 404 for a well-formed trunk id that names no live trunk of `expected` in this tenant:
/// it says whether the id was deleted or belongs to the other direction. Other tenants' ids
/// read as unknown.
async fn missing_trunk(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    expected: TrunkDirection,
) -> Result<ApiError, ApiError> {
    use trunkline_store::TrunkIdFate as Fate;
    let fate = state.store.trunk_id_fate(&tenant.id, id).await?;
    let message = match (expected, fate) {
        (TrunkDirection::Outbound, Fate::DeletedOutbound)
        | (TrunkDirection::Inbound, Fate::DeletedInbound) => {
            format!("Trunk {id} was deleted; its id is not reused. GET /sip/list and GET /sip/inbound-trunks show this account's trunks")
        }
        (TrunkDirection::Outbound, Fate::Inbound | Fate::DeletedInbound) => format!(
            "{id} is an inbound trunk: inbound trunks are under /sip/inbound-trunks/{id}; this path takes an outbound trunk's id"
        ),
        (TrunkDirection::Inbound, Fate::Outbound | Fate::DeletedOutbound) => format!(
            "{id} is an outbound trunk: outbound trunks are under /sip/trunks/{id}; this path takes an inbound trunk's id"
        ),
        _ => return Ok(ApiError::NotFound(expected.not_found())),
    };
    Ok(ApiError::NotFoundBecause(message))
}
