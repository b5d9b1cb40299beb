//! What every provider account's remote side shares (Twilio's trunks, Exotel's vSIP trunks):
//! how a call to the provider failed, and what that failure means to the converge engine.

use super::remote::Failure;
use crate::provider_accounts::service_error;
use crate::ServiceError;
use trunkline_providers::{ErrorKind, ProviderError};

/// How a call to a provider account failed.
#[derive(Debug)]
pub enum SideError {
    Provider(ProviderError),
    /// The wanted configuration cannot be made, in these words (a number not in the
    /// account, or on a trunk trunkline did not make).
    Refused(String),
}

impl std::fmt::Display for SideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SideError::Provider(e) => e.fmt(f),
            SideError::Refused(w) => f.write_str(w),
        }
    }
}

impl From<ProviderError> for SideError {
    fn from(e: ProviderError) -> Self {
        SideError::Provider(e)
    }
}

impl From<SideError> for ServiceError {
    fn from(e: SideError) -> Self {
        match e {
            SideError::Provider(e) => service_error(e, "the provider side was not changed"),
            SideError::Refused(w) => ServiceError::BadRequest(w),
        }
    }
}

/// An object already gone counts as removed.
pub(super) fn gone_ok<T>(r: Result<T, ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// What a provider's failure means for the object (the engine's [`Failure`]).
pub(super) fn failure(e: &SideError) -> Failure {
    match e {
        SideError::Refused(w) => Failure::Refused(w.clone()),
        SideError::Provider(e) => match e.kind() {
            ErrorKind::NotFound => Failure::Gone,
            ErrorKind::InvalidInput | ErrorKind::Conflict => Failure::Refused(e.to_string()),
            _ if e.outcome_unknown() => Failure::Unknown,
            _ => Failure::Failed,
        },
    }
}
