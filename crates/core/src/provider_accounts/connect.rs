//! Talking to an account's provider: where each API is (overridable, so tests and staging
//! point at doubles), a client built from the account's credentials, and what a provider's
//! error means to trunkline's caller.

use super::input::Credentials;
use crate::ServiceError;
use std::time::Duration;
use trunkline_providers::exotel::{ExotelClient, ExotelCredentials};
use trunkline_providers::telnyx::TelnyxClient;
use trunkline_providers::twilio::{TwilioAuth, TwilioClient, TwilioCredentials, TwilioUrls};
use trunkline_providers::{ClientOptions, ErrorKind, ProviderError, RetryPolicy, Secret};

/// Where the carriers' APIs are and how their webhooks reach trunkline.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// `TRUNKLINE_TWILIO_API_URL`, `TRUNKLINE_TWILIO_TRUNKING_URL`.
    pub twilio: TwilioUrls,
    /// `TRUNKLINE_EXOTEL_API_URL`; unset: `https://<subdomain>` of each account.
    pub exotel_api_url: Option<String>,
    /// `TRUNKLINE_TELNYX_API_URL`.
    pub telnyx_api_url: String,
    /// Timeouts and 429 retries of every provider request.
    pub client: ClientOptions,
    /// `TRUNKLINE_PUBLIC_URL`: the scheme and host providers call trunkline at, which their
    /// webhook signatures cover.
    pub public_url: Option<String>,
    /// `LIVEKIT_SIP_URI` (`sip:xxxx.sip.livekit.cloud`): where inbound calls are sent.
    pub livekit_sip_uri: Option<String>,
    /// Verified Twilio webhook requests each account may make a minute, per instance.
    pub webhooks_per_minute: u32,
    /// `TRUNKLINE_BRIDGE_PUBLIC_ADDRESS` (the bridge's own setting): the address whitelisted
    /// on the vSIP trunks trunkline makes at Exotel.
    pub bridge_public_address: Option<std::net::SocketAddr>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            twilio: TwilioUrls::default(),
            exotel_api_url: None,
            telnyx_api_url: trunkline_providers::telnyx::DEFAULT_API_URL.into(),
            client: ClientOptions {
                // The API answers within its own 30 s bound: two retries of a 429 at most.
                timeout: Duration::from_secs(10),
                retry: RetryPolicy {
                    max_retries: 2,
                    initial_backoff: Duration::from_millis(500),
                    max_backoff: Duration::from_secs(4),
                },
                page_size: 100,
            },
            public_url: None,
            livekit_sip_uri: None,
            webhooks_per_minute: 600,
            bridge_public_address: None,
        }
    }
}

/// A client of one account's provider.
pub enum AccountClient {
    Twilio(TwilioClient),
    Exotel(ExotelClient),
    Telnyx(TelnyxClient),
}

impl ProviderSettings {
    pub fn client(&self, c: &Credentials) -> Result<AccountClient, ProviderError> {
        Ok(match c {
            Credentials::Twilio {
                account_sid,
                auth_token,
                api_key_sid,
                api_key_secret,
            } => {
                let auth = match (auth_token, api_key_sid, api_key_secret) {
                    (Some(token), _, _) => TwilioAuth::AuthToken(Secret::new(token.clone())),
                    (None, Some(sid), Some(secret)) => TwilioAuth::ApiKey {
                        sid: sid.clone(),
                        secret: Secret::new(secret.clone()),
                    },
                    _ => TwilioAuth::AuthToken(Secret::default()),
                };
                AccountClient::Twilio(TwilioClient::new(
                    TwilioCredentials {
                        account_sid: account_sid.clone(),
                        auth,
                    },
                    self.twilio.clone(),
                    self.client.clone(),
                )?)
            }
            Credentials::Exotel {
                account_sid,
                api_key,
                api_token,
                subdomain,
            } => AccountClient::Exotel(ExotelClient::new(
                ExotelCredentials {
                    account_sid: account_sid.clone(),
                    api_key: api_key.clone(),
                    api_token: Secret::new(api_token.clone()),
                    subdomain: subdomain.clone(),
                },
                self.exotel_api_url.as_deref(),
                self.client.clone(),
            )?),
            Credentials::Telnyx { api_key } => AccountClient::Telnyx(TelnyxClient::new(
                Secret::new(api_key.clone()),
                &self.telnyx_api_url,
                self.client.clone(),
            )?),
        })
    }
}

impl AccountClient {
    /// One authenticated read: Twilio's account, an ExoPhones page, a Telnyx connections page.
    pub async fn verify(&self) -> Result<(), ProviderError> {
        match self {
            AccountClient::Twilio(c) => c.fetch_account().await.map(|_| ()),
            AccountClient::Exotel(c) => c.verify_credentials().await,
            AccountClient::Telnyx(c) => c.verify_credentials().await,
        }
    }
}

/// What a provider's refusal or failure means for the request that caused it. The message
/// names the provider, its code and its message (already scrubbed of the credentials).
pub fn service_error(e: ProviderError, what: &str) -> ServiceError {
    match e.kind() {
        ErrorKind::Credentials | ErrorKind::InvalidInput | ErrorKind::NotFound => {
            ServiceError::BadRequest(format!("{e}; {what}"))
        }
        ErrorKind::Conflict => ServiceError::Conflict(format!("{e}; {what}")),
        ErrorKind::RateLimited | ErrorKind::Unavailable => {
            tracing::warn!(provider = %e.provider(), error = %e, "provider unavailable");
            ServiceError::Unavailable(format!("{e}; {what}, try again later"))
        }
        ErrorKind::Other => {
            tracing::warn!(provider = %e.provider(), error = %e, "provider answered unexpectedly");
            ServiceError::BadGateway(format!("{e}; {what}"))
        }
    }
}
