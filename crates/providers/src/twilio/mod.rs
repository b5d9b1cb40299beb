//! Twilio: Elastic SIP Trunking (`trunking.twilio.com/v1`) and the 2010 API
//! (`api.twilio.com/2010-04-01`): trunks, origination URLs, trunk associations, SIP credential
//! lists, incoming phone numbers, and the `X-Twilio-Signature` of its webhooks.
//!
//! Wire: HTTP Basic (Account SID + Auth Token, or API Key SID + secret), form-encoded
//! PascalCase requests, snake_case JSON answers, errors as `{code, message, more_info,
//! status}` (twilio-oai; twilio-python `base/version.py`).

mod numbers;
pub mod signature;
mod sip_lists;
mod trunking;
mod types;

pub use types::*;

use crate::error::{ErrorKind, Provider, ProviderError};
use crate::secret::Secret;
use crate::transport::{Auth, Call, ClientOptions, Raw, Transport};
use crate::urls;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub const DEFAULT_API_URL: &str = "https://api.twilio.com";
pub const DEFAULT_TRUNKING_URL: &str = "https://trunking.twilio.com";

const P: Provider = Provider::Twilio;
/// A loop guard for provider paging that never ends.
const MAX_PAGES: usize = 1000;

/// How trunkline authenticates to an account.
#[derive(Debug, Clone, PartialEq)]
pub enum TwilioAuth {
    AuthToken(Secret),
    /// An API Key (`SK…`) and its secret: revocable without touching the Auth Token.
    ApiKey {
        sid: String,
        secret: Secret,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TwilioCredentials {
    /// `AC` + 32 hex.
    pub account_sid: String,
    pub auth: TwilioAuth,
}

/// Base URLs: `TRUNKLINE_TWILIO_API_URL`, `TRUNKLINE_TWILIO_TRUNKING_URL`.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioUrls {
    pub api: String,
    pub trunking: String,
}

impl Default for TwilioUrls {
    fn default() -> Self {
        Self {
            api: DEFAULT_API_URL.into(),
            trunking: DEFAULT_TRUNKING_URL.into(),
        }
    }
}

/// Whether `s` is a Twilio SID: a two-letter prefix and 32 hex digits (`^XX[0-9a-fA-F]{32}$`
/// in every path parameter of twilio-oai).
pub fn is_sid(prefix: &str, s: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn check_sid(prefix: &str, s: &str) -> Result<(), ProviderError> {
    if is_sid(prefix, s) {
        Ok(())
    } else {
        Err(ProviderError::invalid_input(
            P,
            format!("{s:?} is not a Twilio {prefix} SID ({prefix} followed by 32 hex digits)"),
        ))
    }
}

#[derive(Debug)]
pub struct TwilioClient {
    transport: Transport,
    account_sid: String,
    api: Url,
    trunking: Url,
}

impl TwilioClient {
    pub fn new(
        credentials: TwilioCredentials,
        urls: TwilioUrls,
        options: ClientOptions,
    ) -> Result<Self, ProviderError> {
        check_sid("AC", &credentials.account_sid)?;
        let auth = match credentials.auth {
            TwilioAuth::AuthToken(token) => Auth::Basic {
                user: credentials.account_sid.clone(),
                pass: token,
            },
            TwilioAuth::ApiKey { sid, secret } => {
                check_sid("SK", &sid)?;
                Auth::Basic {
                    user: sid,
                    pass: secret,
                }
            }
        };
        Ok(Self {
            api: urls::parse_base(P, "TRUNKLINE_TWILIO_API_URL", &urls.api)?,
            trunking: urls::parse_base(P, "TRUNKLINE_TWILIO_TRUNKING_URL", &urls.trunking)?,
            transport: Transport::new(P, auth, options, None),
            account_sid: credentials.account_sid,
        })
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// Fetches the account itself: the credentials check. A refused token is
    /// [`ErrorKind::Credentials`] carrying Twilio's 20003 and message.
    pub async fn fetch_account(&self) -> Result<Account, ProviderError> {
        let url = self.api_url(&[], ".json");
        self.send(Call::new(Method::GET, url)).await
    }

    /// `/2010-04-01/Accounts/{AccountSid}/<segs…>` with `suffix` on the last segment.
    pub(crate) fn api_url(&self, segs: &[&str], suffix: &str) -> Url {
        let mut all = vec!["2010-04-01", "Accounts"];
        let last = match segs.last() {
            Some(l) => format!("{l}{suffix}"),
            None => format!("{}{suffix}", self.account_sid),
        };
        if !segs.is_empty() {
            all.push(&self.account_sid);
            all.extend_from_slice(&segs[..segs.len() - 1]);
        }
        all.push(&last);
        urls::join(&self.api, &all)
    }

    /// `/v1/<segs…>` on the trunking host.
    pub(crate) fn trunking_url(&self, segs: &[&str]) -> Url {
        let mut all = vec!["v1"];
        all.extend_from_slice(segs);
        urls::join(&self.trunking, &all)
    }

    /// One request whose success (200/201) carries an object.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T, ProviderError> {
        self.transport
            .run(&call, |raw| {
                if (200..300).contains(&raw.status) {
                    serde_json::from_slice(&raw.body).map_err(|e| {
                        ProviderError::bad_response(
                            P,
                            raw.status,
                            format!("unreadable answer from {} ({e})", call.url.path()),
                        )
                    })
                } else {
                    Err(error_from(&raw))
                }
            })
            .await
    }

    /// A DELETE: 204 with an empty body.
    pub(crate) async fn delete(&self, url: Url) -> Result<(), ProviderError> {
        self.transport
            .run(&Call::new(Method::DELETE, url), |raw| {
                if (200..300).contains(&raw.status) {
                    Ok(())
                } else {
                    Err(error_from(&raw))
                }
            })
            .await
    }

    /// Every item of a list, following Twilio's paging: v1 lists carry
    /// `meta.next_page_url`, 2010 lists a top-level `next_page_uri`.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        first: Url,
        key: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let base = if first.path().starts_with("/v1/") {
            self.trunking.clone()
        } else {
            self.api.clone()
        };
        let mut url = first;
        let page_size = self.transport.options().page_size.clamp(1, 1000);
        if !url.query_pairs().any(|(k, _)| k == "PageSize") {
            url.query_pairs_mut()
                .append_pair("PageSize", &page_size.to_string());
        }
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: Value = self.send(Call::new(Method::GET, url.clone())).await?;
            let items = page.get(key).cloned().unwrap_or(Value::Array(vec![]));
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| {
                ProviderError::bad_response(P, 200, format!("unreadable `{key}` list ({e})"))
            })?;
            out.extend(items);
            let next = page
                .pointer("/meta/next_page_url")
                .or_else(|| page.get("next_page_uri"))
                .and_then(Value::as_str);
            seen.push(url.clone());
            match next.and_then(|n| urls::follow(&base, n)) {
                Some(n) if !seen.contains(&n) => url = n,
                _ => return Ok(out),
            }
        }
        Ok(out)
    }
}

/// Twilio's error body: `{code, message, more_info, status}`; newer services answer RFC 9457
/// problem details (`title`, `detail`, `code`), which twilio-python also reads.
fn error_from(raw: &Raw) -> ProviderError {
    let body: Value = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
    let code = match body.get("code") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let message = ["message", "detail", "title"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| raw.snippet());
    let kind = classify(raw.status, code.as_deref());
    let retry_after = if kind == ErrorKind::RateLimited {
        raw.retry_after()
    } else {
        None
    };
    ProviderError::api(P, kind, raw.status, code, message).with_retry_after(retry_after)
}

/// Twilio's codes first (https://www.twilio.com/docs/api/errors/<code>), then the status.
pub(crate) fn classify(status: u16, code: Option<&str>) -> ErrorKind {
    match code {
        Some("20003") | Some("20005") => return ErrorKind::Credentials,
        Some("20404") => return ErrorKind::NotFound,
        // "Too many concurrent requests": not processed, safe to retry.
        Some("20429") => return ErrorKind::RateLimited,
        // 21248 "Trunk Domain already taken" (also for 30 days after a delete, §1.7);
        // 21247 "Trunk has dependencies". Another name or an order change cures them, not a
        // different input shape: a conflict, which callers map to 409.
        Some("21248") | Some("21247") => return ErrorKind::Conflict,
        _ => {}
    }
    ErrorKind::of_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let rows = [
            (401, Some("20003"), ErrorKind::Credentials),
            (403, None, ErrorKind::Credentials),
            (404, Some("20404"), ErrorKind::NotFound),
            (429, Some("20429"), ErrorKind::RateLimited),
            (429, None, ErrorKind::RateLimited),
            (400, Some("21248"), ErrorKind::Conflict),
            (400, Some("21247"), ErrorKind::Conflict),
            (400, Some("21201"), ErrorKind::InvalidInput),
            (409, None, ErrorKind::Conflict),
            (500, None, ErrorKind::Unavailable),
            (503, Some("20500"), ErrorKind::Unavailable),
            (302, None, ErrorKind::Other),
        ];
        for (status, code, kind) in rows {
            assert_eq!(classify(status, code), kind, "{status} {code:?}");
        }
    }

    #[test]
    fn error_body_is_read_with_code_and_message() {
        let raw = Raw {
            status: 400,
            headers: Default::default(),
            body: br#"{"code": 21248, "message": "Trunk Domain already taken", "more_info": "https://www.twilio.com/docs/errors/21248", "status": 400}"#.to_vec(),
        };
        let e = error_from(&raw);
        assert_eq!(e.code(), Some("21248"));
        assert_eq!(e.message(), "Trunk Domain already taken");
        assert!(e.is_twilio_domain_taken());
        let problem = Raw {
            status: 422,
            headers: Default::default(),
            body: br#"{"type":"https://x","title":"Bad","status":422,"code":20001,"detail":"Field X"}"#.to_vec(),
        };
        let e = error_from(&problem);
        assert_eq!((e.code(), e.message()), (Some("20001"), "Field X"));
        let html = Raw {
            status: 502,
            headers: Default::default(),
            body: b"<html>Bad Gateway</html>".to_vec(),
        };
        let e = error_from(&html);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.outcome_unknown());
    }

    #[test]
    fn sids_are_checked() {
        assert!(is_sid("AC", "AC0123456789abcdef0123456789ABCDEF"));
        assert!(!is_sid("AC", "AC0123456789abcdef0123456789ABCDE"));
        assert!(!is_sid("AC", "TK0123456789abcdef0123456789ABCDEF"));
        assert!(!is_sid("AC", "AC0123456789abcdef0123456789ABCDEg"));
        let bad = TwilioClient::new(
            TwilioCredentials {
                account_sid: "AC123".into(),
                auth: TwilioAuth::AuthToken("t".into()),
            },
            TwilioUrls::default(),
            ClientOptions::default(),
        )
        .unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn debug_of_credentials_and_client_hides_the_token() {
        let creds = TwilioCredentials {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth: TwilioAuth::AuthToken("auth-token-value-42".into()),
        };
        assert!(!format!("{creds:?}").contains("auth-token-value-42"));
        let client =
            TwilioClient::new(creds, TwilioUrls::default(), ClientOptions::default()).unwrap();
        assert!(!format!("{client:?}").contains("auth-token-value-42"));
    }

    #[test]
    fn paths_follow_the_specs() {
        let client = TwilioClient::new(
            TwilioCredentials {
                account_sid: "AC0123456789abcdef0123456789abcdef".into(),
                auth: TwilioAuth::AuthToken("t".into()),
            },
            TwilioUrls::default(),
            ClientOptions::default(),
        )
        .unwrap();
        assert_eq!(
            client.api_url(&[], ".json").as_str(),
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json"
        );
        assert_eq!(
            client.api_url(&["SIP", "CredentialLists"], ".json").as_str(),
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/SIP/CredentialLists.json"
        );
        assert_eq!(
            client.trunking_url(&["Trunks", "TK1"]).as_str(),
            "https://trunking.twilio.com/v1/Trunks/TK1"
        );
    }
}
