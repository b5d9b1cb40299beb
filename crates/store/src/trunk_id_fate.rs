//! What a trunk id that names no live trunk of the expected kind is, so that a 404 can say
//! why: deleted, or a trunk of the other direction. Only the caller's own tenant is searched.

use crate::{Store, StoreError};

/// What a trunk id turned out to be within one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkIdFate {
    /// An outbound trunk of this tenant that was deleted.
    DeletedOutbound,
    /// A live inbound trunk of this tenant.
    Inbound,
    /// An inbound trunk of this tenant that was deleted.
    DeletedInbound,
    /// A live outbound trunk of this tenant.
    Outbound,
    /// Nothing this tenant ever had.
    Unknown,
}

impl Store {
    pub async fn trunk_id_fate(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<TrunkIdFate, StoreError> {
        let outbound: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT deleted_at FROM trunks WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
        if let Some((deleted_at,)) = outbound {
            return Ok(match deleted_at {
                Some(_) => TrunkIdFate::DeletedOutbound,
                None => TrunkIdFate::Outbound,
            });
        }
        let inbound: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT deleted_at FROM inbound_trunks WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match inbound {
            Some((Some(_),)) => TrunkIdFate::DeletedInbound,
            Some((None,)) => TrunkIdFate::Inbound,
            None => TrunkIdFate::Unknown,
        })
    }
}
