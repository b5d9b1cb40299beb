//! Counts read at each metrics scrape: small aggregate queries on indexed status columns, so
//! a scrape every few seconds costs the database little.

use crate::{Store, StoreError};
use sqlx::Row;

impl Store {
    /// Calls not yet ended, by stored status (`queued`, `claimed`, `dialing`, `ringing`,
    /// `answered`), across every tenant.
    pub async fn open_calls_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM calls \
             WHERE status IN ('queued', 'claimed', 'dialing', 'ringing', 'answered') \
             GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Calls not yet ended, by tenant and status (`calls_active_by_tenant`).
    pub async fn open_calls_by_tenant_status(
        &self,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, status, COUNT(*) AS n FROM calls \
             WHERE status IN ('queued', 'claimed', 'dialing', 'ringing', 'answered') \
             GROUP BY tenant_id, status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("tenant_id")?,
                    r.try_get("status")?,
                    r.try_get("n")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Trunks whose health checks are on, by state (`unknown`, `up`, `down`).
    pub async fn checked_trunks_by_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM trunk_health WHERE enabled <> 0 GROUP BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
