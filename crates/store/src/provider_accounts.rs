//! Carrier accounts (Twilio, Exotel, Telnyx) and the webhook events their providers send.

use crate::audit::{self, AuditEntry};
use crate::{now_micros, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderAccountRow {
    pub id: String,
    pub tenant_id: String,
    /// `twilio`, `exotel` or `telnyx`.
    pub provider: String,
    pub name: String,
    /// The provider's account id shortened for display; never a credential.
    pub account_hint: String,
    /// The credentials, one sealed JSON object.
    pub credentials: String,
    pub created_at: i64,
}

/// One recorded webhook request.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEventRow {
    pub id: String,
    pub account_id: String,
    /// The endpoint it came to: `voice`, `status`, `sms`, …
    pub kind: String,
    pub call_sid: Option<String>,
    /// The request's parameters, a JSON object.
    pub params: String,
    pub received_at: i64,
}

const COLUMNS: &str = "id, tenant_id, provider, name, account_hint, credentials, created_at";

fn account(r: &AnyRow) -> Result<ProviderAccountRow, sqlx::Error> {
    Ok(ProviderAccountRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        provider: r.try_get("provider")?,
        name: r.try_get("name")?,
        account_hint: r.try_get("account_hint")?,
        credentials: r.try_get("credentials")?,
        created_at: r.try_get("created_at")?,
    })
}

fn event(r: &AnyRow) -> Result<ProviderEventRow, sqlx::Error> {
    Ok(ProviderEventRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        kind: r.try_get("kind")?,
        call_sid: r.try_get("call_sid")?,
        params: r.try_get("params")?,
        received_at: r.try_get("received_at")?,
    })
}

impl Store {
    pub async fn insert_provider_account(&self, a: &ProviderAccountRow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO provider_accounts \
             (id, tenant_id, provider, name, account_hint, credentials, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.id)
        .bind(&a.tenant_id)
        .bind(&a.provider)
        .bind(&a.name)
        .bind(&a.account_hint)
        .bind(&a.credentials)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "provider account id"))?;
        let entry = AuditEntry::new(&a.tenant_id, audit::kinds::PROVIDER_ACCOUNT, &a.id)
            .after(account_snapshot(a));
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's account `id`, unless deleted.
    pub async fn get_provider_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ProviderAccountRow>, StoreError> {
        live_account(&self.pool, tenant_id, id).await
    }

    /// The account `id` whatever its tenant: for provider webhooks, whose URL names the
    /// account and whose signature, not an API key, proves who sent them.
    pub async fn find_provider_account(
        &self,
        id: &str,
    ) -> Result<Option<ProviderAccountRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM provider_accounts WHERE id = $1 AND deleted_at IS NULL");
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(account).transpose()?)
    }

    pub async fn list_provider_accounts(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<ProviderAccountRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM provider_accounts WHERE tenant_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(account).collect::<Result<_, _>>()?)
    }

    /// Soft delete; false when there is no such account (or it is already deleted).
    pub async fn delete_provider_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = live_account(&mut *tx, tenant_id, id).await?;
        let r = sqlx::query(
            "UPDATE provider_accounts SET deleted_at = $1 \
             WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL",
        )
        .bind(now_micros())
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        if let Some(before) = before.filter(|_| r.rows_affected() == 1) {
            let entry = AuditEntry::new(tenant_id, audit::kinds::PROVIDER_ACCOUNT, id)
                .before(account_snapshot(&before));
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Every account's sealed credentials (deleted ones included: they stay at rest), for
    /// master-key rotation and the startup key check: `(id, sealed)`.
    pub async fn all_provider_credentials(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, credentials FROM provider_accounts ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("credentials")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Replaces the sealed credentials of `id` if they still are `expected` (rotation).
    pub async fn replace_provider_credentials(
        &self,
        id: &str,
        expected: &str,
        sealed: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE provider_accounts SET credentials = $1 WHERE id = $2 AND credentials = $3",
        )
        .bind(sealed)
        .bind(id)
        .bind(expected)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn insert_provider_event(&self, e: &ProviderEventRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provider_events (id, account_id, kind, call_sid, params, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.id)
        .bind(&e.account_id)
        .bind(&e.kind)
        .bind(&e.call_sid)
        .bind(&e.params)
        .bind(e.received_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::unique(e, "provider event id"))?;
        Ok(())
    }

    /// Up to `limit` events of the account in `(received_at, id)` order, strictly after
    /// `after` when given, and only those of one call when `call_sid` is given.
    pub async fn list_provider_events(
        &self,
        account_id: &str,
        call_sid: Option<&str>,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<ProviderEventRow>, StoreError> {
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        // '' never is a stored call_sid (absent ones are NULL): it stands for "any call".
        let rows = sqlx::query(
            "SELECT id, account_id, kind, call_sid, params, received_at FROM provider_events \
             WHERE account_id = $1 AND (received_at > $2 OR (received_at = $2 AND id > $3)) \
             AND ($5 = '' OR call_sid = $5) \
             ORDER BY received_at, id LIMIT $4",
        )
        .bind(account_id)
        .bind(at)
        .bind(id)
        .bind(limit)
        .bind(call_sid.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event).collect::<Result<_, _>>()?)
    }
}

/// The audit's view of an account: its credentials only as a marker.
fn account_snapshot(a: &ProviderAccountRow) -> serde_json::Value {
    serde_json::json!({
        "provider": a.provider,
        "name": a.name,
        "account_hint": a.account_hint,
        "secrets": {"credentials": "set"},
    })
}

/// A tenant's account unless deleted (read in a write's transaction, or from the pool).
async fn live_account<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant_id: &str,
    id: &str,
) -> Result<Option<ProviderAccountRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM provider_accounts \
         WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL"
    );
    let r = sqlx::query(&sql)
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(e)
        .await?;
    Ok(r.as_ref().map(account).transpose()?)
}
