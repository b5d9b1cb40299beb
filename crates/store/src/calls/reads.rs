//! Reads of calls: one call, a tenant's pages, and the sweeps' selections.

use super::*;

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

    /// A tenant's calls past the queue and not ended yet (claimed, dialing, ringing,
    /// answered), newest first.
    pub async fn calls_in_progress(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<CallRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND {IN_FLIGHT} \
             AND status <> 'queued' ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
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
}
