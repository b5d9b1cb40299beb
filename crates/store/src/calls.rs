//! Outbound calls and their durable queue.
//!
//! Claiming is one transaction per trunk that locks the tenant's row and the trunk's pacing
//! row (`FOR UPDATE` on PostgreSQL; SQLite serializes every writer anyway), counts the calls in
//! progress, reserves evenly spaced dial slots and moves that many due rows from `queued` to
//! `claimed` (`FOR UPDATE SKIP LOCKED`). So several instances on one PostgreSQL never claim a
//! row twice, and together never exceed a trunk's calls per second or a concurrency limit.

use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Statuses that hold a concurrency slot.
pub const ACTIVE_STATUSES: &str = "('claimed', 'dialing', 'ringing', 'answered')";

/// A trunk with due calls that its limits let a claim take from.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTrunk {
    pub trunk_id: String,
    pub tenant_id: String,
    /// The trunk's next free dial slot: the trunk served longest ago has the earliest.
    pub next_slot_at: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallRow {
    pub id: String,
    pub tenant_id: String,
    pub assistant_id: String,
    pub trunk_id: String,
    pub to_number: String,
    pub from_number: String,
    pub plan: String,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<i64>,
    pub dial_at: Option<i64>,
    pub dial_deadline_at: Option<i64>,
    pub participant_identity: Option<String>,
    pub sip_call_id: Option<String>,
    pub sip_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub end_reason: Option<String>,
    pub webhook_outcome: Option<String>,
    pub transferred_to: Option<String>,
    pub created_at: i64,
    pub dialed_at: Option<i64>,
    pub ringing_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, assistant_id, trunk_id, to_number, from_number, plan, \
    idempotency_key, request_hash, status, attempts, max_attempts, next_attempt_at, claimed_by, \
    claimed_at, dial_at, dial_deadline_at, participant_identity, sip_call_id, sip_status_code, \
    last_error, end_reason, webhook_outcome, transferred_to, created_at, dialed_at, ringing_at, \
    answered_at, ended_at, updated_at";

fn row(r: &AnyRow) -> Result<CallRow, sqlx::Error> {
    Ok(CallRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        assistant_id: r.try_get("assistant_id")?,
        trunk_id: r.try_get("trunk_id")?,
        to_number: r.try_get("to_number")?,
        from_number: r.try_get("from_number")?,
        plan: r.try_get("plan")?,
        idempotency_key: r.try_get("idempotency_key")?,
        request_hash: r.try_get("request_hash")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        claimed_by: r.try_get("claimed_by")?,
        claimed_at: r.try_get("claimed_at")?,
        dial_at: r.try_get("dial_at")?,
        dial_deadline_at: r.try_get("dial_deadline_at")?,
        participant_identity: r.try_get("participant_identity")?,
        sip_call_id: r.try_get("sip_call_id")?,
        sip_status_code: r.try_get("sip_status_code")?,
        last_error: r.try_get("last_error")?,
        end_reason: r.try_get("end_reason")?,
        webhook_outcome: r.try_get("webhook_outcome")?,
        transferred_to: r.try_get("transferred_to")?,
        created_at: r.try_get("created_at")?,
        dialed_at: r.try_get("dialed_at")?,
        ringing_at: r.try_get("ringing_at")?,
        answered_at: r.try_get("answered_at")?,
        ended_at: r.try_get("ended_at")?,
        updated_at: r.try_get("updated_at")?,
    })
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

/// A forward move of a call's status, applied only if the call is still in one of `from`.
#[derive(Debug, Clone, Default)]
pub struct Transition<'a> {
    pub to: &'a str,
    pub from: Vec<&'a str>,
    pub at: i64,
    /// Which timestamp column the move stamps (`ringing_at`, `answered_at`, `ended_at`),
    /// written only if still empty.
    pub stamp: Option<&'static str>,
    pub sip_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub end_reason: Option<String>,
    pub participant_identity: Option<String>,
    pub sip_call_id: Option<String>,
    /// Queue an end-of-call webhook to this URL in the same transaction.
    pub webhook: Option<OutboxEntry>,
    /// Record this LiveKit event id in the same transaction; a replay then changes nothing.
    pub event_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
}

/// What [`Store::transition`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Yes,
    /// The call was not in any `from` status (already further along).
    NotApplicable,
    /// The event id was seen before: nothing changed.
    Duplicate,
}

/// Filters of `GET /calls`.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub statuses: Vec<String>,
    pub trunk_id: Option<String>,
    pub assistant_id: Option<String>,
    /// Newest first; continue strictly before this `(created_at, id)`.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

impl Store {
    fn lock_clause(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Inserts a queued call and, in the same transaction, the trunk's pacing row if it has
    /// none. A repeated `(tenant, idempotency_key)` is `Conflict("idempotency key")`.
    pub async fn insert_call(&self, c: &CallRow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO trunk_dialing (trunk_id, tenant_id, cps_milli, max_concurrent, next_slot_at) \
             VALUES ($1, $2, NULL, NULL, 0) ON CONFLICT (trunk_id) DO NOTHING",
        )
        .bind(&c.trunk_id)
        .bind(&c.tenant_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO calls ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)"
        ))
        .bind(&c.id)
        .bind(&c.tenant_id)
        .bind(&c.assistant_id)
        .bind(&c.trunk_id)
        .bind(&c.to_number)
        .bind(&c.from_number)
        .bind(&c.plan)
        .bind(&c.idempotency_key)
        .bind(&c.request_hash)
        .bind(&c.status)
        .bind(c.attempts)
        .bind(c.max_attempts)
        .bind(c.next_attempt_at)
        .bind(&c.claimed_by)
        .bind(c.claimed_at)
        .bind(c.dial_at)
        .bind(c.dial_deadline_at)
        .bind(&c.participant_identity)
        .bind(&c.sip_call_id)
        .bind(c.sip_status_code)
        .bind(&c.last_error)
        .bind(&c.end_reason)
        .bind(&c.webhook_outcome)
        .bind(&c.transferred_to)
        .bind(c.created_at)
        .bind(c.dialed_at)
        .bind(c.ringing_at)
        .bind(c.answered_at)
        .bind(c.ended_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "idempotency key"))?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn call_by_idempotency_key(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<CallRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND idempotency_key = $2");
        // The writer sees a row committed a moment ago by a concurrent twin request.
        let r = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(key)
            .fetch_optional(&self.writer)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// A tenant's call (never another tenant's).
    pub async fn get_call(&self, tenant_id: &str, id: &str) -> Result<Option<CallRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE id = $1 AND tenant_id = $2");
        let r = sqlx::query(&sql)
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// A call by id alone: for the dialer and for LiveKit's webhooks, which name a room.
    pub async fn call_by_id(&self, id: &str) -> Result<Option<CallRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE id = $1");
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    pub async fn list_calls(
        &self,
        tenant_id: &str,
        f: &CallFilter,
    ) -> Result<Vec<CallRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if !f.statuses.is_empty() {
            let ps: Vec<String> = f.statuses.iter().map(|_| next()).collect();
            sql.push_str(&format!(" AND status IN ({})", ps.join(", ")));
        }
        if f.trunk_id.is_some() {
            sql.push_str(&format!(" AND trunk_id = {}", next()));
        }
        if f.assistant_id.is_some() {
            sql.push_str(&format!(" AND assistant_id = {}", next()));
        }
        if f.before.is_some() {
            let (a, b, c) = (next(), next(), next());
            sql.push_str(&format!(
                " AND (created_at < {a} OR (created_at = {b} AND id < {c}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            next()
        ));
        let mut q = sqlx::query(&sql).bind(tenant_id);
        for s in &f.statuses {
            q = q.bind(s);
        }
        if let Some(t) = &f.trunk_id {
            q = q.bind(t);
        }
        if let Some(a) = &f.assistant_id {
            q = q.bind(a);
        }
        if let Some((at, id)) = &f.before {
            q = q.bind(*at).bind(*at).bind(id);
        }
        let rows = q.bind(f.limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
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
        sqlx::query(
            "INSERT INTO trunk_dialing (trunk_id, tenant_id, cps_milli, max_concurrent, next_slot_at) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (trunk_id) DO UPDATE SET \
             cps_milli = $3, max_concurrent = $4, next_slot_at = 0",
        )
        .bind(trunk_id)
        .bind(tenant_id)
        .bind(cps_milli)
        .bind(max_concurrent)
        .execute(&self.writer)
        .await?;
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

    /// Answered calls, oldest update first, last touched before `before`: for checking with
    /// LiveKit that they are still up when no webhook said otherwise.
    pub async fn answered_calls(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<CallRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calls WHERE status = 'answered' AND updated_at < $1 \
             ORDER BY updated_at LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Marks an answered call as checked (still up), so the next check looks at others first.
    pub async fn touch_call(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET updated_at = $1 WHERE id = $2 AND status = 'answered'")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Calls still dialing or ringing past the moment their dialer would have given up.
    pub async fn overdue_calls(&self, now: i64, limit: i64) -> Result<Vec<CallRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calls WHERE status IN ('dialing', 'ringing') \
             AND dial_deadline_at < $1 LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// Notes how LiveKit says an unanswered call ended, for the sweeper to apply if the dialer
    /// that awaits the answer never reports. False if no dialer awaits it any more (see
    /// [`Store::release_dialer`]): the caller then applies the outcome itself.
    pub async fn note_webhook_outcome(&self, id: &str, outcome: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE calls SET webhook_outcome = $1 WHERE id = $2 \
             AND status IN ('dialing', 'ringing') AND claimed_by IS NOT NULL",
        )
        .bind(outcome)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The dialer stops awaiting LiveKit's answer (its request's outcome is unknown, so the
    /// answer will never come): from now on LiveKit's webhooks settle the call as they arrive.
    /// Returns the call as it is then, with whatever those webhooks noted before; `None` if it
    /// is no longer dialing or ringing. One statement, so a webhook either noted its outcome
    /// before (and it is returned here) or finds no dialer waiting and applies it.
    pub async fn release_dialer(&self, id: &str, now: i64) -> Result<Option<CallRow>, StoreError> {
        let sql = format!(
            "UPDATE calls SET claimed_by = NULL, updated_at = $1 WHERE id = $2 \
             AND status IN ('dialing', 'ringing') RETURNING {COLUMNS}"
        );
        let r = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    pub async fn set_transferred(&self, id: &str, to: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET transferred_to = $1 WHERE id = $2")
            .bind(to)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Applies `t` if the call is still in one of `t.from`, with its webhook and event id in
    /// the same transaction.
    pub async fn transition(&self, id: &str, t: &Transition<'_>) -> Result<Applied, StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(ev) = &t.event_id {
            let r = sqlx::query(
                "INSERT INTO livekit_events (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            )
            .bind(ev)
            .bind(t.at)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                return Ok(Applied::Duplicate);
            }
        }
        let from: Vec<String> = (0..t.from.len()).map(|i| format!("${}", i + 9)).collect();
        let stamp = t
            .stamp
            .map(|c| format!(", {c} = COALESCE({c}, $2)"))
            .unwrap_or_default();
        let sql = format!(
            "UPDATE calls SET status = $1, updated_at = $2{stamp}, \
             sip_status_code = COALESCE($3, sip_status_code), last_error = COALESCE($4, last_error), \
             end_reason = COALESCE($5, end_reason), \
             participant_identity = COALESCE($6, participant_identity), \
             sip_call_id = COALESCE($7, sip_call_id) WHERE id = $8 AND status IN ({})",
            if from.is_empty() { "NULL".to_owned() } else { from.join(", ") }
        );
        let mut q = sqlx::query(&sql)
            .bind(t.to)
            .bind(t.at)
            .bind(t.sip_status_code)
            .bind(&t.last_error)
            .bind(&t.end_reason)
            .bind(&t.participant_identity)
            .bind(&t.sip_call_id)
            .bind(id);
        for f in &t.from {
            q = q.bind(*f);
        }
        let applied = q.execute(&mut *tx).await?.rows_affected() == 1;
        if applied {
            if let Some(w) = &t.webhook {
                sqlx::query(
                    "INSERT INTO webhook_outbox (id, tenant_id, call_id, url, status, attempts, \
                     next_attempt_at, lease_until, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, 0, $5)",
                )
                .bind(&w.id)
                .bind(&w.tenant_id)
                .bind(id)
                .bind(&w.url)
                .bind(t.at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(if applied {
            Applied::Yes
        } else {
            Applied::NotApplicable
        })
    }
}
