//! Dashboard sessions: made from an API key at sign-in, looked up by the hash of the cookie's
//! token on every page, ended by sign-out, expiry or the key's revocation.

use crate::{now_micros, Store, StoreError};
use sqlx::Row;

/// A live session, as a page needs it.
#[derive(Debug, Clone)]
pub struct DashboardSession {
    pub tenant_id: String,
    pub tenant_name: String,
    pub csrf_token: String,
    pub expires_at: i64,
    /// The key the session was signed in with: the dashboard's changes are made with it.
    pub api_key_id: String,
}

impl Store {
    /// The unrevoked key with this hash: `(key id, tenant id)`.
    pub async fn api_key_for_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("id")?, r.try_get("tenant_id")?)),
            None => None,
        })
    }

    pub async fn create_dashboard_session(
        &self,
        token_hash: &str,
        tenant_id: &str,
        api_key_id: &str,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        // Expired and signed-out sessions of this tenant go at each sign-in, so the table holds
        // the live ones and a few more.
        sqlx::query(
            "DELETE FROM dashboard_sessions WHERE tenant_id = $1 \
             AND (expires_at <= $2 OR revoked_at IS NOT NULL)",
        )
        .bind(tenant_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        sqlx::query(
            "INSERT INTO dashboard_sessions \
             (token_hash, tenant_id, api_key_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(tenant_id)
        .bind(api_key_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::unique(e, "session"))?;
        Ok(())
    }

    /// The session whose token hashes to `token_hash`, if it is neither expired, signed out,
    /// nor made with a key since revoked.
    pub async fn dashboard_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<DashboardSession>, StoreError> {
        let row = sqlx::query(
            "SELECT s.tenant_id, t.name, s.csrf_token, s.expires_at, s.api_key_id FROM dashboard_sessions s \
             JOIN api_keys k ON k.id = s.api_key_id JOIN tenants t ON t.id = s.tenant_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND k.revoked_at IS NULL \
             AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_micros())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(DashboardSession {
            tenant_id: r.try_get("tenant_id")?,
            tenant_name: r.try_get("name")?,
            csrf_token: r.try_get("csrf_token")?,
            expires_at: r.try_get("expires_at")?,
            api_key_id: r.try_get("api_key_id")?,
        }))
    }

    /// Signs a session out; `false` when it was not live.
    pub async fn revoke_dashboard_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE dashboard_sessions SET revoked_at = $1 \
             WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(token_hash)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Signs out every dashboard session of a tenant (all browsers); returns how many.
    pub async fn revoke_dashboard_sessions(&self, tenant_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE dashboard_sessions SET revoked_at = $1 \
             WHERE tenant_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(tenant_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
