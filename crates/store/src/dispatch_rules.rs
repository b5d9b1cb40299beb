//! Dispatch rule rows and the keys that keep two rules of an account from covering the same
//! (trunk, caller, dialed number, PIN), checked atomically under the account's lock (see
//! `inbound_trunks.rs`).

use crate::inbound_trunks::lock_tenant;
use crate::{now_micros, Store, StoreError, PENDING_STATUS as PENDING};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

#[derive(Debug, Clone, PartialEq)]
pub struct DispatchRuleRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub config: String,
    pub status: String,
    pub livekit_rule_id: Option<String>,
    pub desired_version: i64,
    pub synced_version: i64,
    pub last_error: Option<String>,
    pub synced_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The trunk id a key uses for a rule on every trunk of the account.
pub const EVERY_TRUNK: &str = "*";

/// One combination a rule covers; `""` in a number column means "any".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    pub trunk_id: String,
    pub caller: String,
    pub dialed: String,
    pub pin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleConflict {
    /// Another rule of the account covers `key` (or overlaps it: one rule on every trunk,
    /// the other on one of them).
    Duplicate {
        rule_id: String,
        rule_name: String,
        key: RuleKey,
    },
    /// A named trunk is not an active inbound trunk of the account.
    NoSuchTrunk { trunk_id: String },
}

pub(crate) const COLUMNS: &str = "id, tenant_id, name, config, status, livekit_rule_id, \
     desired_version, synced_version, last_error, synced_at, created_at, updated_at";

pub(crate) fn row(r: &AnyRow) -> Result<DispatchRuleRow, sqlx::Error> {
    Ok(DispatchRuleRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        name: r.try_get("name")?,
        config: r.try_get("config")?,
        status: r.try_get("status")?,
        livekit_rule_id: r.try_get("livekit_rule_id")?,
        desired_version: r.try_get("desired_version")?,
        synced_version: r.try_get("synced_version")?,
        last_error: r.try_get("last_error")?,
        synced_at: r.try_get("synced_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn holder(
    tx: &mut Transaction<'static, Any>,
    sql: &str,
    tenant_id: &str,
    rule_id: &str,
    k: &RuleKey,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let r = sqlx::query(sql)
        .bind(tenant_id)
        .bind(&k.trunk_id)
        .bind(&k.caller)
        .bind(&k.dialed)
        .bind(&k.pin)
        .bind(rule_id)
        .fetch_optional(&mut **tx)
        .await?;
    r.map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .transpose()
}

/// Checks the named trunks and claims `keys` for `rule_id` (keys it holds already are kept).
async fn reserve(
    tx: &mut Transaction<'static, Any>,
    tenant_id: &str,
    rule_id: &str,
    trunk_ids: &[String],
    keys: &[RuleKey],
) -> Result<Result<(), RuleConflict>, sqlx::Error> {
    for t in trunk_ids {
        let live: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM inbound_trunks WHERE id = $1 AND tenant_id = $2 \
             AND deleted_at IS NULL AND status <> '{PENDING}'"
        ))
        .bind(t)
        .bind(tenant_id)
        .fetch_optional(&mut **tx)
        .await?;
        if live.is_none() {
            return Ok(Err(RuleConflict::NoSuchTrunk {
                trunk_id: t.clone(),
            }));
        }
    }
    const SAME: &str = "SELECT r.id, r.name FROM dispatch_rule_keys k JOIN dispatch_rules r ON r.id = k.rule_id \
         WHERE k.tenant_id = $1 AND k.trunk_id = $2 AND k.caller = $3 AND k.dialed = $4 AND k.pin = $5 AND k.rule_id <> $6";
    // A rule on every trunk overlaps each rule on one trunk with the same numbers and PIN
    // (LiveKit gets it as the list of all the account's trunks), and the reverse.
    const EVERY_VS_ONE: &str = "SELECT r.id, r.name FROM dispatch_rule_keys k JOIN dispatch_rules r ON r.id = k.rule_id \
         WHERE k.tenant_id = $1 AND k.trunk_id <> $2 AND k.trunk_id <> '*' AND k.caller = $3 AND k.dialed = $4 AND k.pin = $5 AND k.rule_id <> $6 \
         ORDER BY r.created_at, r.id LIMIT 1";
    const ONE_VS_EVERY: &str = "SELECT r.id, r.name FROM dispatch_rule_keys k JOIN dispatch_rules r ON r.id = k.rule_id \
         WHERE k.tenant_id = $1 AND k.trunk_id = '*' AND $2 <> '*' AND k.caller = $3 AND k.dialed = $4 AND k.pin = $5 AND k.rule_id <> $6 \
         LIMIT 1";
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    for k in &keys {
        let overlap = if k.trunk_id == EVERY_TRUNK {
            EVERY_VS_ONE
        } else {
            ONE_VS_EVERY
        };
        for sql in [SAME, overlap] {
            if let Some((id, name)) = holder(tx, sql, tenant_id, rule_id, k).await? {
                return Ok(Err(RuleConflict::Duplicate {
                    rule_id: id,
                    rule_name: name,
                    key: k.clone(),
                }));
            }
        }
        let done = sqlx::query(
            "INSERT INTO dispatch_rule_keys (tenant_id, trunk_id, caller, dialed, pin, rule_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, trunk_id, caller, dialed, pin) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&k.trunk_id)
        .bind(&k.caller)
        .bind(&k.dialed)
        .bind(&k.pin)
        .bind(rule_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            if let Some((id, name)) = holder(tx, SAME, tenant_id, rule_id, k).await? {
                return Ok(Err(RuleConflict::Duplicate {
                    rule_id: id,
                    rule_name: name,
                    key: k.clone(),
                }));
            }
        }
    }
    Ok(Ok(()))
}

async fn settle(
    tx: &mut Transaction<'static, Any>,
    rule_id: &str,
    keep: &[RuleKey],
) -> Result<(), sqlx::Error> {
    let held = sqlx::query(
        "SELECT tenant_id, trunk_id, caller, dialed, pin FROM dispatch_rule_keys WHERE rule_id = $1",
    )
    .bind(rule_id)
    .fetch_all(&mut **tx)
    .await?;
    for r in held {
        let key = RuleKey {
            trunk_id: r.try_get("trunk_id")?,
            caller: r.try_get("caller")?,
            dialed: r.try_get("dialed")?,
            pin: r.try_get("pin")?,
        };
        if keep.contains(&key) {
            continue;
        }
        sqlx::query(
            "DELETE FROM dispatch_rule_keys WHERE rule_id = $1 AND trunk_id = $2 \
             AND caller = $3 AND dialed = $4 AND pin = $5",
        )
        .bind(rule_id)
        .bind(&key.trunk_id)
        .bind(&key.caller)
        .bind(&key.dialed)
        .bind(&key.pin)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Stores a new (pending) rule with its keys, or nothing on a conflict.
    pub async fn insert_dispatch_rule(
        &self,
        r: &DispatchRuleRow,
        trunk_ids: &[String],
        keys: &[RuleKey],
    ) -> Result<Result<(), RuleConflict>, StoreError> {
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, &r.tenant_id).await?;
        sqlx::query(
            "INSERT INTO dispatch_rules (id, tenant_id, name, config, status, livekit_rule_id, \
             desired_version, synced_version, last_error, synced_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&r.id)
        .bind(&r.tenant_id)
        .bind(&r.name)
        .bind(&r.config)
        .bind(&r.status)
        .bind(&r.livekit_rule_id)
        .bind(r.desired_version)
        .bind(r.synced_version)
        .bind(&r.last_error)
        .bind(r.synced_at)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "dispatch rule id"))?;
        if let Err(conflict) = reserve(&mut tx, &r.tenant_id, &r.id, trunk_ids, keys).await? {
            tx.rollback().await?;
            return Ok(Err(conflict));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Adds `keys` to a rule's (ahead of a change), or nothing on a conflict.
    pub async fn reserve_rule_keys(
        &self,
        tenant_id: &str,
        rule_id: &str,
        trunk_ids: &[String],
        keys: &[RuleKey],
    ) -> Result<Result<(), RuleConflict>, StoreError> {
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        if let Err(conflict) = reserve(&mut tx, tenant_id, rule_id, trunk_ids, keys).await? {
            tx.rollback().await?;
            return Ok(Err(conflict));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Leaves a rule holding exactly `keep` of its keys.
    pub async fn settle_rule_keys(
        &self,
        tenant_id: &str,
        rule_id: &str,
        keep: &[RuleKey],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        settle(&mut tx, rule_id, keep).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_dispatch_rule(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<DispatchRuleRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM dispatch_rules WHERE id = $1 AND tenant_id = $2 \
             AND deleted_at IS NULL AND status <> '{PENDING}'"
        );
        let r = sqlx::query(&sql)
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    pub async fn list_dispatch_rules(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<DispatchRuleRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM dispatch_rules WHERE tenant_id = $1 AND deleted_at IS NULL \
             AND status <> '{PENDING}' ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// The account's active rules that apply to every one of its trunks.
    pub async fn every_trunk_rules(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<DispatchRuleRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM dispatch_rules WHERE tenant_id = $1 AND deleted_at IS NULL \
             AND status <> '{PENDING}' AND id IN \
             (SELECT rule_id FROM dispatch_rule_keys WHERE tenant_id = $1 AND trunk_id = '*') \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    pub async fn update_rule_desired(
        &self,
        id: &str,
        expected_version: i64,
        name: &str,
        config: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE dispatch_rules SET name = $1, config = $2, \
             desired_version = desired_version + 1, updated_at = $3 \
             WHERE id = $4 AND desired_version = $5 AND deleted_at IS NULL",
        )
        .bind(name)
        .bind(config)
        .bind(now_micros())
        .bind(id)
        .bind(expected_version)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn confirm_rule_created(
        &self,
        id: &str,
        livekit_rule_id: Option<&str>,
        status: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE dispatch_rules SET status = $1, livekit_rule_id = $2, \
             synced_version = CASE WHEN $2 IS NULL THEN 0 ELSE desired_version END, \
             last_error = NULL, synced_at = $3 WHERE id = $4 AND status = '{PENDING}' AND deleted_at IS NULL"
        ))
        .bind(status)
        .bind(livekit_rule_id)
        .bind(now_micros())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the LiveKit state of `version`: its rule id (None when LiveKit holds none)
    /// and status. `false` when the row moved on meanwhile.
    pub async fn mark_rule_synced(
        &self,
        id: &str,
        version: i64,
        livekit_rule_id: Option<&str>,
        status: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE dispatch_rules SET livekit_rule_id = $1, synced_version = $2, status = $3, \
             last_error = NULL, synced_at = $4 WHERE id = $5 AND desired_version = $2 AND deleted_at IS NULL",
        )
        .bind(livekit_rule_id)
        .bind(version)
        .bind(status)
        .bind(now_micros())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_rule_status(
        &self,
        id: &str,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dispatch_rules SET status = $1, last_error = $2, synced_version = 0 \
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(status)
        .bind(last_error)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn mark_rule_unsynced(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE dispatch_rules SET synced_version = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn abandon_pending_rule(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let now = now_micros();
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        let done = sqlx::query(&format!(
            "UPDATE dispatch_rules SET status = 'abandoned', deleted_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = '{PENDING}' AND deleted_at IS NULL"
        ))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let retired = done.rows_affected() == 1;
        // A rule confirmed meanwhile is live: its keys stay.
        if retired {
            settle(&mut tx, id, &[]).await?;
        }
        tx.commit().await?;
        Ok(retired)
    }

    /// Deletes an account's rule and its keys; `false` when it was not active.
    pub async fn mark_rule_deleted(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let now = now_micros();
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        let done = sqlx::query(
            "UPDATE dispatch_rules SET deleted_at = $1, updated_at = $1, status = 'deleted' \
             WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        settle(&mut tx, id, &[]).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
