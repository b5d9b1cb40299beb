//! Aggregates the dashboard's overview shows, each one indexed query.

use crate::{Store, StoreError};
use sqlx::Row;

impl Store {
    /// How many of a tenant's calls created since `since` (µs) are in each status.
    pub async fn call_counts_since(
        &self,
        tenant_id: &str,
        since: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM calls WHERE tenant_id = $1 AND created_at >= $2 \
             GROUP BY status ORDER BY status",
        )
        .bind(tenant_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The health state (`up`, `down`, `unknown`) of each of a tenant's trunks that has one.
    pub async fn trunk_health_states(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT trunk_id, state FROM trunk_health WHERE tenant_id = $1 \
             AND (enabled <> 0 OR last_checked_at IS NOT NULL)",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("trunk_id")?, r.try_get("state")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
