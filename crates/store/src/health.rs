//! Per-trunk health-check settings and state (migration 0004).

use crate::audit::{self, AuditEntry};
use crate::{FairClaim, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct HealthRow {
    pub trunk_id: String,
    pub tenant_id: String,
    pub enabled: bool,
    pub interval_secs: i64,
    pub down_after: i64,
    /// `unknown`, `up` or `down`.
    pub state: String,
    pub misses: i64,
    pub next_check_at: i64,
    pub last_checked_at: Option<i64>,
    pub last_diagnosis: Option<String>,
    pub last_rtt_us: Option<i64>,
    pub changed_at: Option<i64>,
}

const COLUMNS: &str = "trunk_id, tenant_id, enabled, interval_secs, down_after, state, misses, \
    next_check_at, last_checked_at, last_diagnosis, last_rtt_us, changed_at";

fn row(r: &AnyRow) -> Result<HealthRow, sqlx::Error> {
    Ok(HealthRow {
        trunk_id: r.try_get("trunk_id")?,
        tenant_id: r.try_get("tenant_id")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        interval_secs: r.try_get("interval_secs")?,
        down_after: r.try_get("down_after")?,
        state: r.try_get("state")?,
        misses: r.try_get("misses")?,
        next_check_at: r.try_get("next_check_at")?,
        last_checked_at: r.try_get("last_checked_at")?,
        last_diagnosis: r.try_get("last_diagnosis")?,
        last_rtt_us: r.try_get("last_rtt_us")?,
        changed_at: r.try_get("changed_at")?,
    })
}

/// The outcome of one check, to fold into the state.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub healthy: bool,
    pub diagnosis: String,
    pub rtt_us: Option<i64>,
    pub at: i64,
}

impl Store {
    pub async fn trunk_health(&self, trunk_id: &str) -> Result<Option<HealthRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM trunk_health WHERE trunk_id = $1");
        let r = sqlx::query(&sql)
            .bind(trunk_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// Turns checks on or off with these settings. Turning them on (again) starts from
    /// `unknown` with a check due now; the state a disabled check left is kept for reading.
    pub async fn set_trunk_health(
        &self,
        trunk_id: &str,
        tenant_id: &str,
        enabled: bool,
        interval_secs: i64,
        down_after: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM trunk_health WHERE trunk_id = $1");
        let before = sqlx::query(&sql)
            .bind(trunk_id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(row)
            .transpose()?;
        sqlx::query(
            "INSERT INTO trunk_health (trunk_id, tenant_id, enabled, interval_secs, down_after, state, \
             misses, next_check_at) VALUES ($1, $2, $3, $4, $5, 'unknown', 0, $6) \
             ON CONFLICT (trunk_id) DO UPDATE SET enabled = $3, interval_secs = $4, down_after = $5, \
             next_check_at = $6, state = CASE WHEN $3 = 1 THEN 'unknown' ELSE trunk_health.state END, \
             misses = CASE WHEN $3 = 1 THEN 0 ELSE trunk_health.misses END",
        )
        .bind(trunk_id)
        .bind(tenant_id)
        .bind(i64::from(enabled))
        .bind(interval_secs)
        .bind(down_after)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut entry = AuditEntry::new(tenant_id, audit::kinds::HEALTH_CHECK, trunk_id)
            .after(settings_snapshot(enabled, interval_secs, down_after));
        entry.before = before.map(|b| settings_snapshot(b.enabled, b.interval_secs, b.down_after));
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims due checks, fairly across tenants (see [`FairClaim`]): each one's next check
    /// moves to `now + interval`, only if no other instance moved it first.
    pub async fn claim_health_checks(
        &self,
        now: i64,
        claim: &FairClaim,
    ) -> Result<Vec<HealthRow>, StoreError> {
        const DUE: &str = "enabled = 1 AND next_check_at <= $1";
        let keys = claim.select_keys("trunk_health", "trunk_id", DUE, "next_check_at", 2);
        let sql = format!(
            "SELECT {COLUMNS} FROM trunk_health WHERE {DUE} AND trunk_id IN ({keys}) \
             ORDER BY next_check_at"
        );
        let due = claim
            .bind(sqlx::query(&sql).bind(now))
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = Vec::new();
        for r in due.iter().map(row) {
            let r = r?;
            let next = now + r.interval_secs * 1_000_000;
            let took = sqlx::query(
                "UPDATE trunk_health SET next_check_at = $1 WHERE trunk_id = $2 AND next_check_at = $3 \
                 AND enabled = 1",
            )
            .bind(next)
            .bind(&r.trunk_id)
            .bind(r.next_check_at)
            .execute(&self.writer)
            .await?
            .rows_affected()
                == 1;
            if took {
                claimed.push(r);
            }
        }
        Ok(claimed)
    }

    /// Folds a check into the state: up at the first success, down after `down_after`
    /// failures in a row. Returns the new state.
    pub async fn record_health_check(
        &self,
        trunk_id: &str,
        r: &CheckResult,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM trunk_health WHERE trunk_id = $1");
        let Some(cur) = sqlx::query(&sql)
            .bind(trunk_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let cur = row(&cur)?;
        let misses = if r.healthy { 0 } else { cur.misses + 1 };
        let state = if r.healthy {
            "up".to_owned()
        } else if misses >= cur.down_after {
            "down".to_owned()
        } else {
            cur.state.clone()
        };
        let changed_at = if state != cur.state {
            Some(r.at)
        } else {
            cur.changed_at
        };
        sqlx::query(
            "UPDATE trunk_health SET state = $1, misses = $2, last_checked_at = $3, last_diagnosis = $4, \
             last_rtt_us = $5, changed_at = $6 WHERE trunk_id = $7",
        )
        .bind(&state)
        .bind(misses)
        .bind(r.at)
        .bind(&r.diagnosis)
        .bind(r.rtt_us)
        .bind(changed_at)
        .bind(trunk_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(state))
    }
}

/// The audit's view of a trunk's health-check settings (its state is not configuration).
fn settings_snapshot(enabled: bool, interval_secs: i64, down_after: i64) -> serde_json::Value {
    serde_json::json!({
        "enabled": enabled,
        "interval_secs": interval_secs,
        "down_after": down_after,
    })
}
