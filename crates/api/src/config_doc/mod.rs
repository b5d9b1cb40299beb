//! A tenant's configuration as one versioned JSON document (`GET /config/export`,
//! `POST /config/import`).
//!
//! Each object is written in the shape the API's own create takes, plus its `id`: an import
//! replays the differences as API requests (`apply.rs`), so it is validated and provisioned
//! exactly as those requests are. Secrets are never written: each one held is the marker
//! `{"kept": true}`; an import may put a new value (a string) in its place.

pub mod apply;
pub mod plan;

use crate::error::ApiError;
use crate::state::AppState;
use serde_json::{json, Map, Value};
use trunkline_core::provisioning::{dispatch, inbound};
use trunkline_core::timefmt::iso8601;
use trunkline_store::{now_micros, InboundTrunkRow, OutboundTrunkRow};

/// The document's `format`.
pub const FORMAT: &str = "trunkline-config";
/// The document's `format_version`: raised when the shape of an object changes.
pub const FORMAT_VERSION: i64 = 1;

/// A secret the document does not carry, in place of its value.
pub fn kept_marker() -> Value {
    json!({"kept": true})
}

pub fn is_kept_marker(v: &Value) -> bool {
    v == &kept_marker()
}

/// One kind of object in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Assistants,
    OutboundTrunks,
    InboundTrunks,
    DispatchRules,
}

impl DocKind {
    /// In the order creates must run: rules name inbound trunks.
    pub const ALL: [DocKind; 4] = [
        DocKind::Assistants,
        DocKind::OutboundTrunks,
        DocKind::InboundTrunks,
        DocKind::DispatchRules,
    ];

    /// The document's key for the list of these objects.
    pub fn key(self) -> &'static str {
        match self {
            Self::Assistants => "assistants",
            Self::OutboundTrunks => "outbound_trunks",
            Self::InboundTrunks => "inbound_trunks",
            Self::DispatchRules => "dispatch_rules",
        }
    }

    /// The kind as the audit and the plan name it.
    pub fn object_kind(self) -> &'static str {
        use trunkline_store::audit::kinds;
        match self {
            Self::Assistants => kinds::ASSISTANT,
            Self::OutboundTrunks => kinds::OUTBOUND_TRUNK,
            Self::InboundTrunks => kinds::INBOUND_TRUNK,
            Self::DispatchRules => kinds::DISPATCH_RULE,
        }
    }

    /// The API path that creates one, and the one of an existing object.
    pub fn collection_path(self) -> &'static str {
        match self {
            Self::Assistants => "/assistants",
            Self::OutboundTrunks => "/sip/outbound-trunks",
            Self::InboundTrunks => "/sip/inbound-trunks",
            Self::DispatchRules => "/sip/dispatch-rules",
        }
    }

    /// Fields holding secrets, at the object's top level or in `trunk_config`.
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            Self::OutboundTrunks => &["password", "auth_password"],
            Self::InboundTrunks => &["auth_password"],
            _ => &[],
        }
    }
}

/// An object without its null fields: a field left out and a null one mean the same to
/// every create, and comparing without them keeps a plan free of no-op changes.
fn without_nulls(mut m: Map<String, Value>) -> Map<String, Value> {
    m.retain(|_, v| !v.is_null());
    m
}

fn stored_object(text: &str, what: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::internal(format!(
            "{what}: stored config unreadable"
        ))),
    }
}

/// An outbound trunk as the document holds it: the create body of
/// `POST /sip/outbound-trunks`, its call limits and health check beside it.
async fn outbound_entry(state: &AppState, row: &OutboundTrunkRow) -> Result<Value, ApiError> {
    let mut config = stored_object(&row.config, &format!("trunk {}", row.id))?;
    for secret in DocKind::OutboundTrunks.secret_fields() {
        if config.remove(&format!("{secret}_set")) == Some(Value::Bool(true)) {
            config.insert((*secret).to_owned(), kept_marker());
        }
    }
    let (cps, conc) = state.store.trunk_limits(&row.id).await?;
    let health = match state.store.trunk_health(&row.id).await? {
        Some(h) => {
            json!({"enabled": h.enabled, "interval_seconds": h.interval_secs, "down_after": h.down_after})
        }
        None => json!({"enabled": false}),
    };
    Ok(json!({
        "id": row.id,
        "trunk_name": row.name,
        "trunk_type": row.trunk_type,
        "trunk_config": without_nulls(config),
        "call_limits": {
            "calls_per_second": cps.map(|m| m as f64 / 1000.0),
            "max_concurrent_calls": conc,
        },
        "health_check": health,
    }))
}

fn inbound_entry(row: &InboundTrunkRow) -> Result<Value, ApiError> {
    let mut m = without_nulls(inbound::stored_public(row)?);
    m.insert("name".into(), Value::from(row.name.as_str()));
    if inbound::has_password(row) {
        m.insert("auth_password".into(), kept_marker());
    }
    m.insert("id".into(), Value::from(row.id.as_str()));
    Ok(Value::Object(m))
}

/// Every object of `kind` the tenant has, as the document holds it, oldest first.
pub async fn entries(
    state: &AppState,
    tenant_id: &str,
    kind: DocKind,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    match kind {
        DocKind::Assistants => {
            for a in state.store.list_assistants(tenant_id).await? {
                let mut m =
                    without_nulls(stored_object(&a.config, &format!("assistant {}", a.id))?);
                m.insert("name".into(), Value::from(a.name));
                m.insert("id".into(), Value::from(a.id));
                out.push(Value::Object(m));
            }
        }
        DocKind::OutboundTrunks => {
            for row in state.store.outbound_trunks().list(tenant_id).await? {
                out.push(outbound_entry(state, &row).await?);
            }
        }
        DocKind::InboundTrunks => {
            for row in state.store.inbound_trunks().list(tenant_id).await? {
                out.push(inbound_entry(&row)?);
            }
        }
        DocKind::DispatchRules => {
            for row in state.store.dispatch_rules().list(tenant_id).await? {
                let mut m = dispatch::current_raw(&row)?;
                m.insert("id".into(), Value::from(row.id.as_str()));
                out.push(Value::Object(m));
            }
        }
    }
    Ok(out)
}

/// The tenant's whole configuration as one document.
pub async fn export(state: &AppState, tenant_id: &str) -> Result<Value, ApiError> {
    // The version first: a change landing while the objects are read makes the document
    // newer than it says, never older, so importing it back is never a silent rollback of it.
    let version = state.store.config_version(tenant_id).await?;
    let mut doc = json!({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tenant_id": tenant_id,
        "config_version": version,
        "exported_at": iso8601(now_micros()),
    });
    for kind in DocKind::ALL {
        doc[kind.key()] = Value::from(entries(state, tenant_id, kind).await?);
    }
    let accounts: Vec<Value> = state
        .store
        .list_provider_accounts(tenant_id)
        .await?
        .into_iter()
        .map(|a| {
            json!({"id": a.id, "provider": a.provider, "name": a.name,
                   "account_hint": a.account_hint, "credentials": kept_marker()})
        })
        .collect();
    doc["provider_accounts"] = Value::from(accounts);
    Ok(doc)
}
