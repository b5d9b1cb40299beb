//! What a service operation can fail with, classified by what the caller should do about it.
//! The HTTP layer maps each variant to one status code; the dashboard and the CLI show the
//! same sentences. Messages never carry a secret, a database string or another tenant's data:
//! the detail of an internal failure goes to the log.

use thiserror::Error;
use trunkline_domain::{FieldError, ValidationErrors};
use trunkline_livekit::{ErrorKind, LiveKitError};
use trunkline_store::StoreError;

#[derive(Debug, Error)]
pub enum ServiceError {
    /// The input is wrong; each entry names a field and its rule.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// The input is wrong as a whole (no one field to name).
    #[error("{0}")]
    BadRequest(String),
    /// No such object for this tenant (another tenant's object reads the same).
    #[error("{0}")]
    NotFound(&'static str),
    /// The request conflicts with stored state; the message says with what, and what to do.
    #[error("{0}")]
    Conflict(String),
    /// An upstream (LiveKit, a provider) could not be reached or timed out: retry later.
    #[error("{0}")]
    Unavailable(String),
    /// An upstream answered, but wrongly (refused trunkline's credentials, failed itself).
    #[error("{0}")]
    BadGateway(String),
    /// The tenant is at one of its quotas: nothing was created.
    #[error("{0}")]
    QuotaExceeded(crate::quotas::QuotaExceeded),
    /// Our own fault. The context is for the log only.
    #[error("internal error: {context}")]
    Internal { context: String },
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal {
            context: context.to_string(),
        }
    }

    /// A 400 naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message).into())
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(e: ValidationErrors) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => {
                Self::Conflict(format!("a record with this {what} already exists"))
            }
            other => Self::Internal {
                context: format!("database: {other}"),
            },
        }
    }
}

impl From<LiveKitError> for ServiceError {
    fn from(e: LiveKitError) -> Self {
        if e.kind() != ErrorKind::InvalidArgument {
            // The detail (LiveKit's text, the OS error) is for operators.
            tracing::warn!(error = %e, "LiveKit request failed");
        }
        match e.kind() {
            ErrorKind::InvalidArgument => Self::BadRequest(format!(
                "LiveKit rejected the trunk: {}",
                e.livekit_message().unwrap_or("invalid argument")
            )),
            ErrorKind::Unavailable => Self::Unavailable(e.public_message()),
            ErrorKind::Credentials | ErrorKind::NotFound | ErrorKind::Other => {
                Self::BadGateway(e.public_message())
            }
        }
    }
}
