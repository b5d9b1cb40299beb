//! One error type for the API and one mapping to HTTP. 5xx answers tell the client which
//! component failed in a stable sentence; the detail goes to the log, never a database string
//! or a secret to the client.

use crate::envelope::Envelope;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use trunkline_core::ServiceError;
use trunkline_domain::{FieldError, ValidationErrors};
use trunkline_livekit::LiveKitError;
use trunkline_store::StoreError;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum ApiError {
    /// The request is wrong; `errors` names each field and rule.
    BadRequest {
        message: String,
        errors: Vec<FieldError>,
    },
    Unauthorized(AuthFailure),
    NotFound(&'static str),
    /// A 404 whose message depends on what the id turned out to be (deleted, another kind).
    NotFoundBecause(String),
    /// The path exists but not with this method; `allow` lists the methods it takes.
    MethodNotAllowed {
        allow: String,
    },
    Conflict(String),
    PayloadTooLarge,
    /// LiveKit (or another upstream) failed: 502 when it answered wrongly, 503 when it could
    /// not be reached.
    Upstream {
        status: StatusCode,
        message: String,
    },
    /// A quota or a rate limit: `data` says which and its figures; `retry_after` (seconds)
    /// becomes the `Retry-After` header when waiting helps.
    TooManyRequests {
        message: String,
        data: serde_json::Value,
        retry_after: Option<u64>,
    },
    /// Our own fault. `context` is logged; the client sees a stable message.
    Internal {
        context: String,
    },
}

/// Why a request was not authenticated. Each says what to do, and none tells anything about
/// another tenant: an unknown key and a key of another account read alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    MissingHeader,
    MalformedHeader,
    UnknownKey,
    RevokedKey,
    /// `POST /livekit/webhook`: LiveKit's signature, not an API key, is checked there.
    LiveKitSignature,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingHeader => "Missing API key: send the header Authorization: Bearer <api_key>",
            Self::MalformedHeader => "Malformed Authorization header: send Authorization: Bearer <api_key> (the word Bearer, one space, then the key)",
            Self::UnknownKey => "Unknown API key: check that the whole key was copied; a new one is made with `trunkline keys create` or POST /keys",
            Self::RevokedKey => "This API key was revoked: use another key of the account, or make a new one with `trunkline keys create`",
            Self::LiveKitSignature => "LiveKit webhook signature rejected: the Authorization header must be a JWT that LiveKit signed with the API key and secret trunkline is configured with (LIVEKIT_API_KEY, LIVEKIT_API_SECRET), whose sha256 claim matches the body",
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// JSON path of the offending field, e.g. `trunk_config.numbers[1]`.
    pub field: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorData {
    pub errors: Vec<FieldErrorBody>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            errors: vec![],
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationErrors::from(FieldError::new(field, message)).into()
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal {
            context: context.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) | Self::NotFoundBecause(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Upstream { status, .. } => *status,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        Self::BadRequest {
            message: e.to_string(),
            errors: e.0,
        }
    }
}

/// The one mapping from the service layer's classification to HTTP statuses.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(errors) => errors.into(),
            ServiceError::BadRequest(message) => Self::bad_request(message),
            ServiceError::NotFound(what) => Self::NotFound(what),
            ServiceError::Conflict(message) => Self::Conflict(message),
            ServiceError::Unavailable(message) => Self::Upstream {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message,
            },
            ServiceError::BadGateway(message) => Self::Upstream {
                status: StatusCode::BAD_GATEWAY,
                message,
            },
            ServiceError::QuotaExceeded(q) => Self::TooManyRequests {
                message: q.to_string(),
                data: serde_json::json!({
                    "quota": q.quota.name(),
                    "limit": q.limit,
                    "current": q.current,
                }),
                retry_after: None,
            },
            ServiceError::Internal { context } => Self::Internal { context },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<LiveKitError> for ApiError {
    fn from(e: LiveKitError) -> Self {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut retry_after_secs = None;
        let allow = match &self {
            Self::MethodNotAllowed { allow } if !allow.is_empty() => Some(allow.clone()),
            _ => None,
        };
        let (message, data) = match self {
            Self::BadRequest { message, errors } => {
                let data = (!errors.is_empty()).then(|| ErrorData {
                    errors: errors
                        .into_iter()
                        .map(|e| FieldErrorBody {
                            field: e.field,
                            message: e.message,
                        })
                        .collect(),
                });
                (message, serde_json::to_value(data).unwrap_or_default())
            }
            Self::Unauthorized(why) => (why.message().to_owned(), serde_json::Value::Null),
            Self::NotFound(what) => (what.to_owned(), serde_json::Value::Null),
            Self::NotFoundBecause(why) => (why, serde_json::Value::Null),
            Self::MethodNotAllowed { allow } if allow.is_empty() => (
                "Method not allowed on this path".to_owned(),
                serde_json::Value::Null,
            ),
            Self::MethodNotAllowed { allow } => (
                format!("Method not allowed on this path: it accepts {allow}"),
                serde_json::json!({ "allowed_methods": allow.split(", ").collect::<Vec<_>>() }),
            ),
            Self::Conflict(m) => (m, serde_json::Value::Null),
            Self::PayloadTooLarge => (
                "Request body is too large (64 KiB at most)".to_owned(),
                serde_json::Value::Null,
            ),
            Self::Upstream { message, .. } => {
                tracing::warn!(%status, %message, "upstream failure");
                (message, serde_json::Value::Null)
            }
            Self::TooManyRequests {
                message,
                data,
                retry_after,
            } => {
                retry_after_secs = retry_after;
                (message, data)
            }
            Self::Internal { context } => {
                tracing::error!(%context, "internal error");
                ("Internal server error: trunkline could not complete the request; the details are in its log".to_owned(), serde_json::Value::Null)
            }
        };
        let mut resp = (
            status,
            Json(Envelope {
                success: false,
                message,
                data,
            }),
        )
            .into_response();
        if let Some(v) = allow.and_then(|a| axum::http::HeaderValue::from_str(&a).ok()) {
            resp.headers_mut().insert(axum::http::header::ALLOW, v);
        }
        if let Some(secs) = retry_after_secs {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn twirp(code: &str) -> LiveKitError {
        LiveKitError::Twirp {
            status: 400,
            code: code.into(),
            msg: "no trunk numbers specified".into(),
            meta: HashMap::new(),
        }
    }

    #[test]
    fn status_table() {
        let cases: Vec<(ApiError, u16)> = vec![
            (ApiError::bad_request("x"), 400),
            (ApiError::Unauthorized(AuthFailure::UnknownKey), 401),
            (ApiError::NotFoundBecause("x".into()), 404),
            (ApiError::NotFound("Trunk not found"), 404),
            (
                ApiError::MethodNotAllowed {
                    allow: "GET".into(),
                },
                405,
            ),
            (ApiError::Conflict("x".into()), 409),
            (ApiError::PayloadTooLarge, 413),
            (
                ServiceError::QuotaExceeded(trunkline_core::quotas::QuotaExceeded {
                    quota: trunkline_core::quotas::Quota::Assistants,
                    limit: 1,
                    current: 1,
                })
                .into(),
                429,
            ),
            (ApiError::internal("x"), 500),
            (twirp("invalid_argument").into(), 400),
            (twirp("unauthenticated").into(), 502),
            (twirp("permission_denied").into(), 502),
            (twirp("internal").into(), 502),
            (twirp("unavailable").into(), 503),
            (
                LiveKitError::Unauthorized {
                    detail: "invalid API key".into(),
                }
                .into(),
                502,
            ),
            (
                LiveKitError::Unreachable {
                    url: "http://x".into(),
                    detail: "refused".into(),
                    request_sent: false,
                }
                .into(),
                503,
            ),
            (
                LiveKitError::Timeout {
                    url: "http://x".into(),
                    secs: 5,
                }
                .into(),
                503,
            ),
            (StoreError::Conflict("trunk id").into(), 409),
        ];
        for (err, code) in cases {
            assert_eq!(err.status().as_u16(), code, "{err:?}");
        }
    }

    #[test]
    fn livekit_invalid_argument_carries_livekits_message() {
        let ApiError::BadRequest { message, .. } = twirp("invalid_argument").into() else {
            panic!()
        };
        assert_eq!(
            message,
            "LiveKit rejected the trunk: no trunk numbers specified"
        );
    }
}
