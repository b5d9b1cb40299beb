//! Assistants (a tenant's dispatch profiles) and the tenant's webhook signing secret.

use crate::envelope::{ok, Envelope};
use crate::error::ApiError;
use crate::error::ErrorData;
use crate::extract::{from_value, json_object, merge_patch, JsonBody, PathId, Tenant};
use crate::pagination::{page_request, page_shown};
use crate::state::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use trunkline_core::assistants::Created as NewAssistant;
use trunkline_core::calls::signing::generate_secret;
use trunkline_core::calls::webhooks_out::{secret_aad, ROTATION_OVERLAP};
use trunkline_core::timefmt::iso8601;
use trunkline_domain::assistant::{AssistantConfig, RawAssistant};
use trunkline_store::{now_micros, AssistantRow};
use utoipa::ToSchema;

pub use trunkline_core::assistants::NOT_FOUND;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assistants", post(create).get(list))
        .route("/assistants/{id}", get(show).patch(update).delete(remove))
        .route("/webhooks/secret", post(rotate_secret))
        .route("/webhooks/secret/previous", delete(retire_previous_secret))
}

/// `POST /assistants`: `name` and `agent_name` are required.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing uses the domain's RawAssistant
pub struct NewAssistantInput {
    /// 1–128 characters.
    #[schema(example = "Sales", min_length = 1, max_length = 128)]
    name: String,
    /// The `agent_name` your LiveKit agent registers with.
    #[schema(example = "outbound-caller", min_length = 1)]
    agent_name: String,
    /// Any JSON (at most 16 KiB), passed to the agent's job.
    metadata: Option<serde_json::Value>,
    /// https; public hosts only unless the operator allows internal targets.
    end_call_webhook_url: Option<String>,
    /// Seconds, 1–86400.
    #[schema(minimum = 1, maximum = 86400)]
    max_call_duration: Option<u64>,
    /// Seconds, 1–600 (default 30).
    #[schema(minimum = 1, maximum = 600)]
    ringing_timeout: Option<u64>,
}

/// `PATCH /assistants/{id}`: any subset of the fields of the create (`null` clears an
/// optional field).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing uses the domain's RawAssistant
pub struct AssistantInput {
    /// 1–128 characters.
    name: Option<String>,
    /// The `agent_name` your LiveKit agent registers with.
    #[schema(example = "outbound-caller")]
    agent_name: Option<String>,
    /// Any JSON (at most 16 KiB), passed to the agent's job.
    metadata: Option<serde_json::Value>,
    /// https; public hosts only unless the operator allows internal targets.
    end_call_webhook_url: Option<String>,
    /// Seconds, 1–86400.
    max_call_duration: Option<u64>,
    /// Seconds, 1–600 (default 30).
    ringing_timeout: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct AssistantView {
    pub assistant_id: String,
    pub name: String,
    pub agent_name: String,
    /// The name the agent's worker must register with in LiveKit (`agent_name` in
    /// WorkerOptions): `agent_name` in this account's namespace, which keeps accounts
    /// sharing one LiveKit project from dispatching each other's agents.
    pub livekit_agent_name: String,
    pub metadata: Option<Value>,
    pub end_call_webhook_url: Option<String>,
    pub max_call_duration: Option<u64>,
    pub ringing_timeout: Option<u64>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(row: &AssistantRow) -> Result<AssistantView, ApiError> {
    let c: AssistantConfig = serde_json::from_str(&row.config)
        .map_err(|e| ApiError::internal(format!("assistant {} config: {e}", row.id)))?;
    Ok(AssistantView {
        assistant_id: row.id.clone(),
        name: row.name.clone(),
        livekit_agent_name: trunkline_core::rooms::livekit_agent(&row.tenant_id, &c.agent_name),
        agent_name: c.agent_name,
        metadata: c.metadata,
        end_call_webhook_url: c.end_call_webhook_url,
        max_call_duration: c.max_call_duration,
        ringing_timeout: c.ringing_timeout,
        created_at: iso8601(row.created_at),
        updated_at: iso8601(row.updated_at),
    })
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    assistant: AssistantView,
    /// Present only when this request created the account's first webhook signing secret:
    /// shown once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

/// Create an assistant. The first one with an `end_call_webhook_url` also creates the
/// account's webhook signing secret, returned once as `webhook_secret`.
#[utoipa::path(post, path = "/assistants", tag = "calls", operation_id = "create_assistant",
    summary = "Create an assistant", request_body = NewAssistantInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Assistant created", body = Envelope<AssistantView>),
        (status = 400, description = "Invalid input", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 429, description = "A quota of this account is reached (data names it); nothing was created", body = Envelope<serde_json::Value>)))]
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let raw: RawAssistant = from_value(Value::Object(json_object(body)?), "")?;
    let NewAssistant {
        row,
        webhook_secret,
    } = state.create_assistant(&tenant.id, &raw).await?;
    let message = if webhook_secret.is_some() {
        "Assistant created successfully. webhook_secret signs your end-of-call webhooks: store it now, it is not shown again."
    } else {
        "Assistant created successfully"
    };
    Ok(ok(
        message,
        Created {
            assistant: view(&row)?,
            webhook_secret,
        },
    ))
}

/// List assistants, a page at a time, oldest first.
#[utoipa::path(get, path = "/assistants", tag = "calls", operation_id = "list_assistants",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = r"^[+-]?[0-9]+_[A-Za-z0-9_]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of assistants", body = Envelope<AssistantPage>),
        (status = 400, description = "Invalid limit, cursor or an unknown query parameter"),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    uri: Uri,
) -> Result<Response, ApiError> {
    let request = page_request(uri.query())?;
    let rows = state.store.list_assistants(&tenant.id).await?;
    let (assistants, next_cursor) =
        page_shown(&rows, &request, |r| (r.created_at, r.id.as_str()), view)?;
    Ok(ok(
        "Assistants retrieved successfully",
        AssistantPage {
            assistants,
            next_cursor,
        },
    ))
}

/// `GET /assistants`: one page.
#[derive(Serialize, ToSchema)]
pub struct AssistantPage {
    pub assistants: Vec<AssistantView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/assistants/{id}", tag = "calls", operation_id = "get_assistant",
    summary = "Show an assistant",
    params(("id" = String, Path, description = "AS_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Assistant", body = Envelope<AssistantView>),
        (status = 404, description = "No such assistant in this account")))]
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let row = state
        .store
        .get_assistant(&tenant.id, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(ok("Assistant retrieved successfully", view(&row)?))
}

/// Any subset of the fields; `null` clears an optional one. The merged assistant is
/// validated as a whole, so a PATCH cannot produce what a create would refuse.
#[utoipa::path(patch, path = "/assistants/{id}", tag = "calls", operation_id = "patch_assistant",
    summary = "Change an assistant", request_body = AssistantInput,
    params(("id" = String, Path, description = "AS_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Assistant updated", body = Envelope<AssistantView>),
        (status = 400, description = "Invalid input", body = Envelope<ErrorData>),
        (status = 404, description = "No such assistant in this account")))]
pub async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let patch = json_object(body)?;
    let row = state
        .store
        .get_assistant(&tenant.id, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    let mut merged = match serde_json::from_str::<Value>(&row.config) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ApiError::internal(format!("assistant {id} config"))),
    };
    merged.insert("name".into(), Value::String(row.name.clone()));
    let raw: RawAssistant = from_value(merge_patch(merged, patch), "")?;
    let row = state.replace_assistant(&tenant.id, &id, &raw).await?;
    Ok(ok("Assistant updated successfully", view(&row)?))
}

#[utoipa::path(delete, path = "/assistants/{id}", tag = "calls", operation_id = "delete_assistant",
    summary = "Delete an assistant",
    params(("id" = String, Path, description = "AS_…")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Assistant deleted; calls already queued keep it"),
        (status = 404, description = "No such assistant in this account")))]
pub async fn remove(
    State(state): State<AppState>,
    tenant: Tenant,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    state.delete_assistant(&tenant.id, &id).await?;
    Ok(ok(
        "Assistant deleted successfully",
        serde_json::json!({ "assistant_id": id }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    /// `whsec_…`: shown once. Verify `webhook-signature` with it (Standard Webhooks).
    pub webhook_secret: String,
    /// Until then deliveries are signed with the previous secret too.
    pub previous_secret_valid_until: String,
}

/// Creates the account's webhook signing secret, or replaces it. For a day after a rotation
/// each delivery carries a signature with each secret, so receivers can switch without loss.
#[utoipa::path(post, path = "/webhooks/secret", tag = "calls",
    summary = "Create or rotate the webhook signing secret",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret, shown once", body = Envelope<RotatedSecret>),
        (status = 401, description = "Invalid or missing API key")))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Response, ApiError> {
    let secret = generate_secret();
    let sealed = state.keyring.seal(&secret_aad(&tenant.id), &secret);
    state
        .store
        .rotate_webhook_secret(&tenant.id, &sealed)
        .await?;
    let until = now_micros() + ROTATION_OVERLAP.as_micros() as i64;
    Ok(ok(
        "Webhook signing secret rotated: store it now, it is not shown again.",
        RotatedSecret {
            webhook_secret: secret,
            previous_secret_valid_until: iso8601(until),
        },
    ))
}

/// Stops signing with the previous secret now, instead of at the end of the overlap: after a
/// leak of the old secret, deliveries must stop carrying a signature made with it at once.
#[utoipa::path(delete, path = "/webhooks/secret/previous", tag = "calls",
    summary = "Retire the previous webhook signing secret now",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deliveries are signed with the current secret only", body = Envelope<serde_json::Value>),
        (status = 401, description = "Invalid or missing API key", body = Envelope<serde_json::Value>),
        (status = 404, description = "There is no previous secret to retire", body = Envelope<serde_json::Value>)))]
pub async fn retire_previous_secret(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Response, ApiError> {
    if !state
        .store
        .retire_previous_webhook_secret(&tenant.id)
        .await?
    {
        return Err(ApiError::NotFound(
            "No previous webhook secret to retire: it was retired already, or the secret was never rotated (POST /webhooks/secret rotates it)",
        ));
    }
    Ok(ok(
        "Previous webhook secret retired: deliveries are signed with the current secret only.",
        serde_json::json!({}),
    ))
}
