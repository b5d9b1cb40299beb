//! The audit of tenants' configuration (migration 0130). A change is recorded inside the
//! transaction that makes it, so a change never lands without its record and a failed one
//! leaves none; each record raises the tenant's configuration version by one.
//!
//! Who made a change is the API key of the request being served: the API scopes each request
//! with [`Actor::scope`] and names its key once authenticated; a write outside any request
//! (an operator's command) is recorded without a key.
//!
//! To record a change in a new write path: open the write transaction, make the change, and
//! call [`record`] with an [`AuditEntry`] in the same transaction before committing.

use crate::{now_micros, Store, StoreError};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// What a change did to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Update,
    Delete,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// The kinds of object the audit names (`object_kind`).
pub mod kinds {
    pub const OUTBOUND_TRUNK: &str = "outbound_trunk";
    pub const INBOUND_TRUNK: &str = "inbound_trunk";
    pub const DISPATCH_RULE: &str = "dispatch_rule";
    pub const ASSISTANT: &str = "assistant";
    pub const CALL_LIMITS: &str = "call_limits";
    pub const HEALTH_CHECK: &str = "health_check";
    pub const PROVIDER_ACCOUNT: &str = "provider_account";
    /// The provider side of an automated trunk (a Twilio trunk trunkline made).
    pub const PROVIDER_TRUNK: &str = "provider_trunk";
    /// A `POST /numbers` setup (the ids of what it made).
    pub const NUMBER: &str = "number";
    pub const ALL: [&str; 9] = [
        OUTBOUND_TRUNK,
        INBOUND_TRUNK,
        DISPATCH_RULE,
        ASSISTANT,
        CALL_LIMITS,
        HEALTH_CHECK,
        PROVIDER_ACCOUNT,
        PROVIDER_TRUNK,
        NUMBER,
    ];
}

/// One change to a tenant's configuration, to record with [`record`]. `before` is `None`
/// for a create, `after` for a delete. Snapshots must hold no secret: name each with
/// [`secret_markers`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub tenant_id: String,
    pub object_kind: &'static str,
    pub object_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditEntry {
    pub fn new(tenant_id: &str, object_kind: &'static str, object_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            object_kind,
            object_id: object_id.to_owned(),
            before: None,
            after: None,
        }
    }

    pub fn before(mut self, snapshot: Value) -> Self {
        self.before = Some(snapshot);
        self
    }

    pub fn after(mut self, snapshot: Value) -> Self {
        self.after = Some(snapshot);
        self
    }

    /// What the entry records; `None` when it records nothing (the object is as it was).
    pub fn action(&self) -> Option<AuditAction> {
        match (&self.before, &self.after) {
            (None, Some(_)) => Some(AuditAction::Create),
            (Some(_), None) => Some(AuditAction::Delete),
            (Some(b), Some(a)) if unchanged(b, a) => None,
            (Some(_), Some(_)) => Some(AuditAction::Update),
            (None, None) => None,
        }
    }
}

/// Whether two snapshots describe the same object: equal once every secret marker reads the
/// same (a secret `kept` is the secret that was `set`).
fn unchanged(before: &Value, after: &Value) -> bool {
    fn plain(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(Value::Object(s)) = v.get_mut("secrets") {
            for marker in s.values_mut() {
                if marker == "kept" {
                    *marker = Value::from("set");
                }
            }
        }
        v
    }
    plain(before) == plain(after)
}

/// A recorded change, as `GET /audit` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The tenant's configuration version this change produced.
    pub version: i64,
    pub key_id: Option<String>,
    pub at: i64,
    pub object_kind: String,
    pub object_id: String,
    pub action: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which records a listing shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    /// Records with a version above this one.
    pub after_version: Option<i64>,
}

/// Markers for the secrets of a row (the sealed JSON maps of field names to sealed values):
/// `set` for each secret `after` holds when there is no `before` to compare with, else `kept`
/// when the sealed value is the one `before` held, `changed` when it differs.
pub fn secret_markers(after: &str, before: Option<&str>) -> Value {
    let parse = |s: &str| serde_json::from_str::<BTreeMap<String, Value>>(s).unwrap_or_default();
    let now = parse(after);
    let then = before.map(parse);
    let mut out = Map::new();
    for (field, sealed) in now {
        if sealed.is_null() {
            continue;
        }
        let marker = match &then {
            None => "set",
            Some(then) if then.get(&field) == Some(&sealed) => "kept",
            Some(_) => "changed",
        };
        out.insert(field, Value::from(marker));
    }
    Value::Object(out)
}

/// Stored JSON as a value (a column that is not JSON is kept as its text).
pub fn json_column(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
}

/// Records `entry` in `tx`, the transaction of the change it describes, and raises the
/// tenant's configuration version. Returns the version, or `None` when the entry records no
/// change (then nothing is written).
pub async fn record(
    tx: &mut Transaction<'static, Any>,
    entry: &AuditEntry,
) -> Result<Option<i64>, StoreError> {
    let Some(action) = entry.action() else {
        return Ok(None);
    };
    let key_id = match Actor::current_key() {
        Some(KeyRef::Id(id)) => Some(id),
        Some(KeyRef::Hash(hash)) => sqlx::query("SELECT id FROM api_keys WHERE key_hash = $1")
            .bind(hash)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get::<String, _>("id"))
            .transpose()?,
        None => None,
    };
    let version: i64 = sqlx::query(
        "UPDATE tenants SET config_version = config_version + 1 WHERE id = $1 \
         RETURNING config_version",
    )
    .bind(&entry.tenant_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get("config_version")?;
    let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    sqlx::query(
        "INSERT INTO audit_records (tenant_id, version, key_id, at, object_kind, object_id, \
         action, before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&entry.tenant_id)
    .bind(version)
    .bind(key_id)
    .bind(now_micros())
    .bind(entry.object_kind)
    .bind(&entry.object_id)
    .bind(action.as_str())
    .bind(text(&entry.before))
    .bind(text(&entry.after))
    .execute(&mut **tx)
    .await?;
    Ok(Some(version))
}

fn audit_row(r: &AnyRow) -> Result<AuditRecord, sqlx::Error> {
    let json = |col: &str| -> Result<Option<Value>, sqlx::Error> {
        Ok(r.try_get::<Option<String>, _>(col)?
            .map(|t| json_column(&t)))
    };
    Ok(AuditRecord {
        version: r.try_get("version")?,
        key_id: r.try_get("key_id")?,
        at: r.try_get("at")?,
        object_kind: r.try_get("object_kind")?,
        object_id: r.try_get("object_id")?,
        action: r.try_get("action")?,
        before: json("before_state")?,
        after: json("after_state")?,
    })
}

impl Store {
    /// Up to `limit` of a tenant's records, oldest first, as `filter` selects them.
    pub async fn audit_records(
        &self,
        tenant_id: &str,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT version, key_id, at, object_kind, object_id, action, before_state, \
             after_state FROM audit_records WHERE tenant_id = $1 AND version > $2",
        );
        let mut binds: Vec<&str> = Vec::new();
        if let Some(k) = &filter.object_kind {
            binds.push(k);
            sql.push_str(&format!(" AND object_kind = ${}", binds.len() + 2));
        }
        if let Some(id) = &filter.object_id {
            binds.push(id);
            sql.push_str(&format!(" AND object_id = ${}", binds.len() + 2));
        }
        sql.push_str(&format!(" ORDER BY version LIMIT ${}", binds.len() + 3));
        let mut q = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(filter.after_version.unwrap_or(0));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }

    /// The tenant's configuration version: how many changes its configuration has had.
    pub async fn config_version(&self, tenant_id: &str) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT config_version FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => r.try_get("config_version")?,
            None => 0,
        })
    }
}

/// The API key a change is made with.
#[derive(Debug, Clone)]
enum KeyRef {
    Id(String),
    /// The key's hash, as the API's authentication knows it; its id is read when a change
    /// is recorded, so requests that change nothing cost nothing more.
    Hash(String),
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Who a request acts as, for the audit: set once per request, read by [`record`].
#[derive(Debug, Clone, Default)]
pub struct Actor(Arc<Mutex<Option<KeyRef>>>);

impl Actor {
    /// Runs `f` (one request) with an actor of its own, named by [`Actor::key_hash`] or
    /// [`Actor::key_id`] once the request is authenticated.
    pub async fn scope<F: Future>(f: F) -> F::Output {
        ACTOR.scope(Actor::default(), f).await
    }

    /// The request in progress acts with the API key of this hash.
    pub fn key_hash(hash: &str) {
        Self::set(KeyRef::Hash(hash.to_owned()));
    }

    /// The request in progress acts with the API key of this id.
    pub fn key_id(id: &str) {
        Self::set(KeyRef::Id(id.to_owned()));
    }

    fn set(key: KeyRef) {
        let _ = ACTOR.try_with(|a| *a.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(key));
    }

    fn current_key() -> Option<KeyRef> {
        ACTOR
            .try_with(|a| a.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_markers_never_values() {
        let before = r#"{"password":"sealed-1","token":"sealed-2"}"#;
        let after = r#"{"password":"sealed-1","token":"sealed-3","pin":"sealed-4"}"#;
        assert_eq!(
            secret_markers(after, Some(before)),
            json!({"password": "kept", "token": "changed", "pin": "changed"})
        );
        assert_eq!(
            secret_markers(before, None),
            json!({"password": "set", "token": "set"})
        );
    }

    #[test]
    fn an_entry_that_changes_nothing_records_nothing() {
        let snap = |marker: &str| json!({"name": "a", "secrets": {"password": marker}});
        let e = AuditEntry::new("T", kinds::OUTBOUND_TRUNK, "ST_1");
        assert_eq!(e.clone().action(), None);
        assert_eq!(
            e.clone().after(snap("set")).action(),
            Some(AuditAction::Create)
        );
        assert_eq!(
            e.clone().before(snap("set")).action(),
            Some(AuditAction::Delete)
        );
        assert_eq!(
            e.clone().before(snap("set")).after(snap("kept")).action(),
            None
        );
        assert_eq!(
            e.before(snap("set")).after(snap("changed")).action(),
            Some(AuditAction::Update)
        );
    }
}
