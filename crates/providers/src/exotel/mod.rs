//! Exotel Dynamic SIP Trunking ("vSIP", labelled Alpha) under
//! `https://<subdomain>/v2/accounts/<account_sid>/…`, and the account's ExoPhones under
//! `/v2_beta/Accounts/<account_sid>/IncomingPhoneNumbers` (PROVIDERS.md §3).
//!
//! Wire: HTTP Basic (API key : API token), JSON both ways, the envelope of [`envelope`],
//! 200 requests a minute and 50 concurrent connections per account ([`LIMITS`]).

mod envelope;
mod exophones;
mod trunks;
mod types;

pub use trunks::valid_trunk_name;
pub use types::*;

use crate::error::{Provider, ProviderError};
use crate::limiter::{self, Limiter, Limits};
use crate::secret::Secret;
use crate::transport::{Auth, Call, ClientOptions, Transport};
use crate::urls;
use std::sync::Arc;
use url::Url;

pub(crate) const P: Provider = Provider::Exotel;

/// The two data centres: Singapore and Mumbai.
pub const SUBDOMAINS: [&str; 2] = ["api.exotel.com", "api.in.exotel.com"];

/// 200 requests a minute and 50 concurrent connections per account (EX-REF). The burst of
/// 20 is trunkline's choice: a trunk's setup (create, map numbers, whitelist, credentials)
/// goes at once, and the rest of the minute refills at 3 a second.
pub const LIMITS: Limits = Limits {
    per_window: 200,
    window: std::time::Duration::from_secs(60),
    burst: 20,
    concurrent: 50,
};

/// Uncertain: the `nso_code` of a new trunk. EX-REF, its Postman collection and Exotel's API
/// pages send `ANY-ANY`; one developer.exotel.com guide shows `"any any"` next to other
/// values that no API answer has (a `TK…` trunk_sid, `auth_type "ip whitelist"`), so that
/// page looks like an older draft. `ANY-ANY` it is.
pub const NSO_CODE: &str = "ANY-ANY";

/// The trunk's `domain_name`: always `<account_sid>.pstn.exotel.com` in EX-REF and EX-AS.
pub fn domain_name(account_sid: &str) -> String {
    format!("{account_sid}.pstn.exotel.com")
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExotelCredentials {
    pub account_sid: String,
    pub api_key: String,
    pub api_token: Secret,
    /// `api.exotel.com` or `api.in.exotel.com` (see [`SUBDOMAINS`]).
    pub subdomain: String,
}

#[derive(Debug)]
pub struct ExotelClient {
    transport: Transport,
    base: Url,
    account_sid: String,
}

impl ExotelClient {
    /// `base_url` overrides `https://<subdomain>` (`TRUNKLINE_EXOTEL_API_URL`). The account's
    /// limiter is shared by every client of the same base and account in the process.
    pub fn new(
        credentials: ExotelCredentials,
        base_url: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, ProviderError> {
        let base = Self::base(&credentials, base_url)?;
        let key = format!("exotel:{}:{}", base.as_str(), credentials.account_sid);
        let limiter = limiter::shared(&key, LIMITS);
        Self::with_limiter(credentials, base_url, options, limiter)
    }

    /// Like [`ExotelClient::new`] with a limiter of the caller's (tests, tools).
    pub fn with_limiter(
        credentials: ExotelCredentials,
        base_url: Option<&str>,
        options: ClientOptions,
        limiter: Arc<Limiter>,
    ) -> Result<Self, ProviderError> {
        let base = Self::base(&credentials, base_url)?;
        if credentials.account_sid.is_empty()
            || !credentials
                .account_sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ProviderError::invalid_input(
                P,
                "account_sid must be letters, digits, '_' or '-'",
            ));
        }
        let auth = Auth::Basic {
            user: credentials.api_key,
            pass: credentials.api_token,
        };
        Ok(Self {
            transport: Transport::new(P, auth, options, Some(limiter)),
            base,
            account_sid: credentials.account_sid,
        })
    }

    fn base(credentials: &ExotelCredentials, base_url: Option<&str>) -> Result<Url, ProviderError> {
        match base_url {
            Some(u) => urls::parse_base(P, "TRUNKLINE_EXOTEL_API_URL", u),
            None => {
                if !SUBDOMAINS.contains(&credentials.subdomain.as_str()) {
                    return Err(ProviderError::invalid_input(
                        P,
                        format!("subdomain must be one of {}", SUBDOMAINS.join(", ")),
                    ));
                }
                urls::parse_base(
                    P,
                    "subdomain",
                    &format!("https://{}", credentials.subdomain),
                )
            }
        }
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// `/v2/accounts/{sid}/<segs…>`.
    pub(crate) fn vsip_url(&self, segs: &[&str]) -> Url {
        let mut all = vec!["v2", "accounts", self.account_sid.as_str()];
        all.extend_from_slice(segs);
        urls::join(&self.base, &all)
    }

    /// `/v2_beta/Accounts/{sid}/<segs…>`.
    pub(crate) fn beta_url(&self, segs: &[&str]) -> Url {
        let mut all = vec!["v2_beta", "Accounts", self.account_sid.as_str()];
        all.extend_from_slice(segs);
        urls::join(&self.base, &all)
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    pub(crate) async fn single<T: serde::de::DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<T, ProviderError> {
        self.transport
            .run(&call, |raw| envelope::single(&raw))
            .await
    }

    /// Every item of a list, following `metadata.next_page_uri`; a failed item fails the list.
    pub(crate) async fn list<T: serde::de::DeserializeOwned>(
        &self,
        first: Url,
    ) -> Result<Vec<T>, ProviderError> {
        let mut url = first;
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..1000 {
            let call = Call::new(reqwest::Method::GET, url.clone());
            let page = self
                .transport
                .run(&call, |raw| envelope::many::<T>(&raw))
                .await?;
            for item in page.items {
                out.push(item?);
            }
            seen.push(url.clone());
            match page.next.and_then(|n| urls::follow(&self.base, &n)) {
                Some(n) if !seen.contains(&n) => url = n,
                _ => break,
            }
        }
        Ok(out)
    }

    /// A batch whose items succeed or fail one by one (HTTP 207).
    pub(crate) async fn batch<T: serde::de::DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Vec<Result<T, ProviderError>>, ProviderError> {
        let page = self
            .transport
            .run(&call, |raw| envelope::many::<T>(&raw))
            .await?;
        Ok(page.items)
    }
}

/// Whether `s` could be a trunk_sid or a numeric id: path segments are encoded anyway; this
/// gives a clear error instead of a provider 404.
pub(crate) fn check_token(what: &str, s: &str, numeric: bool) -> Result<(), ProviderError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphanumeric()
            }
        });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid_input(
            P,
            format!("{s:?} is not an Exotel {what}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(subdomain: &str) -> ExotelCredentials {
        ExotelCredentials {
            account_sid: "exoteltest".into(),
            api_key: "key".into(),
            api_token: Secret::new("a1b2c3d4e5f6g7h8i9j0"),
            subdomain: subdomain.into(),
        }
    }

    #[test]
    fn base_comes_from_the_subdomain_or_the_override() {
        let c =
            ExotelClient::new(creds("api.in.exotel.com"), None, ClientOptions::default()).unwrap();
        assert_eq!(
            c.vsip_url(&["trunks"]).as_str(),
            "https://api.in.exotel.com/v2/accounts/exoteltest/trunks"
        );
        assert_eq!(
            c.beta_url(&["IncomingPhoneNumbers"]).as_str(),
            "https://api.in.exotel.com/v2_beta/Accounts/exoteltest/IncomingPhoneNumbers"
        );
        let e =
            ExotelClient::new(creds("evil.example"), None, ClientOptions::default()).unwrap_err();
        assert!(e.message().contains("subdomain"), "{e}");
        let c = ExotelClient::new(
            creds("evil.example"),
            Some("http://127.0.0.1:9"),
            ClientOptions::default(),
        )
        .unwrap();
        assert_eq!(
            c.vsip_url(&[]).as_str(),
            "http://127.0.0.1:9/v2/accounts/exoteltest"
        );
        assert!(!format!("{c:?}").contains("a1b2c3d4e5f6g7h8i9j0"));
    }

    #[test]
    fn clients_of_one_account_share_a_limiter() {
        let a = ExotelClient::new(creds("api.exotel.com"), None, ClientOptions::default()).unwrap();
        let b = ExotelClient::new(creds("api.exotel.com"), None, ClientOptions::default()).unwrap();
        let (la, lb) = (a.transport.limiter_ptr(), b.transport.limiter_ptr());
        assert!(la.is_some() && la == lb);
    }
}
