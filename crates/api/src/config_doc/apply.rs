//! Carries out a plan's steps as requests to this API's own routes, made with the importing
//! request's key: each object is validated, counted against the quotas, provisioned and
//! audited exactly as if the client had sent that request.

use super::plan::{Action, Step};
use super::DocKind;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use trunkline_domain::{FieldError, ValidationErrors};

/// The importing request's credentials, for the requests of its steps.
#[derive(Clone)]
pub struct Replay {
    pub state: AppState,
    pub authorization: String,
}

/// A step's request failed: its answer, to report with what was already applied.
pub struct Failed {
    pub status: StatusCode,
    pub body: Value,
}

impl Replay {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Failed> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, &self.authorization);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .map_err(|_| Failed {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: Value::Null,
            })?;
        let resp = match crate::router(self.state.clone()).oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(Failed { status, body })
        }
    }

    /// Deletes object `id` of `kind`, as a client's `DELETE` would (its LiveKit and provider
    /// side with it).
    pub async fn remove(&self, kind: DocKind, id: &str) -> Result<(), Failed> {
        let path = format!("{}/{id}", kind.collection_path());
        self.send(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// Carries out one step; for a create, returns the new object's id.
    pub async fn apply(&self, step: &Step) -> Result<Option<String>, Failed> {
        let base = step.kind.collection_path();
        let (id, created) = match step.action {
            Action::Delete => {
                let id = step.object_id.as_deref().unwrap_or_default();
                self.send(Method::DELETE, &format!("{base}/{id}"), None)
                    .await?;
                return Ok(None);
            }
            Action::Create => {
                let answer = self
                    .send(Method::POST, base, Some(Value::Object(step.body.clone())))
                    .await?;
                let field = match step.kind {
                    DocKind::ProviderAccounts => "provider_account_id",
                    DocKind::Assistants => "assistant_id",
                    DocKind::DispatchRules => "rule_id",
                    _ => "trunk_id",
                };
                let id = answer["data"][field]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                (id.clone(), Some(id))
            }
            Action::Update => {
                let id = step.object_id.clone().unwrap_or_default();
                if !step.body.is_empty() {
                    self.send(
                        Method::PATCH,
                        &format!("{base}/{id}"),
                        Some(Value::Object(step.body.clone())),
                    )
                    .await?;
                }
                (id, None)
            }
        };
        if let Some(limits) = &step.limits {
            // Null fields return to the defaults, as the document says.
            let body: serde_json::Map<String, Value> = limits
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            self.send(
                Method::PUT,
                &format!("/sip/trunks/{id}/call-limits"),
                Some(Value::Object(body)),
            )
            .await?;
        }
        if let Some(health) = &step.health {
            self.send(
                Method::PUT,
                &format!("/sip/trunks/{id}/health-check"),
                Some(health.clone()),
            )
            .await?;
        }
        Ok(created)
    }
}

/// The error an import answers with when step `step` failed after `applied` steps were
/// carried out (and then undone, `rollback.rs`): the step's own answer, its fields named
/// within the document.
pub fn failure(step: &Step, failed: Failed, applied: usize, total: usize) -> ApiError {
    let what = format!(
        "{} {}",
        step.object_kind,
        step.source_id
            .as_deref()
            .or(step.object_id.as_deref())
            .unwrap_or_default()
    );
    let inner = failed.body["message"]
        .as_str()
        .unwrap_or("failed")
        .to_owned();
    let message = format!(
        "Import stopped at the {} of {what}: {inner}. Nothing was changed: the {applied} of \
         {total} steps carried out before it were undone",
        match step.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    );
    let prefix = format!(
        "{}[{}]",
        step.kind.key(),
        step.source_id
            .as_deref()
            .or(step.object_id.as_deref())
            .unwrap_or_default()
    );
    match failed.status {
        StatusCode::BAD_REQUEST => {
            let mut errors = ValidationErrors::default();
            for e in failed.body["data"]["errors"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let field = e["field"].as_str().unwrap_or_default();
                errors.0.push(FieldError::new(
                    format!("{prefix}.{field}"),
                    e["message"].as_str().unwrap_or_default(),
                ));
            }
            if errors.is_empty() {
                errors.push(prefix, inner);
            }
            ApiError::BadRequest {
                message,
                errors: errors.0,
            }
        }
        StatusCode::CONFLICT => ApiError::Conflict(message),
        StatusCode::NOT_FOUND => ApiError::NotFoundBecause(message),
        s if s.is_server_error() => ApiError::Upstream {
            status: if s == StatusCode::SERVICE_UNAVAILABLE {
                s
            } else {
                StatusCode::BAD_GATEWAY
            },
            message,
        },
        StatusCode::TOO_MANY_REQUESTS => ApiError::TooManyRequests {
            message,
            data: failed.body["data"].clone(),
            retry_after: None,
        },
        _ => ApiError::internal(message),
    }
}
