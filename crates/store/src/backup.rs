//! The operator's backup: every tenant's configuration, row for row, secrets still sealed
//! under the master key (`trunkline backup`), and its restore into an empty database
//! (`trunkline restore`). Calls, events, sessions and leases are not configuration and stay
//! out.
//!
//! Rows are copied column by column as the database holds them (every column is an integer
//! or text), so a backup taken on SQLite restores on PostgreSQL and back.

use crate::{now_micros, Store, StoreError};
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Column, Row};

/// The backup's `format`.
pub const FORMAT: &str = "trunkline-backup";
pub const FORMAT_VERSION: i64 = 1;

/// The tables a backup holds, in the order a restore inserts them: each after those it
/// references.
const TABLES: &[&str] = &[
    "tenants",
    "api_keys",
    "webhook_secrets",
    "assistants",
    "trunks",
    "trunk_dialing",
    "trunk_health",
    "inbound_trunks",
    "inbound_number_owners",
    "inbound_number_claims",
    "dispatch_rules",
    "dispatch_rule_keys",
    "provider_accounts",
    "provider_trunks",
    "number_approvals",
    "audit_records",
    "config_import_ids",
];

/// The provisioned kinds' tables: after a restore the reconciler sends each row again, so a
/// LiveKit (or a provider) that lost its copies, or a new one, is brought back to the
/// configuration.
const PROVISIONED: &[&str] = &[
    "trunks",
    "inbound_trunks",
    "dispatch_rules",
    "provider_trunks",
];

/// Why a restore was refused.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the database is not empty: table {table} holds {rows} rows; restore only into an empty database (a new DATABASE_URL, started by no serve)")]
    NotEmpty { table: &'static str, rows: i64 },
    #[error("this is not a trunkline backup: {0}")]
    NotABackup(String),
    #[error("the backup was taken at schema {backup} and this trunkline is at {ours}: restore it with the trunkline version that took it, then upgrade")]
    Schema { backup: i64, ours: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RestoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A column's value as JSON: an integer, a text or null.
pub(crate) fn cell(r: &AnyRow, i: usize) -> Result<Value, sqlx::Error> {
    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
        return Ok(v.map_or(Value::Null, Value::from));
    }
    Ok(r.try_get::<Option<String>, _>(i)?
        .map_or(Value::Null, Value::from))
}

impl Store {
    /// The newest migration this database has: backups restore only at the same one.
    async fn schema_version(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<Option<i64>, _>("v")?.unwrap_or(0))
    }

    /// Every tenant's configuration as one JSON document.
    pub async fn backup(&self) -> Result<Value, StoreError> {
        let mut tables = Map::new();
        for table in TABLES {
            let rows = sqlx::query(&format!("SELECT * FROM {table}"))
                .fetch_all(&self.pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut row = Map::new();
                for (i, c) in r.columns().iter().enumerate() {
                    row.insert(c.name().to_owned(), cell(r, i)?);
                }
                out.push(Value::Object(row));
            }
            tables.insert((*table).to_owned(), Value::from(out));
        }
        Ok(json!({
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_version": self.schema_version().await?,
            "created_at_micros": now_micros(),
            "tables": tables,
        }))
    }

    /// Restores `backup` into this database, which must hold no configuration; all of it or
    /// nothing (one transaction). Returns how many rows were restored.
    pub async fn restore(&self, backup: &Value) -> Result<u64, RestoreError> {
        let not = |why: &str| RestoreError::NotABackup(why.to_owned());
        if backup["format"] != FORMAT || backup["format_version"] != FORMAT_VERSION {
            return Err(not(&format!(
                "its format is not {FORMAT} version {FORMAT_VERSION}"
            )));
        }
        let ours = self.schema_version().await?;
        let theirs = backup["schema_version"]
            .as_i64()
            .ok_or_else(|| not("no schema_version"))?;
        if theirs != ours {
            return Err(RestoreError::Schema {
                backup: theirs,
                ours,
            });
        }
        let mut tx = self.writer.begin().await?;
        for table in TABLES {
            let rows: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if rows > 0 {
                return Err(RestoreError::NotEmpty { table, rows });
            }
        }
        let mut restored = 0;
        for table in TABLES {
            let rows = backup["tables"][*table]
                .as_array()
                .ok_or_else(|| not(&format!("table {table} is missing")))?;
            for row in rows {
                let row = row
                    .as_object()
                    .ok_or_else(|| not(&format!("a row of {table} is not an object")))?;
                // Null columns are left out: a NULL needs no type, and leaving them out lets
                // each database give them their own.
                let present: Vec<(&String, &Value)> =
                    row.iter().filter(|(_, v)| !v.is_null()).collect();
                if present.iter().any(|(name, _)| {
                    !name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
                }) {
                    return Err(not(&format!("a column of {table} is not a column name")));
                }
                let names: Vec<&str> = present.iter().map(|(n, _)| n.as_str()).collect();
                let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    names.join(", "),
                    marks.join(", ")
                );
                let mut q = sqlx::query(&sql);
                for (_, v) in &present {
                    q = match v {
                        Value::Number(n) => q.bind(n.as_i64().ok_or_else(|| {
                            not(&format!("a value of {table} is not an integer"))
                        })?),
                        Value::String(s) => q.bind(s.as_str()),
                        _ => {
                            return Err(not(&format!(
                                "a value of {table} is neither text nor an integer"
                            )))
                        }
                    };
                }
                q.execute(&mut *tx).await?;
                restored += 1;
            }
        }
        for table in PROVISIONED {
            sqlx::query(&format!("UPDATE {table} SET synced_version = 0"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(restored)
    }
}
