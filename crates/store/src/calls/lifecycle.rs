//! A call's moves after its dial: forward status transitions (with their webhook outbox
//! entry), liveness touches, transfers.

use super::*;
use crate::dashboard_counts::OUTCOME_HOUR_MICROS;

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
    /// The move ends the call (`to` is final): it is counted in the tenant's
    /// `call_outcome_counts` for the hour the call was created, in the same transaction.
    pub ends_call: bool,
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

impl Store {
    /// Marks an answered call as checked (still up), so the next check looks at others first.
    pub async fn touch_call(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET updated_at = $1 WHERE id = $2 AND status = 'answered'")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
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

    /// Forgets the ids of LiveKit events received before `before` (µs). Safe once their
    /// tokens have expired: a replay of such an event is refused at its signature check.
    pub async fn prune_livekit_events(&self, before: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM livekit_events WHERE received_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
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
             sip_call_id = COALESCE($7, sip_call_id) WHERE id = $8 AND status IN ({}) \
             RETURNING tenant_id, created_at",
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
        let moved = q.fetch_optional(&mut *tx).await?;
        let applied = moved.is_some();
        if let (Some(moved), true) = (&moved, t.ends_call) {
            let tenant_id: String = moved.try_get("tenant_id")?;
            let created_at: i64 = moved.try_get("created_at")?;
            sqlx::query(
                "INSERT INTO call_outcome_counts (tenant_id, hour, status, calls) \
                 VALUES ($1, $2, $3, 1) ON CONFLICT (tenant_id, hour, status) \
                 DO UPDATE SET calls = call_outcome_counts.calls + 1",
            )
            .bind(tenant_id)
            .bind(created_at - created_at.rem_euclid(OUTCOME_HOUR_MICROS))
            .bind(t.to)
            .execute(&mut *tx)
            .await?;
        }
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
