//! Warm transfers of answered calls (migration 0091). One row per transfer; a partial unique
//! index keeps at most one open (not ended) per call, so two concurrent requests cannot both
//! start one. Every change is conditional on the status it moves from, so a late report of a
//! dialing instance cannot undo a cancel, and a cancel cannot undo a completion.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmTransferRow {
    pub id: String,
    pub call_id: String,
    pub tenant_id: String,
    pub target: String,
    pub agent_name: String,
    /// The consultation room in LiveKit (tenant namespace included).
    pub room: String,
    /// The target's participant identity in that room.
    pub participant_identity: String,
    pub status: String,
    pub outcome: Option<String>,
    pub sip_status_code: Option<i64>,
    pub error: Option<String>,
    pub deadline_at: i64,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub updated_at: i64,
}

/// How a transfer ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmTransferEnd<'a> {
    /// `completed` or `ended`.
    pub status: &'a str,
    pub outcome: &'a str,
    pub sip_status_code: Option<i64>,
    pub error: Option<&'a str>,
}

const COLUMNS: &str = "id, call_id, tenant_id, target, agent_name, room, participant_identity, \
    status, outcome, sip_status_code, error, deadline_at, created_at, answered_at, ended_at, \
    updated_at";

fn row(r: &AnyRow) -> Result<WarmTransferRow, sqlx::Error> {
    Ok(WarmTransferRow {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        tenant_id: r.try_get("tenant_id")?,
        target: r.try_get("target")?,
        agent_name: r.try_get("agent_name")?,
        room: r.try_get("room")?,
        participant_identity: r.try_get("participant_identity")?,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        sip_status_code: r.try_get("sip_status_code")?,
        error: r.try_get("error")?,
        deadline_at: r.try_get("deadline_at")?,
        created_at: r.try_get("created_at")?,
        answered_at: r.try_get("answered_at")?,
        ended_at: r.try_get("ended_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Records a new transfer in `dialing`; false when the call already has one open.
    pub async fn insert_warm_transfer(&self, t: &WarmTransferRow) -> Result<bool, StoreError> {
        let n = sqlx::query(&format!(
            "INSERT INTO warm_transfers ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, $9, $10, NULL, NULL, $10) \
             ON CONFLICT DO NOTHING"
        ))
        .bind(&t.id)
        .bind(&t.call_id)
        .bind(&t.tenant_id)
        .bind(&t.target)
        .bind(&t.agent_name)
        .bind(&t.room)
        .bind(&t.participant_identity)
        .bind(&t.status)
        .bind(t.deadline_at)
        .bind(t.created_at)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The call's transfers, oldest first (read from the writer: a transfer just changed is
    /// seen as changed).
    pub async fn warm_transfers(&self, call_id: &str) -> Result<Vec<WarmTransferRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM warm_transfers WHERE call_id = $1 ORDER BY created_at, id"
        ))
        .bind(call_id)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    /// The call's open transfer, if any.
    pub async fn open_warm_transfer(
        &self,
        call_id: &str,
    ) -> Result<Option<WarmTransferRow>, StoreError> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM warm_transfers WHERE call_id = $1 AND ended_at IS NULL"
        ))
        .bind(call_id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// `dialing` → `consulting`: the target answered. False if the transfer moved on.
    pub async fn warm_transfer_answered(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE warm_transfers SET status = 'consulting', answered_at = $2, updated_at = $2 \
             WHERE id = $1 AND status = 'dialing'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Ends the transfer if it is still in one of `from`. False if it was not.
    pub async fn end_warm_transfer(
        &self,
        id: &str,
        from: &[&str],
        end: &WarmTransferEnd<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let list = from
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(", ");
        let n = sqlx::query(&format!(
            "UPDATE warm_transfers SET status = $2, outcome = $3, sip_status_code = $4, \
             error = $5, ended_at = $6, updated_at = $6 \
             WHERE id = $1 AND ended_at IS NULL AND status IN ({list})"
        ))
        .bind(id)
        .bind(end.status)
        .bind(end.outcome)
        .bind(end.sip_status_code)
        .bind(end.error)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
