//! Aggregates the dashboard's overview shows, each one indexed query.

use crate::calls::IN_FLIGHT;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The hourly buckets of `call_outcome_counts`.
pub const OUTCOME_HOUR_MICROS: i64 = 3_600_000_000;

fn counts(rows: &[AnyRow]) -> Result<Vec<(String, i64)>, StoreError> {
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

impl Store {
    /// How many of a tenant's calls created since the hour starting at `since_hour` (µs, a
    /// multiple of [`OUTCOME_HOUR_MICROS`]) ended in each final status: a sum over the hourly
    /// counters `transition` keeps, so its cost does not grow with the number of calls.
    pub async fn call_outcomes_since(
        &self,
        tenant_id: &str,
        since_hour: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, CAST(SUM(calls) AS BIGINT) AS n FROM call_outcome_counts \
             WHERE tenant_id = $1 AND hour >= $2 GROUP BY status ORDER BY status",
        )
        .bind(tenant_id)
        .bind(since_hour)
        .fetch_all(&self.pool)
        .await?;
        counts(&rows)
    }

    /// How many of a tenant's calls created since `since` (µs) are still in flight, by status.
    pub async fn calls_in_flight_since(
        &self,
        tenant_id: &str,
        since: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = format!(
            "SELECT status, COUNT(*) AS n FROM calls WHERE tenant_id = $1 AND {IN_FLIGHT} \
             AND created_at >= $2 GROUP BY status ORDER BY status"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        counts(&rows)
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
