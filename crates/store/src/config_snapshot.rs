//! One tenant's configuration rows, taken before a configuration import and put back, in one
//! transaction, when the import fails part-way: the import is then all or nothing as far as
//! the database goes.
//!
//! - Objects (provider accounts, assistants, outbound and inbound trunks, dispatch rules)
//!   the import changed or deleted get their rows back as they were; provisioned ones with a
//!   desired version past the current one and `synced_version` 0, so the reconciler sends
//!   them to LiveKit again.
//! - Objects the import created are deleted (tombstones, as a `DELETE` leaves them), so the
//!   reconciler removes their LiveKit objects.
//! - Their settings and claims (call limits, health checks, numbers, rule keys), the audit
//!   records, the import's id map and the configuration version are put back exactly.
//!
//! Rows are copied column by column, as the backup copies them.

use crate::backup::cell;
use crate::status::Status;
use crate::{now_micros, Store, StoreError};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Column, Row, Transaction};
use std::collections::HashMap;

/// Tables of objects: rows are tombstoned, never removed, so they are updated in place.
/// `true` for the provisioned ones (a `status` and the versions the reconciler reads).
const OBJECTS: &[(&str, bool)] = &[
    ("provider_accounts", false),
    ("assistants", false),
    ("trunks", true),
    ("inbound_trunks", true),
    ("dispatch_rules", true),
];

/// Tables put back whole: the tenant's rows removed, the snapshot's inserted. Each names
/// rows of `OBJECTS` only (which stay), so the order is free.
const OWNED: &[&str] = &[
    "trunk_dialing",
    "trunk_health",
    "inbound_number_owners",
    "inbound_number_claims",
    "dispatch_rule_keys",
    "audit_records",
    "config_import_ids",
];

/// Columns the reconciler and the dialer move on their own: a difference there alone is no
/// change of the configuration.
const MOVING: &[&str] = &[
    "status",
    "synced_version",
    "synced_at",
    "last_error",
    "livekit_trunk_id",
    "livekit_rule_id",
    "next_slot_at",
];

/// The tenant's configuration rows at one moment.
pub struct ConfigSnapshot {
    tenant_id: String,
    config_version: i64,
    tables: HashMap<&'static str, Vec<Map<String, Value>>>,
}

fn row_map(r: &AnyRow) -> Result<Map<String, Value>, sqlx::Error> {
    let mut row = Map::new();
    for (i, c) in r.columns().iter().enumerate() {
        row.insert(c.name().to_owned(), cell(r, i)?);
    }
    Ok(row)
}

/// A column name from the database itself, checked anyway: it is spliced into SQL.
fn is_column(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    values: &'q [&'q Value],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for v in values {
        q = match v {
            Value::Number(n) => q.bind(n.as_i64().unwrap_or_default()),
            Value::String(s) => q.bind(s.as_str()),
            _ => q,
        };
    }
    q
}

/// `INSERT` of one row; its null columns are left out (each database gives them NULL).
async fn insert(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    row: &Map<String, Value>,
) -> Result<(), StoreError> {
    let present: Vec<(&String, &Value)> = row
        .iter()
        .filter(|(n, v)| !v.is_null() && is_column(n))
        .collect();
    let names: Vec<&str> = present.iter().map(|(n, _)| n.as_str()).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    let values: Vec<&Value> = present.iter().map(|(_, v)| *v).collect();
    bind_all(sqlx::query(&sql), &values)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets every column of row `id` to `row`'s value (NULL where it is null), and `extra`
/// assignments after them.
async fn overwrite(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    id: &str,
    row: &Map<String, Value>,
    extra: &str,
) -> Result<(), StoreError> {
    let mut sets = Vec::new();
    let mut values: Vec<&Value> = Vec::new();
    for (name, v) in row.iter().filter(|(n, _)| is_column(n) && *n != "id") {
        if v.is_null() {
            sets.push(format!("{name} = NULL"));
        } else {
            values.push(v);
            sets.push(format!("{name} = ${}", values.len()));
        }
    }
    if !extra.is_empty() {
        sets.push(extra.to_owned());
    }
    let id_value = Value::from(id);
    values.push(&id_value);
    let sql = format!(
        "UPDATE {table} SET {} WHERE id = ${}",
        sets.join(", "),
        values.len()
    );
    bind_all(sqlx::query(&sql), &values)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether two versions of a row differ in the configuration (not only in what the
/// reconciler moves on its own).
fn differs(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.iter()
        .chain(b.iter())
        .filter(|(k, _)| !MOVING.contains(&k.as_str()))
        .any(|(k, _)| a.get(k) != b.get(k))
}

impl Store {
    /// The tenant's configuration rows now (see the module's comment for which).
    pub async fn config_snapshot(&self, tenant_id: &str) -> Result<ConfigSnapshot, StoreError> {
        let mut tables = HashMap::new();
        let names = OBJECTS.iter().map(|(t, _)| *t).chain(OWNED.iter().copied());
        for table in names {
            let rows = sqlx::query(&format!("SELECT * FROM {table} WHERE tenant_id = $1"))
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
            let rows = rows.iter().map(row_map).collect::<Result<Vec<_>, _>>()?;
            tables.insert(table, rows);
        }
        Ok(ConfigSnapshot {
            tenant_id: tenant_id.to_owned(),
            config_version: self.config_version(tenant_id).await?,
            tables,
        })
    }

    /// Puts the tenant's configuration back as `snapshot` holds it, in one transaction.
    /// Returns how many objects changed back (put back, or deleted when made since).
    pub async fn restore_config_snapshot(
        &self,
        snapshot: &ConfigSnapshot,
    ) -> Result<usize, StoreError> {
        let tenant = snapshot.tenant_id.as_str();
        let now = now_micros();
        let mut changed = 0;
        let mut tx = self.writer.begin().await?;
        for (table, provisioned) in OBJECTS {
            let before: HashMap<&str, &Map<String, Value>> = snapshot.tables[table]
                .iter()
                .filter_map(|r| r["id"].as_str().map(|id| (id, r)))
                .collect();
            let rows = sqlx::query(&format!("SELECT * FROM {table} WHERE tenant_id = $1"))
                .bind(tenant)
                .fetch_all(&mut *tx)
                .await?;
            for now_row in rows.iter().map(row_map) {
                let now_row = now_row?;
                let id = now_row["id"].as_str().unwrap_or_default().to_owned();
                match before.get(id.as_str()) {
                    Some(then) if differs(then, &now_row) => {
                        // Past the current version: the reconciler sends it again.
                        let extra = if *provisioned {
                            let desired = now_row["desired_version"].as_i64().unwrap_or(0) + 1;
                            format!("desired_version = {desired}, synced_version = 0")
                        } else {
                            String::new()
                        };
                        let mut then = (*then).clone();
                        if *provisioned {
                            then.remove("desired_version");
                            then.remove("synced_version");
                        }
                        overwrite(&mut tx, table, &id, &then, &extra).await?;
                        changed += 1;
                    }
                    Some(_) => {}
                    None if now_row["deleted_at"].is_null() => {
                        let sql = if *provisioned {
                            format!(
                                "UPDATE {table} SET deleted_at = $1, updated_at = $1, status = '{}' WHERE id = $2",
                                Status::Deleted.as_str()
                            )
                        } else if now_row.contains_key("updated_at") {
                            format!(
                                "UPDATE {table} SET deleted_at = $1, updated_at = $1 WHERE id = $2"
                            )
                        } else {
                            format!("UPDATE {table} SET deleted_at = $1 WHERE id = $2")
                        };
                        sqlx::query(&sql)
                            .bind(now)
                            .bind(&id)
                            .execute(&mut *tx)
                            .await?;
                        changed += 1;
                    }
                    None => {}
                }
            }
        }
        for table in OWNED {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
            for row in &snapshot.tables[table] {
                insert(&mut tx, table, row).await?;
            }
        }
        sqlx::query("UPDATE tenants SET config_version = $1 WHERE id = $2")
            .bind(snapshot.config_version)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        if self.fresh.is_some() {
            sqlx::query("UPDATE tenants SET list_generation = list_generation + 1 WHERE id = $1")
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.outbound_trunks_changed();
        Ok(changed)
    }
}
