//! The queue: per-trunk limits, which trunks a pass may claim from, claims and their
//! release. See the module above for how claims stay exact across instances.

use super::*;
use crate::audit::{self, AuditEntry};

/// A trunk with due calls that its limits let a claim take from.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTrunk {
    pub trunk_id: String,
    pub tenant_id: String,
    /// The trunk's next free dial slot: the trunk served longest ago has the earliest.
    pub next_slot_at: i64,
}

/// How one claim pass may fill a trunk.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    pub now: i64,
    /// Slots are reserved at most this far ahead (µs): a claimed call waits for its slot in
    /// memory, and a short horizon keeps cancellations and crashes cheap.
    pub horizon: i64,
    /// The earliest slot is this far from now (µs): time to prepare the room and the agent,
    /// so a call's INVITE leaves at its slot rather than late and bunched with the next.
    pub lead: i64,
    pub batch: i64,
    pub default_cps_milli: i64,
    pub default_trunk_concurrency: i64,
    pub tenant_concurrency: i64,
}

/// A call moved to `claimed`, with the moment its dial slot opens (µs).
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: String,
    pub dial_at: i64,
}

impl Store {
    fn lock_clause(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Sets a trunk's dialing limits (`None` = the default). The pacing clock restarts: slots
    /// reserved under a slower limit would otherwise hold the queue back at the old pace.
    pub async fn set_trunk_limits(
        &self,
        trunk_id: &str,
        tenant_id: &str,
        cps_milli: Option<i64>,
        max_concurrent: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = limits_in(&mut tx, trunk_id).await?;
        sqlx::query(
            "INSERT INTO trunk_dialing (trunk_id, tenant_id, cps_milli, max_concurrent, next_slot_at) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (trunk_id) DO UPDATE SET \
             cps_milli = $3, max_concurrent = $4, next_slot_at = 0",
        )
        .bind(trunk_id)
        .bind(tenant_id)
        .bind(cps_milli)
        .bind(max_concurrent)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry::new(tenant_id, audit::kinds::CALL_LIMITS, trunk_id)
            .before(limits_snapshot(before))
            .after(limits_snapshot((cps_milli, max_concurrent)));
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `(cps_milli, max_concurrent)` as set, `None` where the default applies.
    pub async fn trunk_limits(
        &self,
        trunk_id: &str,
    ) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let r =
            sqlx::query("SELECT cps_milli, max_concurrent FROM trunk_dialing WHERE trunk_id = $1")
                .bind(trunk_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match r {
            Some(r) => (r.try_get("cps_milli")?, r.try_get("max_concurrent")?),
            None => (None, None),
        })
    }

    /// Trunks with calls due now that a claim could take calls from: the trunk's next dial
    /// slot falls before `slot_before`, the trunk is under its concurrency limit and its
    /// tenant under `tenant_concurrency`. Trunks held back by their own limits are left out,
    /// so they never take a dialer pass from anyone else. Each row is
    /// `(trunk, tenant, next_slot_at)`; the dialer orders them (see `fair_order`).
    pub async fn dialable_trunks(
        &self,
        now: i64,
        slot_before: i64,
        default_trunk_concurrency: i64,
        tenant_concurrency: i64,
    ) -> Result<Vec<DueTrunk>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT d.trunk_id, d.tenant_id, d.next_slot_at FROM trunk_dialing d \
             WHERE d.next_slot_at < $2 \
             AND EXISTS (SELECT 1 FROM calls q WHERE q.trunk_id = d.trunk_id \
                 AND q.status = 'queued' AND q.next_attempt_at <= $1) \
             AND (SELECT COUNT(*) FROM calls a WHERE a.trunk_id = d.trunk_id \
                 AND a.status IN {ACTIVE_STATUSES}) < COALESCE(d.max_concurrent, $3) \
             AND d.tenant_id NOT IN (SELECT t.tenant_id FROM calls t \
                 WHERE t.status IN {ACTIVE_STATUSES} GROUP BY t.tenant_id HAVING COUNT(*) >= $4)"
        ))
        .bind(now)
        .bind(slot_before)
        .bind(default_trunk_concurrency)
        .bind(tenant_concurrency)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueTrunk {
                    trunk_id: r.try_get("trunk_id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    next_slot_at: r.try_get("next_slot_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Claims what the limits allow of one trunk's due calls (see the module doc).
    pub async fn claim_calls(
        &self,
        trunk_id: &str,
        tenant_id: &str,
        instance: &str,
        l: &ClaimLimits,
    ) -> Result<Vec<Claimed>, StoreError> {
        let lock = self.lock_clause();
        let mut tx = self.writer.begin().await?;
        // Lock order everywhere: tenant, then trunk.
        sqlx::query(&format!("SELECT id FROM tenants WHERE id = $1{lock}"))
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(pacing) = sqlx::query(&format!(
            "SELECT cps_milli, max_concurrent, next_slot_at FROM trunk_dialing WHERE trunk_id = $1{lock}"
        ))
        .bind(trunk_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(vec![]);
        };
        let cps_milli: Option<i64> = pacing.try_get("cps_milli")?;
        let max_concurrent: Option<i64> = pacing.try_get("max_concurrent")?;
        let next_slot_at: i64 = pacing.try_get("next_slot_at")?;
        let mut active = [0i64; 2];
        for (slot, (col, id)) in active
            .iter_mut()
            .zip([("tenant_id", tenant_id), ("trunk_id", trunk_id)])
        {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM calls WHERE {col} = $1 AND status IN {ACTIVE_STATUSES}"
            );
            *slot = sqlx::query(&sql)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        }
        let [tenant_active, trunk_active] = active;

        let interval = 1_000_000_000 / cps_milli.unwrap_or(l.default_cps_milli).max(1);
        let start = next_slot_at.max(l.now + l.lead);
        let window = l.now + l.lead + l.horizon - start;
        let slots = if window <= 0 {
            0
        } else {
            (window + interval - 1) / interval
        };
        let n = slots
            .min(l.batch)
            .min(max_concurrent.unwrap_or(l.default_trunk_concurrency) - trunk_active)
            .min(l.tenant_concurrency - tenant_active);
        if n <= 0 {
            tx.commit().await?;
            return Ok(vec![]);
        }
        let skip = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let ids: Vec<String> = sqlx::query(&format!(
            "SELECT id FROM calls WHERE trunk_id = $1 AND status = 'queued' AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at, created_at, id LIMIT $3{skip}"
        ))
        .bind(trunk_id)
        .bind(l.now)
        .bind(n)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut claimed = Vec::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            let dial_at = start + i as i64 * interval;
            let r = sqlx::query(
                "UPDATE calls SET status = 'claimed', claimed_by = $1, claimed_at = $2, dial_at = $3, \
                 attempts = attempts + 1, updated_at = $2 WHERE id = $4 AND status = 'queued'",
            )
            .bind(instance)
            .bind(l.now)
            .bind(dial_at)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                claimed.push(Claimed { id, dial_at });
            }
        }
        let used = claimed.last().map_or(start, |c| c.dial_at + interval);
        sqlx::query("UPDATE trunk_dialing SET next_slot_at = $1 WHERE trunk_id = $2")
            .bind(used)
            .bind(trunk_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// `claimed` → `dialing` for the instance that holds the claim: from here on the call is
    /// never requeued, because the INVITE may be out. False if it was cancelled or taken back.
    pub async fn mark_dialing(
        &self,
        id: &str,
        instance: &str,
        now: i64,
        deadline: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE calls SET status = 'dialing', dialed_at = $1, dial_deadline_at = $2, \
             updated_at = $1 WHERE id = $3 AND status = 'claimed' AND claimed_by = $4",
        )
        .bind(now)
        .bind(deadline)
        .bind(id)
        .bind(instance)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Back to the queue for a retry (only from `claimed`/`dialing`, only where nothing
    /// reached the callee — the caller decides that). What LiveKit's webhooks reported about
    /// this attempt is forgotten: it says nothing about the next one.
    pub async fn requeue_call(
        &self,
        id: &str,
        next_attempt_at: i64,
        sip_status_code: Option<i64>,
        last_error: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE calls SET status = 'queued', next_attempt_at = $1, claimed_by = NULL, \
             claimed_at = NULL, dial_at = NULL, dial_deadline_at = NULL, \
             sip_status_code = COALESCE($2, sip_status_code), last_error = $3, updated_at = $4, \
             webhook_outcome = NULL WHERE id = $5 AND status IN ('claimed', 'dialing')",
        )
        .bind(next_attempt_at)
        .bind(sip_status_code)
        .bind(last_error)
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Claims whose holder stopped before dialing (crashed, or lost its database): back to
    /// the queue, without counting the attempt.
    pub async fn release_stale_claims(
        &self,
        claimed_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE calls SET status = 'queued', claimed_by = NULL, claimed_at = NULL, dial_at = NULL, \
             attempts = attempts - 1, updated_at = $1 WHERE status = 'claimed' AND claimed_at < $2",
        )
        .bind(now)
        .bind(claimed_before)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    /// On a graceful stop: this instance's claims, not yet dialed, go straight back to the
    /// queue instead of waiting out the claim timeout. A dial racing this either marked its
    /// call `dialing` first (kept) or finds the claim gone (does not dial).
    pub async fn release_claims_of(&self, instance: &str, now: i64) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE calls SET status = 'queued', claimed_by = NULL, claimed_at = NULL, dial_at = NULL, \
             attempts = attempts - 1, updated_at = $1 WHERE status = 'claimed' AND claimed_by = $2",
        )
        .bind(now)
        .bind(instance)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }
}

/// A trunk's limits as a transaction sees them (`None` where the default applies).
async fn limits_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    trunk_id: &str,
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    let r = sqlx::query("SELECT cps_milli, max_concurrent FROM trunk_dialing WHERE trunk_id = $1")
        .bind(trunk_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match r {
        Some(r) => (r.try_get("cps_milli")?, r.try_get("max_concurrent")?),
        None => (None, None),
    })
}

/// The audit's view of a trunk's limits, in the API's units (null: the default applies).
fn limits_snapshot((cps_milli, max_concurrent): (Option<i64>, Option<i64>)) -> serde_json::Value {
    serde_json::json!({
        "calls_per_second": cps_milli.map(|m| m as f64 / 1000.0),
        "max_concurrent_calls": max_concurrent,
    })
}
