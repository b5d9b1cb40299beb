//! Clients for the carriers' own provisioning APIs, so that one trunkline call sets up both
//! sides of a trunk: Twilio ([`twilio`]), Exotel vSIP ([`exotel`]) and Telnyx ([`telnyx`]).
//!
//! Every call returns [`ProviderError`], which classifies itself ([`ErrorKind`]) and says
//! whether the provider may have acted ([`ProviderError::outcome_unknown`]). Credentials are
//! [`Secret`]s: `Debug` prints a placeholder and error messages are scrubbed of them.
//! Base URLs are constructor parameters, so tests point the clients at `provider-doubles`.

mod error;
pub mod exotel;
mod ids;
pub mod limiter;
mod secret;
pub mod telnyx;
mod transport;
pub mod twilio;
mod urls;

pub use error::{ErrorKind, Outcome, Provider, ProviderError};
pub use secret::{Secret, REDACTED};
pub use transport::{ClientOptions, RetryPolicy, PROVIDER_API_CALLS};
