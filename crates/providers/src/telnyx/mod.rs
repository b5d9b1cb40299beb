//! Telnyx API v2 (`https://api.telnyx.com/v2`): credential connections (LiveKit's outbound
//! trunk registers nothing; it authenticates its INVITEs with the connection's user name and
//! password), FQDN connections and their FQDNs (inbound to LiveKit's SIP endpoint), outbound
//! voice profiles, and phone numbers (PROVIDERS.md §4).
//!
//! Wire: `Authorization: Bearer <API key>`, JSON both ways, `{data}` for one object,
//! `{data: […], meta: {page_number, page_size, total_pages, total_results}}` for lists,
//! `{errors: [{code, title, detail, source: {pointer}}]}` for errors.

mod connections;
mod numbers;
mod types;

pub use types::*;

use crate::error::{ErrorKind, Provider, ProviderError};
use crate::secret::Secret;
use crate::transport::{Auth, Call, ClientOptions, Raw, Transport};
use crate::urls;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use url::Url;

pub const DEFAULT_API_URL: &str = "https://api.telnyx.com";

const P: Provider = Provider::Telnyx;
/// TX-OAI: `page[size]` is at most 250.
const MAX_PAGE_SIZE: u32 = 250;

#[derive(Debug)]
pub struct TelnyxClient {
    transport: Transport,
    base: Url,
}

impl TelnyxClient {
    /// `base_url` is `TRUNKLINE_TELNYX_API_URL` (default [`DEFAULT_API_URL`]); `/v2` is added.
    pub fn new(
        api_key: Secret,
        base_url: &str,
        options: ClientOptions,
    ) -> Result<Self, ProviderError> {
        if api_key.is_empty() {
            return Err(ProviderError::invalid_input(P, "api_key is empty"));
        }
        Ok(Self {
            base: urls::parse_base(P, "TRUNKLINE_TELNYX_API_URL", base_url)?,
            transport: Transport::new(P, Auth::Bearer(api_key), options, None),
        })
    }

    /// The credentials check: one authenticated read (a credential-connection page of one).
    /// A refused key is [`ErrorKind::Credentials`] with Telnyx's 10009 and message.
    pub async fn verify_credentials(&self) -> Result<(), ProviderError> {
        let mut url = self.url(&["credential_connections"]);
        url.query_pairs_mut()
            .append_pair("page[number]", "1")
            .append_pair("page[size]", "1");
        let _: Value = self.send(Call::new(Method::GET, url)).await?;
        Ok(())
    }

    pub(crate) fn url(&self, segs: &[&str]) -> Url {
        let mut all = vec!["v2"];
        all.extend_from_slice(segs);
        urls::join(&self.base, &all)
    }

    /// One request answered with `{data: …}`.
    pub(crate) async fn data<T: DeserializeOwned>(&self, call: Call) -> Result<T, ProviderError> {
        let v: Value = self.send(call).await?;
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        serde_json::from_value(data)
            .map_err(|e| ProviderError::bad_response(P, 200, format!("unreadable `data` ({e})")))
    }

    async fn send(&self, call: Call) -> Result<Value, ProviderError> {
        self.transport
            .run(&call, |raw| {
                if (200..300).contains(&raw.status) {
                    if raw.body.is_empty() {
                        return Ok(Value::Null);
                    }
                    serde_json::from_slice(&raw.body).map_err(|e| {
                        ProviderError::bad_response(
                            P,
                            raw.status,
                            format!("unreadable answer ({e})"),
                        )
                    })
                } else {
                    Err(error_from(&raw))
                }
            })
            .await
    }

    /// Every item of a list, page by page until `meta.total_pages`; `filters` are
    /// `filter[...]` pairs.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        segs: &[&str],
        filters: &[(&str, &str)],
    ) -> Result<Vec<T>, ProviderError> {
        let size = self.transport.options().page_size.clamp(1, MAX_PAGE_SIZE);
        let mut out = Vec::new();
        for number in 1..=1000u32 {
            let mut url = self.url(segs);
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in filters {
                    q.append_pair(k, v);
                }
                q.append_pair("page[number]", &number.to_string())
                    .append_pair("page[size]", &size.to_string());
            }
            let page = self.send(Call::new(Method::GET, url)).await?;
            let items = page.get("data").cloned().unwrap_or(Value::Array(vec![]));
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| {
                ProviderError::bad_response(P, 200, format!("unreadable list ({e})"))
            })?;
            let empty = items.is_empty();
            out.extend(items);
            let total = page
                .pointer("/meta/total_pages")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if empty || u64::from(number) >= total {
                break;
            }
        }
        Ok(out)
    }
}

/// `{errors: [{code, title, detail, source: {pointer}}]}`: the first error names the code,
/// the field and the message.
fn error_from(raw: &Raw) -> ProviderError {
    let body: Value = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
    let first = body.pointer("/errors/0");
    let code = first.and_then(|e| e.get("code")).and_then(|c| match c {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let text = |k: &str| first.and_then(|e| e.get(k)).and_then(Value::as_str);
    let message = match (text("title"), text("detail")) {
        (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
        (Some(t), _) => t.to_owned(),
        (None, Some(d)) => d.to_owned(),
        (None, None) => raw.snippet(),
    };
    let field = first
        .and_then(|e| e.pointer("/source/pointer"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let kind = classify(raw.status, code.as_deref());
    let hint = (kind == ErrorKind::RateLimited)
        .then(|| raw.retry_after().or_else(|| reset_hint(raw)))
        .flatten();
    ProviderError::api(P, kind, raw.status, code, message)
        .with_field(field)
        .with_retry_after(hint)
}

/// `x-ratelimit-reset`: "the time in seconds until the rate limit resets" (Telnyx's
/// rate-limiting page). A value that looks like a Unix time (after 2001) is read as one,
/// since other APIs use the same header name that way.
fn reset_hint(raw: &Raw) -> Option<Duration> {
    let v: u64 = raw.header("x-ratelimit-reset")?.trim().parse().ok()?;
    if v > 1_000_000_000 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(Duration::from_secs(v.saturating_sub(now)))
    } else {
        Some(Duration::from_secs(v))
    }
}

pub(crate) fn classify(status: u16, code: Option<&str>) -> ErrorKind {
    match code {
        Some("10009") | Some("10010") => return ErrorKind::Credentials,
        Some("10005") => return ErrorKind::NotFound,
        Some("10011") => return ErrorKind::RateLimited,
        _ => {}
    }
    ErrorKind::of_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn classification_table() {
        let rows = [
            (401, Some("10009"), ErrorKind::Credentials),
            (403, Some("10010"), ErrorKind::Credentials),
            (404, Some("10005"), ErrorKind::NotFound),
            (422, Some("10015"), ErrorKind::InvalidInput),
            (400, Some("10015"), ErrorKind::InvalidInput),
            (429, Some("10011"), ErrorKind::RateLimited),
            (409, None, ErrorKind::Conflict),
            (500, None, ErrorKind::Unavailable),
        ];
        for (status, code, kind) in rows {
            assert_eq!(classify(status, code), kind, "{status} {code:?}");
        }
    }

    #[test]
    fn errors_name_code_field_and_message() {
        let raw = Raw {
            status: 422,
            headers: HeaderMap::new(),
            body: br#"{"errors":[{"code":"10015","title":"Bad Request","detail":"The value is invalid.","source":{"pointer":"/inbound/dnis_number_format"}}]}"#.to_vec(),
        };
        let e = error_from(&raw);
        assert_eq!(e.code(), Some("10015"));
        assert_eq!(e.field(), Some("/inbound/dnis_number_format"));
        assert_eq!(e.message(), "Bad Request: The value is invalid.");
    }

    #[test]
    fn rate_limit_hint_comes_from_the_reset_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset", "4".parse().unwrap());
        let raw = Raw {
            status: 429,
            headers,
            body: br#"{"errors":[{"code":"10011","title":"Too many requests"}]}"#.to_vec(),
        };
        let e = error_from(&raw);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
    }
}
