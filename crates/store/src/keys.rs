//! Tenants and their API keys. A tenant is identified by its email; `keys create` for a known
//! email adds a key to that tenant rather than making a second one.

use crate::{now_micros, Store, StoreError};
use sqlx::Row;

pub struct NewApiKey<'a> {
    pub key_id: &'a str,
    pub new_tenant_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
}

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Stores a new key (by hash), creating the tenant for `email` if it has none yet.
    /// Returns the tenant id the key belongs to.
    pub async fn create_api_key(&self, key: NewApiKey<'_>) -> Result<String, StoreError> {
        let now = now_micros();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (id, email, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(key.new_tenant_id)
        .bind(key.email)
        .bind(key.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let tenant_id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE email = $1")
            .bind(key.email)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.key_id)
        .bind(&tenant_id)
        .bind(key.name)
        .bind(key.key_hash)
        .bind(key.prefix)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "api key"))?;
        tx.commit().await?;
        Ok(tenant_id)
    }

    /// Whether a key with this hash exists and was revoked (to tell its holder so).
    pub async fn api_key_revoked(&self, key_hash: &str) -> Result<bool, StoreError> {
        let r =
            sqlx::query("SELECT 1 FROM api_keys WHERE key_hash = $1 AND revoked_at IS NOT NULL")
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(r.is_some())
    }

    /// The tenant owning an unrevoked key with this hash.
    pub async fn tenant_for_key_hash(&self, key_hash: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.id, k.tenant_id, t.email, k.name, k.prefix, k.created_at, k.revoked_at \
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id ORDER BY k.created_at, k.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiKeyRecord {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    prefix: r.try_get("prefix")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Revokes a key; `false` when no unrevoked key has this id.
    pub async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_micros())
                .bind(key_id)
                .execute(&mut *tx)
                .await?;
        let revoked = done.rows_affected() == 1;
        // Instances that remember the key forget it before the revocation is acknowledged.
        let announced = if revoked {
            self.announce(&mut tx).await?
        } else {
            None
        };
        tx.commit().await?;
        self.confirm_heard(announced).await;
        Ok(revoked)
    }
}
