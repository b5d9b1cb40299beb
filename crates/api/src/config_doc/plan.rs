//! What importing a document would do: per object, create, update (with the fields that
//! change) or delete. The document is the tenant's whole configuration: an object the tenant
//! has and the document does not is deleted.
//!
//! An object of the document is this tenant's object with its id when the tenant has it,
//! else the copy an earlier import made of it (`config_import_ids`), else it is created with
//! a new id. So a document from another tenant imports as a copy, and importing the same
//! document twice changes nothing the second time.

use super::{entries, is_kept_marker, DocKind, FORMAT, FORMAT_VERSION};
use crate::error::ApiError;
use crate::state::AppState;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use trunkline_core::provisioning::inbound;
use trunkline_domain::ValidationErrors;
use utoipa::ToSchema;

/// A validated document: its objects by kind.
pub struct Document {
    pub tenant_id: Option<String>,
    pub objects: Vec<(DocKind, Vec<Map<String, Value>>)>,
}

impl Document {
    pub fn of(&self, kind: DocKind) -> &[Map<String, Value>] {
        self.objects
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// Checks the document's envelope and that each object has an id of its own; the objects'
/// contents are checked by the API requests that apply them.
pub fn document(doc: &Value) -> Result<Document, ApiError> {
    let mut errors = ValidationErrors::default();
    let Some(top) = doc.as_object() else {
        return Err(ApiError::field(
            "body",
            "must be a JSON object (a GET /config/export document)",
        ));
    };
    if top.get("format").and_then(Value::as_str) != Some(FORMAT) {
        errors.push("format", format!("must be \"{FORMAT}\""));
    }
    if top.get("format_version").and_then(Value::as_i64) != Some(FORMAT_VERSION) {
        errors.push(
            "format_version",
            format!("must be {FORMAT_VERSION}, the version this server reads"),
        );
    }
    let mut seen = HashSet::new();
    let mut objects = Vec::new();
    for kind in DocKind::ALL {
        let key = kind.key();
        // Documents exported before accounts were imported may lack them; none is deleted
        // by an import anyway.
        let absent = kind == DocKind::ProviderAccounts && top.get(key).is_none();
        let empty = Vec::new();
        let Some(list) = top
            .get(key)
            .and_then(Value::as_array)
            .or(absent.then_some(&empty))
        else {
            errors.push(
                key,
                "must be a list (empty to have none: the document is the whole configuration)",
            );
            continue;
        };
        let mut of_kind = Vec::new();
        for (i, o) in list.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let Some(m) = o.as_object() else {
                errors.push(at, "must be a JSON object");
                continue;
            };
            match m.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() && id.len() <= 64 => {
                    if !seen.insert(id.to_owned()) {
                        errors.push(
                            format!("{at}.id"),
                            "names an object the document already has",
                        );
                    }
                }
                _ => errors.push(
                    format!("{at}.id"),
                    "must be the object's id, 1 to 64 characters",
                ),
            }
            of_kind.push(m.clone());
        }
        objects.push((kind, of_kind));
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(Document {
        tenant_id: top
            .get("tenant_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        objects,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Step {
    pub action: Action,
    /// `provider_account`, `outbound_trunk`, `inbound_trunk`, `dispatch_rule` or `assistant`.
    pub object_kind: &'static str,
    /// The object here; null for a create (its id is made when it is created).
    pub object_id: Option<String>,
    /// The object's id in the document; null for a delete.
    pub source_id: Option<String>,
    /// What changes, e.g. `trunk_config.numbers`, `call_limits`; every field for a create.
    pub fields: Vec<String>,
    #[serde(skip)]
    pub kind: DocKind,
    /// The create's or the change's request body.
    #[serde(skip)]
    pub body: Map<String, Value>,
    /// Outbound trunks: the call limits and health check to set after the trunk's request.
    #[serde(skip)]
    pub limits: Option<Value>,
    #[serde(skip)]
    pub health: Option<Value>,
}

/// A secret the document does not carry and this tenant does not hold for the object.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct MissingSecret {
    pub object_kind: &'static str,
    pub source_id: String,
    /// e.g. `trunk_config.password`.
    pub field: String,
}

/// The tenant's objects of a kind now, by id.
pub struct Current {
    pub objects: HashMap<String, Map<String, Value>>,
    pub order: Vec<String>,
}

pub async fn current(
    state: &AppState,
    tenant_id: &str,
    kind: DocKind,
) -> Result<Current, ApiError> {
    let mut objects = HashMap::new();
    let mut order = Vec::new();
    for e in entries(state, tenant_id, kind).await? {
        if let Value::Object(mut m) = e {
            let id = m
                .remove("id")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            order.push(id.clone());
            objects.insert(id, m);
        }
    }
    Ok(Current { objects, order })
}

/// The object here a document object stands for, if any.
pub fn resolve(
    source_id: &str,
    current: &Current,
    import_ids: &HashMap<String, String>,
) -> Option<String> {
    if current.objects.contains_key(source_id) {
        return Some(source_id.to_owned());
    }
    import_ids
        .get(source_id)
        .filter(|local| current.objects.contains_key(*local))
        .cloned()
}

/// The deletes: the tenant's objects of `kind` that no document object stands for.
pub fn deletes(
    kind: DocKind,
    wanted: &[Map<String, Value>],
    current: &Current,
    import_ids: &HashMap<String, String>,
) -> Vec<Step> {
    if kind == DocKind::ProviderAccounts {
        // An account the document leaves out may still hold numbers and trunks at its
        // provider: an import never deletes one (`DELETE /provider-accounts/{id}` does).
        return Vec::new();
    }
    let kept: HashSet<String> = wanted
        .iter()
        .filter_map(|w| w.get("id").and_then(Value::as_str))
        .filter_map(|src| resolve(src, current, import_ids))
        .collect();
    current
        .order
        .iter()
        .filter(|id| !kept.contains(*id))
        .map(|id| Step {
            action: Action::Delete,
            object_kind: kind.object_kind(),
            object_id: Some(id.clone()),
            source_id: None,
            fields: Vec::new(),
            kind,
            body: Map::new(),
            limits: None,
            health: None,
        })
        .collect()
}

/// Where secrets sit in an object of `kind`: the object itself, or its `trunk_config`.
fn secret_home(kind: DocKind) -> Option<&'static str> {
    (kind == DocKind::OutboundTrunks).then_some("trunk_config")
}

/// A secret's value as this tenant holds it, unsealed in memory to compare with a value the
/// document carries.
async fn held_secret(
    state: &AppState,
    tenant_id: &str,
    kind: DocKind,
    id: &str,
    field: &str,
) -> Result<Option<String>, ApiError> {
    Ok(match kind {
        DocKind::OutboundTrunks => match state.store.outbound_trunks().get(tenant_id, id).await? {
            Some(row) => trunkline_core::records::open(&state.keyring, &row)?
                .secrets()
                .into_iter()
                .find(|(f, _)| *f == field)
                .map(|(_, s)| s.expose().to_owned()),
            None => None,
        },
        DocKind::InboundTrunks => match state.store.inbound_trunks().get(tenant_id, id).await? {
            Some(row) => inbound::current_raw(&state.keyring, &row)?
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned),
            None => None,
        },
        _ => None,
    })
}

/// Ids of other objects as they are here: a rule's `trunk_ids`, a trunk's provider account.
fn map_trunk_ids(kind: DocKind, o: &mut Map<String, Value>, ids: &HashMap<String, String>) {
    let map = |v: &mut Value| {
        if let Some(local) = v.as_str().and_then(|s| ids.get(s)) {
            *v = Value::from(local.as_str());
        }
    };
    match kind {
        DocKind::DispatchRules => {
            if let Some(Value::Array(list)) = o.get_mut("trunk_ids") {
                list.iter_mut().for_each(map);
            }
        }
        DocKind::OutboundTrunks => {
            if let Some(v) = o
                .get_mut("trunk_config")
                .and_then(|c| c.get_mut("provider_account_id"))
            {
                map(v);
            }
        }
        DocKind::InboundTrunks => {
            if let Some(v) = o.get_mut("provider_account_id") {
                map(v);
            }
        }
        _ => {}
    }
}

/// A provider account's create body: its credentials (an object in the document) beside
/// `provider` and `name`, as `POST /provider-accounts` takes them.
fn account_body(o: &mut Map<String, Value>) {
    o.remove("account_hint");
    if let Some(Value::Object(credentials)) = o.remove("credentials") {
        for (k, v) in credentials {
            o.entry(k).or_insert(v);
        }
    }
}

/// Splits an outbound trunk's call limits and health check off its body.
fn split_settings(kind: DocKind, o: &mut Map<String, Value>) -> (Option<Value>, Option<Value>) {
    if kind != DocKind::OutboundTrunks {
        return (None, None);
    }
    (o.remove("call_limits"), o.remove("health_check"))
}

/// What a create of document object `o` sends, and the secrets it lacks.
pub fn create_step(
    kind: DocKind,
    mut o: Map<String, Value>,
    ids: &HashMap<String, String>,
    missing: &mut Vec<MissingSecret>,
) -> Step {
    let source_id = o
        .remove("id")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    map_trunk_ids(kind, &mut o, ids);
    let (limits, health) = split_settings(kind, &mut o);
    let home = match secret_home(kind) {
        Some(h) => o.get_mut(h).and_then(Value::as_object_mut),
        None => Some(&mut o),
    };
    if let Some(home) = home {
        for field in kind.secret_fields() {
            if home.get(*field).is_some_and(is_kept_marker) {
                home.remove(*field);
                missing.push(MissingSecret {
                    object_kind: kind.object_kind(),
                    source_id: source_id.clone(),
                    field: secret_home(kind)
                        .map_or((*field).to_owned(), |h| format!("{h}.{field}")),
                });
            }
        }
    }
    if kind == DocKind::ProviderAccounts {
        account_body(&mut o);
    }
    // The fields a create sets; never a credential's name beside its value.
    let mut fields: Vec<String> = if kind == DocKind::ProviderAccounts {
        vec!["provider".into(), "name".into(), "credentials".into()]
    } else {
        o.keys().cloned().collect()
    };
    // Settings left at their defaults need no request of their own.
    let limits = limits.filter(|l| {
        l.as_object()
            .is_some_and(|m| m.values().any(|v| !v.is_null()))
    });
    let health = health.filter(|h| h.get("enabled") == Some(&Value::Bool(true)));
    fields.extend(limits.iter().map(|_| "call_limits".to_owned()));
    fields.extend(health.iter().map(|_| "health_check".to_owned()));
    Step {
        action: Action::Create,
        object_kind: kind.object_kind(),
        object_id: None,
        source_id: Some(source_id),
        fields,
        kind,
        body: o,
        limits,
        health,
    }
}

/// The changes that turn object `have` (here, id `id`) into document object `want`; `None`
/// when there are none.
#[allow(clippy::too_many_arguments)]
pub async fn update_step(
    state: &AppState,
    tenant_id: &str,
    kind: DocKind,
    id: &str,
    have: &Map<String, Value>,
    mut want: Map<String, Value>,
    ids: &HashMap<String, String>,
    missing: &mut Vec<MissingSecret>,
) -> Result<Option<Step>, ApiError> {
    if kind == DocKind::ProviderAccounts {
        // An account this tenant has is left as it is: its credentials are not in the
        // document, and it has no update.
        return Ok(None);
    }
    let source_id = want
        .remove("id")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    map_trunk_ids(kind, &mut want, ids);
    let mut have = have.clone();
    let (want_limits, want_health) = split_settings(kind, &mut want);
    let (have_limits, have_health) = split_settings(kind, &mut have);
    let mut fields = Vec::new();
    let mut body = Map::new();
    diff(&have, &want, "", &mut fields, &mut body);
    if let Some(home) = secret_home(kind) {
        if let (Some(Value::Object(h)), Some(Value::Object(w))) = (have.get(home), want.get(home)) {
            // A nested configuration changes field by field (a PATCH keeps what it leaves out).
            fields.retain(|f| f != home);
            body.remove(home);
            let mut nested = Map::new();
            diff(h, w, &format!("{home}."), &mut fields, &mut nested);
            if !nested.is_empty() {
                body.insert(home.to_owned(), Value::Object(nested));
            }
        }
    }
    // Secrets: a marker keeps what is held (or is missing here); a value is a change only
    // when it differs from the one held.
    let home_path = secret_home(kind)
        .map(|h| format!("{h}."))
        .unwrap_or_default();
    for field in kind.secret_fields() {
        let path = format!("{home_path}{field}");
        let want_secret = match secret_home(kind) {
            Some(h) => want.get(h).and_then(|c| c.get(*field)),
            None => want.get(*field),
        };
        let target = match secret_home(kind) {
            Some(h) => body.get_mut(h).and_then(Value::as_object_mut),
            None => Some(&mut body),
        };
        match want_secret {
            Some(v) if is_kept_marker(v) => {
                if held_secret(state, tenant_id, kind, id, field)
                    .await?
                    .is_none()
                {
                    missing.push(MissingSecret {
                        object_kind: kind.object_kind(),
                        source_id: source_id.clone(),
                        field: path.clone(),
                    });
                }
                fields.retain(|f| *f != path);
                if let Some(t) = target {
                    t.remove(*field);
                }
            }
            Some(Value::String(s))
                if held_secret(state, tenant_id, kind, id, field)
                    .await?
                    .as_deref()
                    == Some(s) =>
            {
                fields.retain(|f| *f != path);
                if let Some(t) = target {
                    t.remove(*field);
                }
            }
            _ => {}
        }
    }
    if let Some(home) = secret_home(kind) {
        if body
            .get(home)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            body.remove(home);
        }
    }
    let limits = (want_limits.is_some() && want_limits != have_limits)
        .then(|| want_limits.unwrap_or_default());
    let health = (want_health.is_some() && want_health != have_health)
        .then(|| want_health.unwrap_or_default());
    fields.extend(limits.iter().map(|_| "call_limits".to_owned()));
    fields.extend(health.iter().map(|_| "health_check".to_owned()));
    if fields.is_empty() {
        return Ok(None);
    }
    Ok(Some(Step {
        action: Action::Update,
        object_kind: kind.object_kind(),
        object_id: Some(id.to_owned()),
        source_id: Some(source_id),
        fields,
        kind,
        body,
        limits,
        health,
    }))
}

/// The top-level fields of `want` that differ from `have` (a field `want` leaves out is
/// cleared with null), into `fields` (prefixed) and `body`.
fn diff(
    have: &Map<String, Value>,
    want: &Map<String, Value>,
    prefix: &str,
    fields: &mut Vec<String>,
    body: &mut Map<String, Value>,
) {
    let mut names: Vec<&String> = have.keys().chain(want.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (h, w) = (
            have.get(name).filter(|v| !v.is_null()),
            want.get(name).filter(|v| !v.is_null()),
        );
        if h != w {
            fields.push(format!("{prefix}{name}"));
            body.insert(name.clone(), w.cloned().unwrap_or(Value::Null));
        }
    }
}
