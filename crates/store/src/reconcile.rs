//! What the reconciler needs of inbound trunks and dispatch rules beyond the API's reads:
//! every live row (pending ones included), one live row by id whatever its tenant or status,
//! the liveness of the ids LiveKit's objects name, and a status write conditional on the
//! version it concerns.

use crate::{dispatch_rules, inbound_trunks, DispatchRuleRow, InboundTrunkRow, Store, StoreError};
use std::collections::HashMap;

impl Store {
    /// Every live inbound trunk (pending ones included), for the reconciler.
    pub async fn all_live_inbound_trunks(&self) -> Result<Vec<InboundTrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM inbound_trunks WHERE deleted_at IS NULL ORDER BY created_at, id",
            inbound_trunks::COLUMNS
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(inbound_trunks::row)
            .collect::<Result<_, _>>()?)
    }

    /// A live inbound trunk by id, whatever its tenant or status: the reconciler re-reads a
    /// row before acting on it.
    pub async fn live_inbound_trunk(
        &self,
        id: &str,
    ) -> Result<Option<InboundTrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM inbound_trunks WHERE id = $1 AND deleted_at IS NULL",
            inbound_trunks::COLUMNS
        );
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(inbound_trunks::row).transpose()?)
    }

    /// For each of `ids` this database holds as an inbound trunk (deleted rows included),
    /// whether it is still live.
    pub async fn inbound_trunk_liveness(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, bool>, StoreError> {
        self.liveness("inbound_trunks", ids).await
    }

    /// Sets the status and last error of `version` of an inbound trunk; `false` when the row
    /// moved on meanwhile.
    pub async fn set_inbound_status(
        &self,
        id: &str,
        version: i64,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE inbound_trunks SET status = $1, last_error = $2 \
             WHERE id = $3 AND desired_version = $4 AND deleted_at IS NULL",
        )
        .bind(status)
        .bind(last_error)
        .bind(id)
        .bind(version)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every live dispatch rule (pending ones included), for the reconciler.
    pub async fn all_live_dispatch_rules(&self) -> Result<Vec<DispatchRuleRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM dispatch_rules WHERE deleted_at IS NULL ORDER BY created_at, id",
            dispatch_rules::COLUMNS
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(dispatch_rules::row)
            .collect::<Result<_, _>>()?)
    }

    /// A live dispatch rule by id, whatever its tenant or status.
    pub async fn live_dispatch_rule(
        &self,
        id: &str,
    ) -> Result<Option<DispatchRuleRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM dispatch_rules WHERE id = $1 AND deleted_at IS NULL",
            dispatch_rules::COLUMNS
        );
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(dispatch_rules::row).transpose()?)
    }

    /// For each of `ids` this database holds as a dispatch rule (deleted rows included),
    /// whether it is still live.
    pub async fn dispatch_rule_liveness(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, bool>, StoreError> {
        self.liveness("dispatch_rules", ids).await
    }

    /// Sets the status and last error of `version` of a rule, and forgets what LiveKit was
    /// told; `false` when the row moved on meanwhile.
    pub async fn set_rule_status_at(
        &self,
        id: &str,
        version: i64,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE dispatch_rules SET status = $1, last_error = $2, synced_version = 0 \
             WHERE id = $3 AND desired_version = $4 AND deleted_at IS NULL",
        )
        .bind(status)
        .bind(last_error)
        .bind(id)
        .bind(version)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
