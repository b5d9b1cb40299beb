//! Outbound calls and their durable queue.
//!
//! Claiming is one transaction per trunk that locks the tenant's row and the trunk's pacing
//! row (`FOR UPDATE` on PostgreSQL; SQLite serializes every writer anyway), counts the calls in
//! progress, reserves evenly spaced dial slots and moves that many due rows from `queued` to
//! `claimed` (`FOR UPDATE SKIP LOCKED`). So several instances on one PostgreSQL never claim a
//! row twice, and together never exceed a trunk's calls per second or a concurrency limit.

mod lifecycle;
mod queue;
mod reads;

pub use lifecycle::{Applied, OutboxEntry, Transition};
pub use queue::{ClaimLimits, Claimed, DueTrunk};
pub use reads::CallFilter;

use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A call in flight, written exactly as in the partial index `calls_in_flight` (migration
/// 0120): a query uses that index only when its WHERE repeats this term as it is.
pub(crate) const IN_FLIGHT: &str =
    "status IN ('queued', 'claimed', 'dialing', 'ringing', 'answered')";

/// Statuses that hold a concurrency slot.
pub const ACTIVE_STATUSES: &str = "('claimed', 'dialing', 'ringing', 'answered')";

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

impl Store {
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
}
