//! The outbox of end-of-call webhooks: rows written with a call's final status, leased by a
//! deliverer (fairly across tenants; a conditional update, so two instances never lease one row), retried with backoff until delivered
//! or given up.

use crate::{FairClaim, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: String,
    pub tenant_id: String,
    pub call_id: String,
    pub url: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, call_id, url, status, attempts, next_attempt_at, \
    last_status, last_error, created_at, delivered_at";

fn row(r: &AnyRow) -> Result<OutboxRow, sqlx::Error> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        call_id: r.try_get("call_id")?,
        url: r.try_get("url")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

/// The result of one delivery attempt.
#[derive(Debug, Clone)]
pub struct DeliveryResult {
    pub delivered: bool,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    /// When to try again; `None` with `delivered` false means give up.
    pub retry_at: Option<i64>,
    pub now: i64,
}

impl Store {
    /// Leases due deliveries until `lease_until`, fairly across tenants (see [`FairClaim`]), so
    /// no other deliverer takes them meanwhile; a deliverer that dies lets its lease lapse.
    pub async fn lease_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        claim: &FairClaim,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        const DUE: &str = "status = 'pending' AND next_attempt_at <= $2 AND lease_until <= $2";
        let keys = claim.select_keys("webhook_outbox", "id", DUE, "next_attempt_at", 3);
        let sql = format!(
            "UPDATE webhook_outbox SET lease_until = $1 WHERE {DUE} AND id IN ({keys}) \
             RETURNING {COLUMNS}"
        );
        let q = sqlx::query(&sql).bind(lease_until).bind(now);
        let rows = claim.bind(q).fetch_all(&self.writer).await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }

    pub async fn record_delivery(&self, id: &str, r: &DeliveryResult) -> Result<(), StoreError> {
        let status = match (r.delivered, r.retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        sqlx::query(
            "UPDATE webhook_outbox SET status = $1, attempts = attempts + 1, last_status = $2, \
             last_error = $3, next_attempt_at = COALESCE($4, next_attempt_at), lease_until = 0, \
             delivered_at = CASE WHEN $1 = 'delivered' THEN $5 ELSE delivered_at END \
             WHERE id = $6 AND status = 'pending'",
        )
        .bind(status)
        .bind(r.http_status)
        .bind(&r.error)
        .bind(r.retry_at)
        .bind(r.now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A call's webhook deliveries, oldest first.
    pub async fn deliveries_for_call(
        &self,
        tenant_id: &str,
        call_id: &str,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_outbox WHERE tenant_id = $1 AND call_id = $2 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(call_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }
}
