//! A tenant's own view of itself: who it is and its keys (never their hashes).

use crate::{Store, StoreError};

/// A tenant as it sees itself.
#[derive(Debug, Clone)]
pub struct TenantProfile {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: i64,
}

/// One of a tenant's keys: its public id, name and prefix.
#[derive(Debug, Clone)]
pub struct TenantKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// What `revoke_tenant_key` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRevocation {
    Revoked,
    /// No unrevoked key of this tenant has this id.
    NotFound,
    /// It is the tenant's last unrevoked key, which is kept.
    LastKey,
}

impl Store {
    /// Adds a key to an existing tenant.
    pub async fn add_tenant_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> Result<i64, StoreError> {
        let now = crate::now_micros();
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key_id)
        .bind(tenant_id)
        .bind(name)
        .bind(key_hash)
        .bind(prefix)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::unique(e, "api key"))?;
        Ok(now)
    }

    /// Revokes one of the tenant's keys, unless it is the last unrevoked one: the check and
    /// the update are one statement, so two concurrent revocations cannot remove both of the
    /// last two keys.
    pub async fn revoke_tenant_key(
        &self,
        tenant_id: &str,
        key_id: &str,
    ) -> Result<KeyRevocation, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 \
             AND revoked_at IS NULL AND (SELECT COUNT(*) FROM api_keys \
             WHERE tenant_id = $3 AND revoked_at IS NULL) > 1",
        )
        .bind(crate::now_micros())
        .bind(key_id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 1 {
            // Instances that remember the key forget it before the revocation is acknowledged.
            let announced = self.announce(&mut tx).await?;
            tx.commit().await?;
            self.confirm_heard(announced).await;
            return Ok(KeyRevocation::Revoked);
        }
        tx.commit().await?;
        let live: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM api_keys WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
        )
        .bind(key_id)
        .bind(tenant_id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(if live.is_some() {
            KeyRevocation::LastKey
        } else {
            KeyRevocation::NotFound
        })
    }

    pub async fn tenant_profile(
        &self,
        tenant_id: &str,
    ) -> Result<Option<TenantProfile>, StoreError> {
        let row: Option<(String, String, String, i64)> =
            sqlx::query_as("SELECT id, email, name, created_at FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, email, name, created_at)| TenantProfile {
            id,
            email,
            name,
            created_at,
        }))
    }

    /// The tenant's keys, oldest first, revoked ones included.
    pub async fn tenant_keys(&self, tenant_id: &str) -> Result<Vec<TenantKey>, StoreError> {
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, prefix, created_at, revoked_at FROM api_keys \
             WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, prefix, created_at, revoked_at)| TenantKey {
                id,
                name,
                prefix,
                created_at,
                revoked_at,
            })
            .collect())
    }
}
