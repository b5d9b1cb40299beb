//! `POST /numbers` setups: the request and the ids of what was made for it.

use crate::audit::{self, AuditEntry};
use crate::{now_micros, Store, StoreError};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NumberRow {
    pub id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub number: String,
    pub assistant_id: String,
    /// `inbound`, `outbound` or `both`.
    pub direction: String,
    /// `creating`, `active`, or `failed` (a failed setup whose undo did not finish).
    pub status: String,
    pub outbound_trunk_id: Option<String>,
    pub inbound_trunk_id: Option<String>,
    pub dispatch_rule_id: Option<String>,
    pub created_at: i64,
}

/// The audit's view of a setup (it holds no secret).
fn snapshot(n: &NumberRow) -> serde_json::Value {
    json!({
        "provider_account_id": n.account_id, "number": n.number,
        "assistant_id": n.assistant_id, "direction": n.direction, "status": n.status,
        "outbound_trunk_id": n.outbound_trunk_id, "inbound_trunk_id": n.inbound_trunk_id,
        "dispatch_rule_id": n.dispatch_rule_id,
    })
}

const COLUMNS: &str = "id, tenant_id, account_id, number, assistant_id, direction, status, \
    outbound_trunk_id, inbound_trunk_id, dispatch_rule_id, created_at";

impl Store {
    /// Stores a new setup; a 409-kind error when the tenant already has a live one for the
    /// number.
    pub async fn insert_number(&self, n: &NumberRow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO numbers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&n.id)
        .bind(&n.tenant_id)
        .bind(&n.account_id)
        .bind(&n.number)
        .bind(&n.assistant_id)
        .bind(&n.direction)
        .bind(&n.status)
        .bind(&n.outbound_trunk_id)
        .bind(&n.inbound_trunk_id)
        .bind(&n.dispatch_rule_id)
        .bind(n.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "number"))?;
        let entry = AuditEntry::new(&n.tenant_id, audit::kinds::NUMBER, &n.id).after(snapshot(n));
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves the ids made so far and the status.
    pub async fn update_number(&self, n: &NumberRow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = live(&mut tx, &n.tenant_id, &n.id).await?;
        sqlx::query(
            "UPDATE numbers SET status = $1, outbound_trunk_id = $2, inbound_trunk_id = $3, \
             dispatch_rule_id = $4 WHERE id = $5",
        )
        .bind(&n.status)
        .bind(&n.outbound_trunk_id)
        .bind(&n.inbound_trunk_id)
        .bind(&n.dispatch_rule_id)
        .bind(&n.id)
        .execute(&mut *tx)
        .await?;
        if let Some(b) = before {
            let entry = AuditEntry::new(&n.tenant_id, audit::kinds::NUMBER, &n.id)
                .before(snapshot(&b))
                .after(snapshot(n));
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's live setup `id`.
    pub async fn get_number(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NumberRow>, StoreError> {
        live_by(&self.pool, tenant_id, "id", id).await
    }

    /// The tenant's live setup of `number`, if any.
    pub async fn number_setup(
        &self,
        tenant_id: &str,
        number: &str,
    ) -> Result<Option<NumberRow>, StoreError> {
        live_by(&self.pool, tenant_id, "number", number).await
    }

    /// The tenant's live setups, oldest first.
    pub async fn list_numbers(&self, tenant_id: &str) -> Result<Vec<NumberRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM numbers WHERE tenant_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at, id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The tenant's live setup that made trunk or rule `id` (one of its parts), if any.
    pub async fn number_made(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NumberRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM numbers WHERE tenant_id = $1 AND deleted_at IS NULL \
             AND (outbound_trunk_id = $2 OR inbound_trunk_id = $2 OR dispatch_rule_id = $2)"
        );
        Ok(sqlx::query_as(&sql)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every tenant's live setups still `creating` (or `failed`: its undo did not finish) that
    /// began before `created_before`: left by a crash or an outage mid-setup, for the
    /// reconciler to undo.
    pub async fn unfinished_numbers(
        &self,
        created_before: i64,
    ) -> Result<Vec<NumberRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM numbers WHERE deleted_at IS NULL \
             AND status <> 'active' AND created_at < $1 ORDER BY created_at, id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(created_before)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Forgets a setup (a tombstone); `false` when it was not live.
    pub async fn delete_number(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = live(&mut tx, tenant_id, id).await?;
        let done = sqlx::query(
            "UPDATE numbers SET deleted_at = $1 WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL",
        )
        .bind(now_micros())
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        if let Some(b) = before.filter(|_| done.rows_affected() == 1) {
            let entry = AuditEntry::new(tenant_id, audit::kinds::NUMBER, id).before(snapshot(&b));
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A live setup, read inside a write's transaction (the audit's "before").
async fn live(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant_id: &str,
    id: &str,
) -> Result<Option<NumberRow>, StoreError> {
    live_by(&mut **tx, tenant_id, "id", id).await
}

/// The tenant's live setup whose `column` (a constant: `id` or `number`) is `value`.
async fn live_by<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant_id: &str,
    column: &'static str,
    value: &str,
) -> Result<Option<NumberRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM numbers WHERE tenant_id = $1 AND {column} = $2 AND deleted_at IS NULL"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(value)
        .fetch_optional(executor)
        .await?)
}
