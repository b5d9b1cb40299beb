//! `GET /config/export` and `POST /config/import`: a tenant's whole configuration as one
//! versioned document, without secrets, and back (see `config_doc`).

use crate::config_doc::apply::{failure, Replay};
use crate::config_doc::plan::{self, Action, MissingSecret, Step};
use crate::config_doc::{self, rollback, DocKind};
use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{JsonBody, Tenant};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use trunkline_domain::ValidationErrors;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/export", get(export))
        .route("/config/import", post(import))
}

/// The document `GET /config/export` returns (and `POST /config/import` takes).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; the document is built as JSON
pub struct ConfigDocument {
    /// Always `trunkline-config`.
    format: String,
    /// 1.
    format_version: i64,
    /// The tenant the document was exported from.
    tenant_id: String,
    /// The tenant's configuration version when exported (`GET /audit`).
    config_version: i64,
    /// UTC, `2024-01-15T10:00:00.000000`.
    exported_at: String,
    /// Each as `POST /assistants` takes it, with its `id`.
    #[schema(value_type = Vec<Object>)]
    assistants: Vec<Value>,
    /// Each as `POST /sip/outbound-trunks` takes it, with its `id`, `call_limits` and
    /// `health_check`. A secret held is `{"kept": true}`; on import a string replaces it.
    #[schema(value_type = Vec<Object>)]
    outbound_trunks: Vec<Value>,
    /// Each as `POST /sip/inbound-trunks` takes it, with its `id`; `auth_password` as above.
    #[schema(value_type = Vec<Object>)]
    inbound_trunks: Vec<Value>,
    /// Each as `POST /sip/dispatch-rules` takes it, with its `id`.
    #[schema(value_type = Vec<Object>)]
    dispatch_rules: Vec<Value>,
    /// Each with its `id`, `provider`, `name`, `account_hint` and `credentials` (always
    /// `{"kept": true}` in an export). On import, an account this tenant has is left as it
    /// is; another is created when `credentials` holds its credentials as
    /// `POST /provider-accounts` takes them (e.g. `{"account_sid": …, "auth_token": …}`).
    #[schema(value_type = Vec<Object>)]
    provider_accounts: Vec<Value>,
}

/// What an import did, or (`dry_run`) would do.
#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub dry_run: bool,
    /// Whether the document came from another tenant: its objects are created as copies,
    /// with new ids.
    pub copy: bool,
    /// In the order carried out: deletes first, then creates and updates.
    pub plan: Vec<Step>,
    /// Secrets the document marks as kept that this tenant does not hold: the objects are
    /// made without them; set them with a PATCH (or put the values in the document).
    pub missing_secrets: Vec<MissingSecret>,
    /// Provider accounts of the document this tenant has already: left as they are (an
    /// import never changes or deletes an account).
    pub skipped_provider_accounts: Vec<String>,
    /// The tenant's configuration version after the import.
    pub config_version: i64,
}

/// The tenant's whole configuration: assistants, outbound trunks (with their call limits and
/// health checks), inbound trunks, dispatch rules and provider accounts. No secret is ever in
/// it: each one held shows as `{"kept": true}`.
#[utoipa::path(get, path = "/config/export", tag = "configuration",
    operation_id = "export_configuration",
    summary = "Export the configuration",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The configuration document", body = Envelope<ConfigDocument>),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn export(State(state): State<AppState>, tenant: Tenant) -> Result<Response, ApiError> {
    Ok(ok(
        "Configuration exported successfully",
        config_doc::export(&state, &tenant.id).await?,
    ))
}

/// The document to import: the export's answer as it came, or its `data`.
fn unwrap_document(body: Value) -> Value {
    match body {
        Value::Object(mut m) if m.get("data").is_some_and(|d| d.get("format").is_some()) => {
            m.remove("data").unwrap_or_default()
        }
        other => other,
    }
}

fn dry_run(uri: &Uri) -> Result<bool, ApiError> {
    let mut dry = false;
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if name == "dry_run" {
            dry = match value.as_ref() {
                "true" => true,
                "false" => false,
                _ => return Err(ApiError::field("dry_run", "must be true or false")),
            };
        }
    }
    Ok(dry)
}

/// Makes the tenant's configuration what the document says: creates, updates and deletes
/// through the same requests a client would send, so with the same validation, quotas and
/// provisioning. A step refused undoes the steps before it: the configuration (and, after a
/// reconciler pass, LiveKit) is as before. `?dry_run=true` answers the plan and changes
/// nothing. The same document
/// imported twice changes nothing the second time; another tenant's document imports as a
/// copy with new ids.
#[utoipa::path(post, path = "/config/import", tag = "configuration",
    operation_id = "import_configuration",
    summary = "Import a configuration document",
    request_body = ConfigDocument,
    params(("dry_run" = Option<bool>, Query, description = "true: answer the plan, change nothing")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan, and whether it was applied", body = Envelope<ImportResult>),
        (status = 400, description = "Not a configuration document, or an object the API refuses (its fields named within the document)", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 409, description = "An object conflicts with another (a number or rule already held)")))]
pub async fn import(
    State(state): State<AppState>,
    tenant: Tenant,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let dry = dry_run(&uri)?;
    let body = unwrap_document(body);
    let doc = plan::document(&body)?;
    let replay = Replay {
        state: state.clone(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    };
    let (planned, missing) = run(&state, &tenant.id, &doc, None).await?;
    if !dry && !missing.is_empty() {
        let mut errors = ValidationErrors::default();
        for m in &missing {
            let rule = if m.field == "credentials" {
                "is kept in the document, and this account does not have that provider account: put its credentials in the document (an object as POST /provider-accounts takes them, e.g. {\"account_sid\": …, \"auth_token\": …}, in place of {\"kept\": true})"
            } else {
                "is kept in the document, but this account holds no value for it: put the value in the document (a string in place of {\"kept\": true})"
            };
            errors.push(
                format!("{}[{}].{}", kind_key(m.object_kind), m.source_id, m.field),
                rule,
            );
        }
        return Err(errors.into());
    }
    let steps = if dry {
        planned
    } else {
        let snapshot = state.store.config_snapshot(&tenant.id).await?;
        let mut applied = Vec::new();
        let total = planned.len();
        if let Err(e) = run(
            &state,
            &tenant.id,
            &doc,
            Some((&replay, total, &mut applied)),
        )
        .await
        {
            return Err(rollback::undo(&replay, &snapshot, &applied, e).await);
        }
        applied
    };
    let made: Vec<&str> = steps
        .iter()
        .filter(|s| s.kind == DocKind::ProviderAccounts)
        .filter_map(|s| s.source_id.as_deref())
        .collect();
    let skipped = doc
        .of(DocKind::ProviderAccounts)
        .iter()
        .filter_map(|a| a["id"].as_str())
        .filter(|id| !made.contains(id))
        .map(str::to_owned)
        .collect();
    Ok(ok(
        if dry {
            "Import planned; nothing was changed"
        } else {
            "Configuration imported successfully"
        },
        ImportResult {
            dry_run: dry,
            copy: doc.tenant_id.as_deref() != Some(tenant.id.as_str()),
            plan: steps,
            missing_secrets: missing,
            skipped_provider_accounts: skipped,
            config_version: state.store.config_version(&tenant.id).await?,
        },
    ))
}

/// The document's key for objects of an audit kind.
fn kind_key(object_kind: &str) -> &'static str {
    DocKind::ALL
        .into_iter()
        .find(|k| k.object_kind() == object_kind)
        .map_or("", DocKind::key)
}

/// What `run` does with the plan: without it, the plan is only answered.
type Apply<'a> = Option<(&'a Replay, usize, &'a mut Vec<Step>)>;

/// Plans the import of `doc` and, with `apply` (the plan's length, for reporting, and where
/// the steps carried out go), carries each step out as it goes: an object's create must be
/// done before a rule naming it can name its new id. On an error, the steps carried out
/// are in `apply`'s list, to be undone.
async fn run(
    state: &AppState,
    tenant_id: &str,
    doc: &plan::Document,
    apply: Apply<'_>,
) -> Result<(Vec<Step>, Vec<MissingSecret>), ApiError> {
    let mut ids = state.store.import_ids(tenant_id).await?;
    let mut currents = HashMap::new();
    for kind in DocKind::ALL {
        currents.insert(kind.key(), plan::current(state, tenant_id, kind).await?);
    }
    let (mut apply, total) = match apply {
        Some((replay, total, out)) => (Some((replay, out)), total),
        None => (None, 0),
    };
    let mut missing = Vec::new();
    // Deletes first, rules before the trunks they name: a number or rule key an object
    // gives up may be the one a created object claims.
    let mut planned: Vec<Step> = Vec::new();
    for kind in DocKind::ALL.into_iter().rev() {
        planned.extend(plan::deletes(
            kind,
            doc.of(kind),
            &currents[kind.key()],
            &ids,
        ));
    }
    for kind in DocKind::ALL {
        let current = &currents[kind.key()];
        let mut of_kind = Vec::new();
        for o in doc.of(kind) {
            let source = o["id"].as_str().unwrap_or_default().to_owned();
            let step = match plan::resolve(&source, current, &ids) {
                Some(local) => {
                    plan::update_step(
                        state,
                        tenant_id,
                        kind,
                        &local,
                        &current.objects[&local],
                        o.clone(),
                        &ids,
                        &mut missing,
                    )
                    .await?
                }
                None => Some(plan::create_step(kind, o.clone(), &ids, &mut missing)),
            };
            let Some(step) = step else { continue };
            if step.action == Action::Create && apply.is_none() {
                ids.insert(source.clone(), format!("(copy of {source})"));
            }
            of_kind.push(step);
        }
        planned.append(&mut of_kind);
        let Some((replay, out)) = apply.as_mut() else {
            continue;
        };
        // Carry out what is planned so far (this kind's creates give the ids the next kinds
        // name).
        for mut step in planned.drain(..) {
            let created = replay
                .apply(&step)
                .await
                .map_err(|f| failure(&step, f, out.len(), total))?;
            let source = step.source_id.clone();
            if let Some(new_id) = &created {
                step.object_id = Some(new_id.clone());
            }
            out.push(step);
            if let (Some(new_id), Some(source)) = (created, source) {
                state
                    .store
                    .remember_import_id(tenant_id, &source, &new_id)
                    .await?;
                ids.insert(source, new_id);
            }
        }
    }
    Ok((planned, missing))
}
