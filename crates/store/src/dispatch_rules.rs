//! Dispatch rule rows and the keys that keep two rules of an account from covering the same
//! (trunk, caller, dialed number, PIN), checked atomically under the account's lock (see
//! `inbound_trunks.rs`).

use crate::resource::{resource_row, Claims, Resource};
use crate::{Status, Store, StoreError};
use sqlx::{Any, Row, Transaction};

resource_row! {
    pub struct DispatchRuleRow, new NewDispatchRule {
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        pub config: String,
        pub livekit_rule_id: Option<String>,
    }
    kind {
        table: "dispatch_rules",
        audit_kind: crate::audit::kinds::DISPATCH_RULE,
        remote_id: "livekit_rule_id",
        what: "dispatch rule id",
        claims: Claims::RuleKeys,
        secrets: false,
        status_forgets_sync: true,
    }
    remote: livekit_rule_id,
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
pub(crate) async fn reserve(
    tx: &mut Transaction<'static, Any>,
    tenant_id: &str,
    rule_id: &str,
    trunk_ids: &[String],
    keys: &[RuleKey],
) -> Result<Result<(), RuleConflict>, sqlx::Error> {
    for t in trunk_ids {
        let live: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM inbound_trunks WHERE id = $1 AND tenant_id = $2 \
             AND deleted_at IS NULL AND status <> '{}'",
            Status::Pending.as_str()
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

pub(crate) async fn settle(
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
    /// The account's active rules that apply to every one of its trunks.
    pub async fn every_trunk_rules(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<DispatchRuleRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM dispatch_rules WHERE tenant_id = $1 AND deleted_at IS NULL \
             AND status <> '{}' AND id IN \
             (SELECT rule_id FROM dispatch_rule_keys WHERE tenant_id = $1 AND trunk_id = '*') \
             ORDER BY created_at, id",
            DispatchRuleRow::KIND.columns,
            Status::Pending.as_str()
        );
        Ok(sqlx::query_as(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?)
    }
}
