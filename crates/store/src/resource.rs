//! One lifecycle for every provisioned resource (outbound trunks, inbound trunks, dispatch
//! rules): a row holds the desired state, `desired_version` grows on every change and
//! `synced_version` records what the remote side last acknowledged. A kind only describes its
//! table; every read and transition below serves all kinds.
//!
//! A create inserts a `pending` row no read shows, then `confirm`s it once the remote object
//! exists (or `abandon_pending` gives up on it, leaving a tombstone so a late remote object
//! naming it is still recognised as ours). Writes after that are conditional on the version
//! they concern, so a stale writer never overwrites a newer change.

use crate::audit::{self, AuditEntry};
use crate::status::Status;
use crate::{dispatch_rules, inbound_trunks, now_micros, Store, StoreError};
use serde_json::{json, Value};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, FromRow, Row, Transaction};
use std::collections::HashMap;
use std::marker::PhantomData;

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// The rows of a kind claim things other rows may not hold at the same time; the claims go
/// when a row is deleted or abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claims {
    None,
    /// Phone numbers and (number, caller) pairs (`inbound_number_owners`/`_claims`).
    Numbers,
    /// (trunk, caller, dialed number, PIN) combinations (`dispatch_rule_keys`).
    RuleKeys,
}

/// How a kind is stored. Names here are constants, never input.
#[derive(Debug)]
pub struct Kind {
    pub table: &'static str,
    /// The kind as the audit names it (`audit::kinds`).
    pub audit_kind: &'static str,
    /// Every column but `deleted_at` (`Resource::COLUMNS`).
    pub columns: &'static str,
    /// The column naming the remote object.
    pub remote_id: &'static str,
    /// Named in the conflict error when an id is taken.
    pub what: &'static str,
    pub claims: Claims,
    /// Whether the rows carry sealed secrets (a `secrets` column).
    pub secrets: bool,
    /// Whether setting a status also forgets what the remote side was told, so the next pass
    /// pushes the row again (rules: their status follows the account's trunks, and a rule
    /// that waited or failed must be sent whole once it can be).
    pub status_forgets_sync: bool,
}

/// A kind's row type.
pub trait Resource: for<'r> FromRow<'r, AnyRow> + Send + Sync + Unpin + 'static {
    const KIND: Kind;
    /// Every column but `deleted_at`, in the order `bind_columns` binds them.
    const COLUMNS: &'static str;
    /// Binds the values of `COLUMNS`, in that order.
    fn bind_columns<'q>(&'q self, q: AnyQuery<'q>) -> AnyQuery<'q>;
    /// The fields every kind's lifecycle reads.
    fn lifecycle(&self) -> Lifecycle<'_>;
}

/// The lifecycle fields of a row, whatever its kind.
#[derive(Debug, Clone, Copy)]
pub struct Lifecycle<'r> {
    pub id: &'r str,
    pub tenant_id: &'r str,
    pub status: Status,
    /// The remote object the row records, if any.
    pub remote_id: Option<&'r str>,
    pub desired_version: i64,
    pub synced_version: i64,
    pub last_error: Option<&'r str>,
    /// When the remote side last acknowledged the row.
    pub synced_at: Option<i64>,
    pub created_at: i64,
    /// The desired state: name, stored (public) configuration, sealed secrets (kinds that
    /// have them).
    pub name: &'r str,
    pub config: &'r str,
    pub secrets: Option<&'r str>,
}

mod row_macro;
pub(crate) use row_macro::resource_row;

/// A kind whose rows carry sealed secrets.
pub trait WithSecrets: Resource {}

/// The sealed secrets of one row, for re-sealing under a new master key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SecretsRecord {
    pub id: String,
    pub secrets: String,
}

/// The lifecycle operations on one kind's rows: `store.outbound_trunks()`,
/// `store.inbound_trunks()`, `store.dispatch_rules()`.
pub struct Resources<'s, R> {
    store: &'s Store,
    kind: PhantomData<R>,
}

impl Store {
    pub fn resources<R: Resource>(&self) -> Resources<'_, R> {
        Resources {
            store: self,
            kind: PhantomData,
        }
    }

    pub fn outbound_trunks(&self) -> Resources<'_, crate::OutboundTrunkRow> {
        self.resources()
    }

    pub fn inbound_trunks(&self) -> Resources<'_, crate::InboundTrunkRow> {
        self.resources()
    }

    pub fn dispatch_rules(&self) -> Resources<'_, crate::DispatchRuleRow> {
        self.resources()
    }
}

/// Inserts `row` in the caller's transaction (with its claims, for kinds that have them).
/// A row stored as it is (not `pending`) is a configuration change now; a pending one
/// becomes one when it is confirmed.
pub(crate) async fn insert_row<R: Resource>(
    tx: &mut Transaction<'static, Any>,
    row: &R,
) -> Result<(), StoreError> {
    let k = &R::KIND;
    let n = k.columns.split(',').count();
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        k.table,
        k.columns,
        placeholders.join(", ")
    );
    row.bind_columns(sqlx::query(&sql))
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::unique(e, k.what))?;
    let l = row.lifecycle();
    if l.status != Status::Pending {
        audit::record(tx, &entry_of::<R>(l).after(snapshot(l, None))).await?;
    }
    Ok(())
}

/// The audit's view of a row: name and configuration, its secrets as markers (compared with
/// the sealed values of `before` when there is one).
fn snapshot(l: Lifecycle<'_>, before: Option<Lifecycle<'_>>) -> Value {
    let mut v = json!({"name": l.name, "config": audit::json_column(l.config)});
    if let Some(secrets) = l.secrets {
        v["secrets"] = audit::secret_markers(secrets, before.and_then(|b| b.secrets));
    }
    v
}

fn entry_of<R: Resource>(l: Lifecycle<'_>) -> AuditEntry {
    AuditEntry::new(l.tenant_id, R::KIND.audit_kind, l.id)
}

/// A row as `tx` sees it, live or not.
async fn row_in<R: Resource>(
    tx: &mut Transaction<'static, Any>,
    id: &str,
) -> Result<Option<R>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE id = $1",
        R::KIND.columns,
        R::KIND.table
    );
    let r = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(r.as_ref().map(R::from_row).transpose()?)
}

/// Tombstones a row of `tenant_id` (`deleted`) and gives up its claims; `false` when it was
/// not live.
pub(crate) async fn tombstone<R: Resource>(
    tx: &mut Transaction<'static, Any>,
    tenant_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let before = row_in::<R>(tx, id).await?;
    let sql = format!(
        "UPDATE {} SET deleted_at = $1, updated_at = $1, status = '{}' \
         WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL",
        R::KIND.table,
        Status::Deleted.as_str()
    );
    let done = sqlx::query(&sql)
        .bind(now_micros())
        .bind(id)
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    release_claims(R::KIND.claims, tx, id).await?;
    let deleted = done.rows_affected() == 1;
    // A pending row was never part of the configuration a client saw.
    if let Some(before) = before.filter(|b| deleted && b.lifecycle().status != Status::Pending) {
        let l = before.lifecycle();
        audit::record(tx, &entry_of::<R>(l).before(snapshot(l, None))).await?;
    }
    Ok(deleted)
}

async fn release_claims(
    claims: Claims,
    tx: &mut Transaction<'static, Any>,
    id: &str,
) -> Result<(), sqlx::Error> {
    match claims {
        Claims::None => Ok(()),
        Claims::Numbers => inbound_trunks::settle(tx, id, &[]).await,
        Claims::RuleKeys => dispatch_rules::settle(tx, id, &[]).await,
    }
}

impl<R: Resource> Resources<'_, R> {
    /// Inside the transaction that writes row `id`: the owner's trunk-list generation grows
    /// with the write, so no instance can see the one without the other, even if this process
    /// dies between the statements; and the write is announced to the other instances (its
    /// number, for [`Self::changed`]).
    async fn changing(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
    ) -> Result<Option<i64>, StoreError> {
        if R::KIND.table != "trunks" {
            return Ok(None);
        }
        self.store.bump_list_generation(tx, id).await?;
        self.store.announce(tx).await
    }

    /// After the write announced as `n` committed, before it is acknowledged: no instance
    /// answers from what it read before.
    async fn changed(&self, n: Option<i64>) {
        if R::KIND.table == "trunks" {
            self.store.outbound_trunks_changed();
            self.store.confirm_heard(n).await;
        }
    }

    async fn fetch_all(&self, sql: &str, binds: &[&str]) -> Result<Vec<R>, StoreError> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(&self.store.pool).await?;
        Ok(rows.iter().map(R::from_row).collect::<Result<_, _>>()?)
    }

    async fn fetch_one(&self, sql: &str, binds: &[&str]) -> Result<Option<R>, StoreError> {
        Ok(self.fetch_all(sql, binds).await?.into_iter().next())
    }

    async fn write(&self, id: &str, q: AnyQuery<'_>) -> Result<bool, StoreError> {
        let mut tx = self.store.writer.begin().await?;
        let done = q.execute(&mut *tx).await?;
        let wrote = done.rows_affected() == 1;
        let mut announced = None;
        if wrote {
            announced = self.changing(&mut tx, id).await?;
        }
        tx.commit().await?;
        self.changed(announced).await;
        Ok(wrote)
    }

    /// Stores a new row (with no claims: kinds with claims insert through their own call,
    /// which reserves them in the same transaction).
    pub async fn insert(&self, row: &R) -> Result<(), StoreError> {
        let mut tx = self.store.writer.begin().await?;
        insert_row(&mut tx, row).await?;
        let announced = self.changing(&mut tx, row.lifecycle().id).await?;
        tx.commit().await?;
        self.changed(announced).await;
        Ok(())
    }

    /// A tenant's active row: never another tenant's, a deleted or a pending one.
    pub async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>, StoreError> {
        let k = &R::KIND;
        let sql = format!(
            "SELECT {} FROM {} WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL \
             AND status <> '{}'",
            k.columns,
            k.table,
            Status::Pending.as_str()
        );
        self.fetch_one(&sql, &[id, tenant_id]).await
    }

    /// A tenant's active rows in creation order.
    pub async fn list(&self, tenant_id: &str) -> Result<Vec<R>, StoreError> {
        let k = &R::KIND;
        let sql = format!(
            "SELECT {} FROM {} WHERE tenant_id = $1 AND deleted_at IS NULL AND status <> '{}' \
             ORDER BY created_at, id",
            k.columns,
            k.table,
            Status::Pending.as_str()
        );
        self.fetch_all(&sql, &[tenant_id]).await
    }

    /// A live (not deleted) row by id, whatever its tenant or status: for the provisioner,
    /// which re-reads rows before acting on them.
    pub async fn live(&self, id: &str) -> Result<Option<R>, StoreError> {
        let k = &R::KIND;
        let sql = format!(
            "SELECT {} FROM {} WHERE id = $1 AND deleted_at IS NULL",
            k.columns, k.table
        );
        self.fetch_one(&sql, &[id]).await
    }

    /// Every live row (pending ones included) in creation order, for the reconciler.
    pub async fn all_live(&self) -> Result<Vec<R>, StoreError> {
        let k = &R::KIND;
        let sql = format!(
            "SELECT {} FROM {} WHERE deleted_at IS NULL ORDER BY created_at, id",
            k.columns, k.table
        );
        self.fetch_all(&sql, &[]).await
    }

    /// For each of `ids` this database holds (deleted rows included), whether it is still
    /// live. The reconciler asks only about the ids the remote objects name, so the cost
    /// follows the remote side's count, not the ever-growing number of tombstones.
    pub async fn liveness(&self, ids: &[String]) -> Result<HashMap<String, bool>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        // Bounded batches keep every statement under both databases' parameter limits.
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, deleted_at FROM {} WHERE id IN ({})",
                R::KIND.table,
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for r in query.fetch_all(&self.store.pool).await? {
                out.insert(
                    r.try_get::<String, _>("id")?,
                    r.try_get::<Option<i64>, _>("deleted_at")?.is_none(),
                );
            }
        }
        Ok(out)
    }

    /// Writes a new desired state if nobody changed the row since `expected_version` was
    /// read. `secrets` is written only by kinds that have them. `false` on a lost race (the
    /// caller re-reads and retries or reports a conflict).
    pub async fn update_desired(
        &self,
        id: &str,
        expected_version: i64,
        name: &str,
        config: &str,
        secrets: Option<&str>,
    ) -> Result<bool, StoreError> {
        let k = &R::KIND;
        let secrets = secrets.filter(|_| k.secrets);
        let set_secrets = if secrets.is_some() {
            ", secrets = $6"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE {} SET name = $1, config = $2, desired_version = desired_version + 1, \
             updated_at = $3{set_secrets} WHERE id = $4 AND desired_version = $5 AND deleted_at IS NULL",
            k.table
        );
        let mut q = sqlx::query(&sql)
            .bind(name)
            .bind(config)
            .bind(now_micros())
            .bind(id)
            .bind(expected_version);
        if let Some(s) = secrets {
            q = q.bind(s);
        }
        let mut tx = self.store.writer.begin().await?;
        let before = row_in::<R>(&mut tx, id).await?;
        let saved = q.execute(&mut *tx).await?.rows_affected() == 1;
        let mut announced = None;
        if saved {
            // The audit's "after" is the row as just written: no second read.
            if let Some(before) = &before {
                let b = before.lifecycle();
                let a = Lifecycle {
                    name,
                    config,
                    secrets: secrets.or(b.secrets),
                    ..b
                };
                let entry = entry_of::<R>(a)
                    .before(snapshot(b, None))
                    .after(snapshot(a, Some(b)));
                audit::record(&mut tx, &entry).await?;
            }
            announced = self.changing(&mut tx, id).await?;
        }
        tx.commit().await?;
        self.changed(announced).await;
        Ok(saved)
    }

    /// Completes a create: the pending row takes `status` and the remote object's id (None
    /// when the remote side holds nothing yet, so the next pass pushes it). `false` when the
    /// row is no longer pending (the reconciler gave up on it): the caller must undo its
    /// remote object and must not acknowledge the create.
    pub async fn confirm(
        &self,
        id: &str,
        remote_id: Option<&str>,
        status: Status,
    ) -> Result<bool, StoreError> {
        let k = &R::KIND;
        let sql = format!(
            "UPDATE {} SET status = $1, {} = $2, \
             synced_version = CASE WHEN $2 IS NULL THEN 0 ELSE desired_version END, \
             last_error = NULL, synced_at = $3 WHERE id = $4 AND status = '{}' AND deleted_at IS NULL",
            k.table,
            k.remote_id,
            Status::Pending.as_str()
        );
        let mut tx = self.store.writer.begin().await?;
        let done = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(remote_id)
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let confirmed = done.rows_affected() == 1;
        // The create becomes part of the configuration here, with the row it confirms.
        if let Some(row) = row_in::<R>(&mut tx, id).await?.filter(|_| confirmed) {
            let l = row.lifecycle();
            audit::record(&mut tx, &entry_of::<R>(l).after(snapshot(l, None))).await?;
        }
        let mut announced = None;
        if confirmed {
            announced = self.changing(&mut tx, id).await?;
        }
        tx.commit().await?;
        self.changed(announced).await;
        Ok(confirmed)
    }

    /// Records that the remote side holds `version` of this row under `remote_id` (None: it
    /// holds none, as intended). `false` when the row moved on meanwhile (deleted, or a newer
    /// version saved).
    pub async fn mark_synced(
        &self,
        id: &str,
        version: i64,
        remote_id: Option<&str>,
        status: Status,
    ) -> Result<bool, StoreError> {
        let k = &R::KIND;
        let sql = format!(
            "UPDATE {} SET {} = $1, synced_version = $2, status = $3, last_error = NULL, \
             synced_at = $4 WHERE id = $5 AND desired_version = $2 AND deleted_at IS NULL",
            k.table, k.remote_id
        );
        self.write(
            id,
            sqlx::query(&sql)
                .bind(remote_id)
                .bind(version)
                .bind(status.as_str())
                .bind(now_micros())
                .bind(id),
        )
        .await
    }

    /// Forgets what the remote side was last told, so the next reconciler pass pushes the
    /// whole stored configuration (after a remote change whose database write failed).
    pub async fn mark_unsynced(&self, id: &str) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {} SET synced_version = 0 WHERE id = $1",
            R::KIND.table
        );
        self.write(id, sqlx::query(&sql).bind(id)).await?;
        Ok(())
    }

    /// Sets the status and last error of `version` of a row (of whatever version is current
    /// when `version` is None). `false` when the row moved on meanwhile.
    pub async fn set_status(
        &self,
        id: &str,
        version: Option<i64>,
        status: Status,
        last_error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let k = &R::KIND;
        let forget = if k.status_forgets_sync {
            ", synced_version = 0"
        } else {
            ""
        };
        let at_version = if version.is_some() {
            " AND desired_version = $4"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE {} SET status = $1, last_error = $2{forget} \
             WHERE id = $3{at_version} AND deleted_at IS NULL",
            k.table
        );
        let mut q = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(last_error)
            .bind(id);
        if let Some(v) = version {
            q = q.bind(v);
        }
        self.write(id, q).await
    }

    /// Gives up on a create no client was told about: the row stays as a tombstone
    /// (`abandoned`, deleted) so a remote object that names it and turns up later is still
    /// recognised as ours and removed; its claims are released. `false` when the row is no
    /// longer pending.
    pub async fn abandon_pending(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let k = &R::KIND;
        let mut tx = self.store.writer.begin().await?;
        if k.claims != Claims::None {
            inbound_trunks::lock_tenant(&mut tx, tenant_id).await?;
        }
        let sql = format!(
            "UPDATE {} SET status = '{}', deleted_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = '{}' AND deleted_at IS NULL",
            k.table,
            Status::Abandoned.as_str(),
            Status::Pending.as_str()
        );
        let done = sqlx::query(&sql)
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let retired = done.rows_affected() == 1;
        // Only a row retired here gives up its claims: one confirmed meanwhile is live and
        // its claims must stay.
        let mut announced = None;
        if retired {
            release_claims(k.claims, &mut tx, id).await?;
            announced = self.changing(&mut tx, id).await?;
        }
        tx.commit().await?;
        self.changed(announced).await;
        Ok(retired)
    }

    /// Deletes a tenant's row (a tombstone) and releases its claims; `false` when it was not
    /// active.
    pub async fn mark_deleted(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.store.writer.begin().await?;
        if R::KIND.claims != Claims::None {
            inbound_trunks::lock_tenant(&mut tx, tenant_id).await?;
        }
        let done = tombstone::<R>(&mut tx, tenant_id, id).await?;
        let mut announced = None;
        if done {
            announced = self.changing(&mut tx, id).await?;
        }
        tx.commit().await?;
        self.changed(announced).await;
        Ok(done)
    }
}

impl<R: WithSecrets> Resources<'_, R> {
    /// Every row's sealed secrets, tombstones included.
    pub async fn all_secrets(&self) -> Result<Vec<SecretsRecord>, StoreError> {
        let sql = format!("SELECT id, secrets FROM {} ORDER BY id", R::KIND.table);
        let rows = sqlx::query(&sql).fetch_all(&self.store.pool).await?;
        Ok(rows
            .iter()
            .map(SecretsRecord::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Replaces one row's sealed secrets if they still are `expected` (for master-key
    /// rotation: a change saved meanwhile is not overwritten). `false` on a miss.
    pub async fn replace_secrets(
        &self,
        id: &str,
        expected: &str,
        secrets: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {} SET secrets = $1 WHERE id = $2 AND secrets = $3",
            R::KIND.table
        );
        let done = sqlx::query(&sql)
            .bind(secrets)
            .bind(id)
            .bind(expected)
            .execute(&self.store.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
