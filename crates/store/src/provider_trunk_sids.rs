//! The provider's ids recorded by provider trunks, for providers whose API cannot list their
//! trunks (Exotel): a converge pass looks at exactly the trunks this database recorded.

use crate::{Store, StoreError};
use sqlx::Row;

impl Store {
    /// Records the provider's trunk id on a provider trunk still being created, as soon as the
    /// provider made the trunk: a crash before the create is confirmed leaves the id, so the
    /// pass that retires the row finds the trunk and removes it. `false` when the row is no
    /// longer pending (its create was retired meanwhile).
    pub async fn record_pending_provider_sid(
        &self,
        id: &str,
        sid: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE provider_trunks SET provider_trunk_sid = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(sid)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The provider trunk ids the account's provider trunks recorded: live ones, and those
    /// deleted or retired in the last `window_micros` (whose trunk may still exist if its
    /// removal failed).
    pub async fn provider_trunk_sids(
        &self,
        account_id: &str,
        window_micros: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT provider_trunk_sid FROM provider_trunks \
             WHERE account_id = $1 AND provider_trunk_sid IS NOT NULL \
             AND (deleted_at IS NULL OR deleted_at > $2) ORDER BY provider_trunk_sid",
        )
        .bind(account_id)
        .bind(crate::now_micros() - window_micros)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("provider_trunk_sid"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
