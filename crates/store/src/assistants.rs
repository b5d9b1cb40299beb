//! Assistants and the per-tenant webhook signing secret.

use crate::audit::{self, AuditEntry};
use crate::{now_micros, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct AssistantRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// The validated configuration, JSON.
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn row(r: &AnyRow) -> Result<AssistantRow, sqlx::Error> {
    Ok(AssistantRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        name: r.try_get("name")?,
        config: r.try_get("config")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A tenant's signing secret, sealed; `previous` is the one a rotation replaced.
#[derive(Debug, Clone)]
pub struct WebhookSecretRow {
    pub sealed: String,
    pub previous_sealed: Option<String>,
    pub rotated_at: i64,
}

/// One tenant's sealed webhook secrets, for re-sealing under a new master key.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSecretRecord {
    pub tenant_id: String,
    pub sealed: String,
    pub previous_sealed: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, name, config, created_at, updated_at";

impl Store {
    pub async fn insert_assistant(&self, a: &AssistantRow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO assistants (id, tenant_id, name, config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.id)
        .bind(&a.tenant_id)
        .bind(&a.name)
        .bind(&a.config)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "assistant id"))?;
        let entry = AuditEntry::new(&a.tenant_id, audit::kinds::ASSISTANT, &a.id)
            .after(assistant_snapshot(&a.name, &a.config));
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_assistant(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<AssistantRow>, StoreError> {
        live_assistant(&self.pool, tenant_id, id).await
    }

    pub async fn list_assistants(&self, tenant_id: &str) -> Result<Vec<AssistantRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM assistants WHERE tenant_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Replaces name and configuration; false when the assistant is gone.
    pub async fn update_assistant(
        &self,
        tenant_id: &str,
        id: &str,
        name: &str,
        config: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = live_assistant(&mut *tx, tenant_id, id).await?;
        let r = sqlx::query(
            "UPDATE assistants SET name = $1, config = $2, updated_at = $3 \
             WHERE id = $4 AND tenant_id = $5 AND deleted_at IS NULL",
        )
        .bind(name)
        .bind(config)
        .bind(now_micros())
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        if let Some(b) = before.filter(|_| r.rows_affected() == 1) {
            let entry = AuditEntry::new(tenant_id, audit::kinds::ASSISTANT, id)
                .before(assistant_snapshot(&b.name, &b.config))
                .after(assistant_snapshot(name, config));
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Soft delete: calls already placed keep their frozen plan.
    pub async fn delete_assistant(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = live_assistant(&mut *tx, tenant_id, id).await?;
        let r = sqlx::query(
            "UPDATE assistants SET deleted_at = $1 WHERE id = $2 AND tenant_id = $3 \
             AND deleted_at IS NULL",
        )
        .bind(now_micros())
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        if let Some(b) = before.filter(|_| r.rows_affected() == 1) {
            let entry = AuditEntry::new(tenant_id, audit::kinds::ASSISTANT, id)
                .before(assistant_snapshot(&b.name, &b.config));
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn webhook_secret(
        &self,
        tenant_id: &str,
    ) -> Result<Option<WebhookSecretRow>, StoreError> {
        let r = sqlx::query(
            "SELECT sealed, previous_sealed, rotated_at FROM webhook_secrets WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| -> Result<_, sqlx::Error> {
            Ok(WebhookSecretRow {
                sealed: r.try_get("sealed")?,
                previous_sealed: r.try_get("previous_sealed")?,
                rotated_at: r.try_get("rotated_at")?,
            })
        })
        .transpose()?)
    }

    /// Stores a first secret; false (and nothing written) when the tenant already has one.
    pub async fn insert_webhook_secret(
        &self,
        tenant_id: &str,
        sealed: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO webhook_secrets (tenant_id, sealed, previous_sealed, rotated_at) \
             VALUES ($1, $2, NULL, $3) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(sealed)
        .bind(now_micros())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Forgets the previous secret at once, so deliveries are signed with the current one
    /// only (after a leak, waiting out the overlap is not an option). `false` when there was
    /// no previous secret.
    pub async fn retire_previous_webhook_secret(
        &self,
        tenant_id: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE webhook_secrets SET previous_sealed = NULL \
             WHERE tenant_id = $1 AND previous_sealed IS NOT NULL",
        )
        .bind(tenant_id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Makes `sealed` the secret and keeps the one it replaces as `previous`.
    pub async fn rotate_webhook_secret(
        &self,
        tenant_id: &str,
        sealed: &str,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        sqlx::query(
            "INSERT INTO webhook_secrets (tenant_id, sealed, previous_sealed, rotated_at) \
             VALUES ($1, $2, NULL, $3) ON CONFLICT (tenant_id) DO UPDATE SET \
             previous_sealed = webhook_secrets.sealed, sealed = $2, rotated_at = $3",
        )
        .bind(tenant_id)
        .bind(sealed)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Every tenant's sealed webhook secrets (current and previous), for master-key rotation
    /// and the startup key check.
    pub async fn all_webhook_secrets(&self) -> Result<Vec<WebhookSecretRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, sealed, previous_sealed FROM webhook_secrets ORDER BY tenant_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookSecretRecord {
                    tenant_id: r.try_get("tenant_id")?,
                    sealed: r.try_get("sealed")?,
                    previous_sealed: r.try_get("previous_sealed")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Replaces a tenant's sealed secrets with `new` if both still are `expected` (for
    /// master-key rotation: a secret rotation saved meanwhile is not undone). `false` on a
    /// miss. The time of the last secret rotation is kept: re-sealing changes no secret.
    pub async fn replace_webhook_secrets(
        &self,
        expected: &WebhookSecretRecord,
        sealed: &str,
        previous_sealed: Option<&str>,
    ) -> Result<bool, StoreError> {
        // Sealed values are never empty, so '' stands for "no previous secret" on both sides
        // (portable, and no NULL comparison).
        let done = sqlx::query(
            "UPDATE webhook_secrets SET sealed = $1, previous_sealed = $2 \
             WHERE tenant_id = $3 AND sealed = $4 AND COALESCE(previous_sealed, '') = $5",
        )
        .bind(sealed)
        .bind(previous_sealed)
        .bind(&expected.tenant_id)
        .bind(&expected.sealed)
        .bind(expected.previous_sealed.as_deref().unwrap_or_default())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A tenant's live assistant (read in a write's transaction, or from the pool).
async fn live_assistant<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant_id: &str,
    id: &str,
) -> Result<Option<AssistantRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM assistants WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL"
    );
    let r = sqlx::query(&sql)
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(e)
        .await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// The audit's view of an assistant (its configuration holds no secret).
fn assistant_snapshot(name: &str, config: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "config": audit::json_column(config)})
}
