//! Inbound trunk rows and the number claims that keep LiveKit's conflict rule (and number
//! ownership across accounts) in the database, where it is checked atomically.
//!
//! Every write that touches claims runs in one transaction that first locks the account's
//! tenant row (`UPDATE tenants … WHERE id`), so an account's creates, changes and deletes of
//! inbound trunks and dispatch rules happen one at a time. Across accounts, the primary keys
//! of `inbound_number_owners` and `inbound_number_claims` decide: of two concurrent claims
//! exactly one inserts, and the other sees its row once it commits.

use crate::resource::{resource_row, tombstone, Claims, WithSecrets};
use crate::{Store, StoreError};
use sqlx::{Any, Row, Transaction};

resource_row! {
    pub struct InboundTrunkRow, new NewInboundTrunk {
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        pub config: String,
        pub secrets: String,
        pub livekit_trunk_id: Option<String>,
    }
    kind {
        table: "inbound_trunks",
        audit_kind: crate::audit::kinds::INBOUND_TRUNK,
        remote_id: "livekit_trunk_id",
        what: "inbound trunk id",
        claims: Claims::Numbers,
        secrets: true,
        status_forgets_sync: false,
    }
    remote: livekit_trunk_id, secrets: secrets,
}

impl WithSecrets for InboundTrunkRow {}

/// One (dialed number, caller) pair a trunk answers for; `""` stands for "none listed".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberClaim {
    pub number: String,
    pub caller: String,
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimConflict {
    /// Another trunk of the same account holds the pair.
    SameTenant {
        trunk_id: String,
        trunk_name: String,
        claim: NumberClaim,
    },
    /// Another account owns the number, or holds the pair. Carries nothing about them.
    OtherTenant { claim: NumberClaim },
}

/// A dispatch rule that names a trunk (and so keeps it from being deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub rule_id: String,
    pub rule_name: String,
}

/// Serializes an account's writes to inbound trunks and dispatch rules: PostgreSQL holds the
/// row lock until commit; SQLite has one writer at a time anyway.
pub(crate) async fn lock_tenant(
    tx: &mut Transaction<'static, Any>,
    tenant_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Claims every pair for `trunk_id` (pairs it already holds are kept). Nothing is written
/// when it returns a conflict, as long as the caller rolls back.
pub(crate) async fn reserve(
    tx: &mut Transaction<'static, Any>,
    tenant_id: &str,
    trunk_id: &str,
    claims: &[NumberClaim],
) -> Result<Result<(), ClaimConflict>, sqlx::Error> {
    let mut numbers: Vec<&str> = claims
        .iter()
        .map(|c| c.number.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    for n in numbers {
        sqlx::query(
            "INSERT INTO inbound_number_owners (number, tenant_id) VALUES ($1, $2) \
             ON CONFLICT (number) DO NOTHING",
        )
        .bind(n)
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
        let owner: String =
            sqlx::query_scalar("SELECT tenant_id FROM inbound_number_owners WHERE number = $1")
                .bind(n)
                .fetch_one(&mut **tx)
                .await?;
        if owner != tenant_id {
            let claim = NumberClaim {
                number: n.to_owned(),
                caller: String::new(),
            };
            return Ok(Err(ClaimConflict::OtherTenant { claim }));
        }
    }
    // One order for every transaction, so two accounts' claims never wait on each other in
    // a cycle (PostgreSQL would abort one as a deadlock).
    let mut claims = claims.to_vec();
    claims.sort_unstable();
    claims.dedup();
    for c in &claims {
        sqlx::query(
            "INSERT INTO inbound_number_claims (number, caller, tenant_id, trunk_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (number, caller) DO NOTHING",
        )
        .bind(&c.number)
        .bind(&c.caller)
        .bind(tenant_id)
        .bind(trunk_id)
        .execute(&mut **tx)
        .await?;
        let holder = sqlx::query(
            "SELECT c.tenant_id, c.trunk_id, t.name FROM inbound_number_claims c \
             JOIN inbound_trunks t ON t.id = c.trunk_id WHERE c.number = $1 AND c.caller = $2",
        )
        .bind(&c.number)
        .bind(&c.caller)
        .fetch_one(&mut **tx)
        .await?;
        let holder_tenant: String = holder.try_get("tenant_id")?;
        let holder_trunk: String = holder.try_get("trunk_id")?;
        if holder_tenant != tenant_id {
            return Ok(Err(ClaimConflict::OtherTenant { claim: c.clone() }));
        }
        if holder_trunk != trunk_id {
            return Ok(Err(ClaimConflict::SameTenant {
                trunk_id: holder_trunk,
                trunk_name: holder.try_get("name")?,
                claim: c.clone(),
            }));
        }
    }
    Ok(Ok(()))
}

/// Drops the claims of `trunk_id` not in `keep`, and gives up numbers nobody claims any more.
pub(crate) async fn settle(
    tx: &mut Transaction<'static, Any>,
    trunk_id: &str,
    keep: &[NumberClaim],
) -> Result<(), sqlx::Error> {
    let held = sqlx::query("SELECT number, caller FROM inbound_number_claims WHERE trunk_id = $1")
        .bind(trunk_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut freed: Vec<String> = Vec::new();
    for r in held {
        let claim = NumberClaim {
            number: r.try_get("number")?,
            caller: r.try_get("caller")?,
        };
        if keep.contains(&claim) {
            continue;
        }
        sqlx::query(
            "DELETE FROM inbound_number_claims WHERE number = $1 AND caller = $2 AND trunk_id = $3",
        )
        .bind(&claim.number)
        .bind(&claim.caller)
        .bind(trunk_id)
        .execute(&mut **tx)
        .await?;
        if !claim.number.is_empty() && !freed.contains(&claim.number) {
            freed.push(claim.number);
        }
    }
    for n in freed {
        sqlx::query(
            "DELETE FROM inbound_number_owners WHERE number = $1 AND NOT EXISTS \
             (SELECT 1 FROM inbound_number_claims c WHERE c.number = $1)",
        )
        .bind(&n)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// A dispatch rule of the account that names this trunk, if any.
    pub async fn rule_naming_trunk(&self, trunk_id: &str) -> Result<Option<RuleRef>, StoreError> {
        let r = sqlx::query(
            "SELECT r.id, r.name FROM dispatch_rule_keys k JOIN dispatch_rules r ON r.id = k.rule_id \
             WHERE k.trunk_id = $1 ORDER BY r.created_at, r.id LIMIT 1",
        )
        .bind(trunk_id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(RuleRef {
                rule_id: r.try_get("id")?,
                rule_name: r.try_get("name")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    /// Deletes an account's trunk and releases its numbers, unless a dispatch rule names it.
    /// `Ok(Ok(false))` when it was not active.
    pub async fn mark_inbound_deleted(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Result<bool, RuleRef>, StoreError> {
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        let used = sqlx::query(
            "SELECT r.id, r.name FROM dispatch_rule_keys k JOIN dispatch_rules r ON r.id = k.rule_id \
             WHERE k.trunk_id = $1 ORDER BY r.created_at, r.id LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = used {
            tx.rollback().await?;
            return Ok(Err(RuleRef {
                rule_id: r.try_get("id")?,
                rule_name: r.try_get("name")?,
            }));
        }
        let done = tombstone::<InboundTrunkRow>(&mut tx, tenant_id, id).await?;
        tx.commit().await?;
        Ok(Ok(done))
    }
}
