//! Trunk rows: the desired state the provisioner converges LiveKit to.

use crate::{now_micros, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct TrunkRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub trunk_type: String,
    pub config: String,
    pub secrets: String,
    pub status: String,
    pub livekit_trunk_id: Option<String>,
    pub desired_version: i64,
    pub synced_version: i64,
    pub last_error: Option<String>,
    pub synced_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `GET /sip/list` shows: never any part of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkSummary {
    pub id: String,
    pub name: String,
    pub trunk_type: String,
    pub created_at: i64,
}

/// The sealed secrets of one trunk, for re-sealing under a new master key.
#[derive(Debug, Clone)]
pub struct SecretsRecord {
    pub id: String,
    pub secrets: String,
}

const COLUMNS: &str =
    "id, tenant_id, name, trunk_type, config, secrets, status, livekit_trunk_id, \
     desired_version, synced_version, last_error, synced_at, created_at, updated_at";

fn row(r: &AnyRow) -> Result<TrunkRow, sqlx::Error> {
    Ok(TrunkRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        name: r.try_get("name")?,
        trunk_type: r.try_get("trunk_type")?,
        config: r.try_get("config")?,
        secrets: r.try_get("secrets")?,
        status: r.try_get("status")?,
        livekit_trunk_id: r.try_get("livekit_trunk_id")?,
        desired_version: r.try_get("desired_version")?,
        synced_version: r.try_get("synced_version")?,
        last_error: r.try_get("last_error")?,
        synced_at: r.try_get("synced_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Status of a create still in flight: the row exists (so a crash leaves a trace the
/// reconciler cleans up) but no client has been told about it, so no read shows it.
pub const PENDING: &str = "pending";

impl Store {
    pub async fn insert_trunk(&self, t: &TrunkRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO trunks (id, tenant_id, name, trunk_type, config, secrets, status, \
             livekit_trunk_id, desired_version, synced_version, last_error, synced_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&t.id)
        .bind(&t.tenant_id)
        .bind(&t.name)
        .bind(&t.trunk_type)
        .bind(&t.config)
        .bind(&t.secrets)
        .bind(&t.status)
        .bind(&t.livekit_trunk_id)
        .bind(t.desired_version)
        .bind(t.synced_version)
        .bind(&t.last_error)
        .bind(t.synced_at)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::unique(e, "trunk id"))?;
        self.trunks_changed(&t.id).await?;
        Ok(())
    }

    /// A tenant's active trunk (never another tenant's, never a deleted or pending one).
    pub async fn get_trunk(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<TrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM trunks WHERE id = $1 AND tenant_id = $2 \
             AND deleted_at IS NULL AND status <> '{PENDING}'"
        );
        let r = sqlx::query(&sql)
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// A live (not deleted) row by id, whatever its tenant or status: for the provisioner,
    /// which re-reads rows before acting on them.
    pub async fn live_trunk(&self, id: &str) -> Result<Option<TrunkRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM trunks WHERE id = $1 AND deleted_at IS NULL");
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// A tenant's active trunks in creation order.
    pub async fn list_trunks(
        &self,
        tenant_id: &str,
    ) -> Result<std::sync::Arc<Vec<TrunkSummary>>, StoreError> {
        let Some(cache) = self.list_cache.as_ref().filter(|_| !self.shares_database()) else {
            return Ok(std::sync::Arc::new(self.query_trunk_list(tenant_id).await?));
        };
        if let Some(hit) = cache.get(tenant_id) {
            return Ok(hit);
        }
        let generation = cache.generation();
        let list = std::sync::Arc::new(self.query_trunk_list(tenant_id).await?);
        cache.put(tenant_id, generation, list.clone());
        Ok(list)
    }

    pub(crate) async fn query_trunk_list(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<TrunkSummary>, StoreError> {
        let sql = format!(
            "SELECT id, name, trunk_type, created_at FROM trunks \
             WHERE tenant_id = $1 AND deleted_at IS NULL AND status <> '{PENDING}' \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TrunkSummary {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    trunk_type: r.try_get("trunk_type")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Every live row (pending ones included), for the reconciler.
    pub async fn all_live_trunks(&self) -> Result<Vec<TrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM trunks WHERE deleted_at IS NULL ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Writes a new desired state if nobody changed the row since `expected_version` was read.
    /// Returns `false` on a lost race (the caller re-reads and retries or reports a conflict).
    pub async fn update_trunk_desired(
        &self,
        id: &str,
        expected_version: i64,
        name: &str,
        config: &str,
        secrets: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE trunks SET name = $1, config = $2, secrets = $3, \
             desired_version = desired_version + 1, updated_at = $4 \
             WHERE id = $5 AND desired_version = $6 AND deleted_at IS NULL",
        )
        .bind(name)
        .bind(config)
        .bind(secrets)
        .bind(now_micros())
        .bind(id)
        .bind(expected_version)
        .execute(&self.writer)
        .await?;
        self.trunks_changed(id).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Completes a create: the pending row becomes provisioned. `false` when the row is no
    /// longer pending (the reconciler gave up on it), in which case the caller must undo its
    /// LiveKit trunk and must not acknowledge the create.
    pub async fn confirm_created(
        &self,
        id: &str,
        livekit_trunk_id: &str,
        status: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE trunks SET status = $1, livekit_trunk_id = $2, synced_version = desired_version, \
             last_error = NULL, synced_at = $3 WHERE id = $4 AND status = '{PENDING}' AND deleted_at IS NULL"
        ))
        .bind(status)
        .bind(livekit_trunk_id)
        .bind(now_micros())
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.trunks_changed(id).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that LiveKit holds `version` of this trunk under `livekit_trunk_id`. `false`
    /// when the row moved on meanwhile (deleted, or a newer version saved).
    pub async fn mark_synced(
        &self,
        id: &str,
        version: i64,
        livekit_trunk_id: &str,
        status: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE trunks SET livekit_trunk_id = $1, synced_version = $2, status = $3, \
             last_error = NULL, synced_at = $4 WHERE id = $5 AND desired_version = $2 AND deleted_at IS NULL",
        )
        .bind(livekit_trunk_id)
        .bind(version)
        .bind(status)
        .bind(now_micros())
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.trunks_changed(id).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets what LiveKit was last told, so the next reconciler pass pushes the whole stored
    /// configuration (after a LiveKit change whose database write failed).
    pub async fn mark_unsynced(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE trunks SET synced_version = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        self.trunks_changed(id).await?;
        Ok(())
    }

    /// Sets the provisioning status and the last error of `version` of a trunk.
    pub async fn set_trunk_status(
        &self,
        id: &str,
        version: i64,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE trunks SET status = $1, last_error = $2 \
             WHERE id = $3 AND desired_version = $4 AND deleted_at IS NULL",
        )
        .bind(status)
        .bind(last_error)
        .bind(id)
        .bind(version)
        .execute(&self.writer)
        .await?;
        self.trunks_changed(id).await?;
        Ok(done.rows_affected() == 1)
    }

    /// For each of `ids` this database holds (deleted rows included), whether it is still
    /// live. The reconciler asks only about the ids LiveKit's trunks name, so the cost follows
    /// LiveKit's trunk count, not the ever-growing number of tombstones.
    pub async fn trunk_liveness(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        self.liveness("trunks", ids).await
    }

    /// [`Store::trunk_liveness`] for any table with `id` and `deleted_at` (a constant name,
    /// never input).
    pub(crate) async fn liveness(
        &self,
        table: &'static str,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        // Bounded batches keep every statement under both databases' parameter limits.
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, deleted_at FROM {table} WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.insert(
                    r.try_get::<String, _>("id")?,
                    r.try_get::<Option<i64>, _>("deleted_at")?.is_none(),
                );
            }
        }
        Ok(out)
    }

    /// Deactivates a tenant's trunk; `false` when it was not active.
    pub async fn mark_trunk_deleted(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let now = now_micros();
        let done = sqlx::query(
            "UPDATE trunks SET deleted_at = $1, updated_at = $1, status = 'deleted' \
             WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(tenant_id)
        .execute(&self.writer)
        .await?;
        self.trunks_changed(id).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up on a create no client was told about: the row stays as a tombstone
    /// (`abandoned`, deleted), so a LiveKit trunk that names it and turns up later is still
    /// recognised as ours and removed. `false` when the row is no longer pending.
    pub async fn abandon_pending_trunk(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_micros();
        let done = sqlx::query(&format!(
            "UPDATE trunks SET status = 'abandoned', deleted_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = '{PENDING}' AND deleted_at IS NULL"
        ))
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.trunks_changed(id).await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn all_trunk_secrets(&self) -> Result<Vec<SecretsRecord>, StoreError> {
        let rows = sqlx::query("SELECT id, secrets FROM trunks ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SecretsRecord {
                    id: r.try_get("id")?,
                    secrets: r.try_get("secrets")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Replaces one trunk's sealed secrets if they still are `expected` (for master-key
    /// rotation: a PATCH saved meanwhile is not overwritten). `false` on a miss.
    pub async fn replace_trunk_secrets(
        &self,
        id: &str,
        expected: &str,
        secrets: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE trunks SET secrets = $1 WHERE id = $2 AND secrets = $3")
            .bind(secrets)
            .bind(id)
            .bind(expected)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
