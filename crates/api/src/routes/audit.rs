//! `GET /audit`: the tenant's configuration changes, oldest first, a page at a time, each
//! with the key that made it and the object before and after (secrets only as markers).

use crate::envelope::{ok, Envelope};
use crate::error::ApiError;
use crate::extract::Tenant;
use crate::pagination::{encode_cursor, page_request};
use crate::state::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use trunkline_core::timefmt::iso8601;
use trunkline_domain::ValidationErrors;
use trunkline_store::audit::kinds;
use trunkline_store::{AuditFilter, AuditRecord};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

/// One configuration change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    /// The tenant's configuration version this change produced (each change adds one).
    pub version: i64,
    /// The API key that made the change; null for an operator's command (`trunkline restore`).
    pub key_id: Option<String>,
    /// UTC, `2024-01-15T10:00:00.000000`.
    pub at: String,
    /// `outbound_trunk`, `inbound_trunk`, `dispatch_rule`, `assistant`, `call_limits`,
    /// `health_check`, `provider_account`, `provider_trunk` or `number`.
    pub object_kind: String,
    pub object_id: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// The object before the change (null for a create). Secrets show as `"set"`.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The object after the change (null for a delete). Secrets show as `"set"` (new),
    /// `"kept"` or `"changed"`.
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

/// `GET /audit`: one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub records: Vec<AuditRecordView>,
    /// The tenant's configuration version now.
    pub config_version: i64,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The cursor's id part: a record is named by the version it produced.
fn record_name(version: i64) -> String {
    format!("v{version}")
}

fn view(r: AuditRecord) -> AuditRecordView {
    AuditRecordView {
        version: r.version,
        key_id: r.key_id,
        at: iso8601(r.at),
        object_kind: r.object_kind,
        object_id: r.object_id,
        action: r.action,
        before: r.before,
        after: r.after,
    }
}

/// The filter `object_kind` and `object_id` of a query string ask for; a 400 naming the
/// parameter when one is not a value any record could have.
fn filter(query: Option<&str>) -> Result<AuditFilter, ApiError> {
    let mut f = AuditFilter::default();
    let mut errors = ValidationErrors::default();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "object_kind" => match kinds::ALL.iter().find(|k| **k == value) {
                Some(k) => f.object_kind = Some((*k).to_owned()),
                None => errors.push(
                    "object_kind",
                    format!("must be one of {}", kinds::ALL.join(", ")),
                ),
            },
            "object_id" if value.is_empty() || value.len() > 64 => {
                errors.push("object_id", "must be an id of 1 to 64 characters")
            }
            "object_id" => f.object_id = Some(value.into_owned()),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(f)
}

/// The tenant's configuration changes, oldest first; `object_kind` and `object_id` narrow
/// them to one kind or one object.
#[utoipa::path(get, path = "/audit", tag = "configuration",
    operation_id = "list_audit_records",
    summary = "List configuration changes",
    params(
        ("object_kind" = Option<String>, Query, description = "Only changes to objects of this kind"),
        ("object_id" = Option<String>, Query, description = "Only changes to this object", min_length = 1, max_length = 64),
        ("limit" = Option<u32>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = r"^[+-]?[0-9]+_[A-Za-z0-9_]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of configuration changes", body = Envelope<AuditPage>),
        (status = 400, description = "Invalid filter, limit, cursor or an unknown query parameter"),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list_audit(
    State(state): State<AppState>,
    tenant: Tenant,
    uri: Uri,
) -> Result<Response, ApiError> {
    let request = page_request(uri.query())?;
    let mut filter = filter(uri.query())?;
    filter.after_version = request.after.as_ref().map(|(version, _)| *version);
    let config_version = state.store.config_version(&tenant.id).await?;
    let mut records = state
        .store
        .audit_records(&tenant.id, &filter, request.limit as i64 + 1)
        .await?;
    let more = records.len() > request.limit;
    records.truncate(request.limit);
    let next_cursor = more
        .then(|| {
            records
                .last()
                .map(|r| encode_cursor(r.version, &record_name(r.version)))
        })
        .flatten();
    Ok(ok(
        "Audit records retrieved successfully",
        AuditPage {
            records: records.into_iter().map(view).collect(),
            config_version,
            next_cursor,
        },
    ))
}
