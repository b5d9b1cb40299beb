//! One HTTP exchange with a provider, shared by the three clients: authentication, a timeout
//! on every request, the account's limiter (Exotel), bounded retries of rate-limited answers,
//! and transport failures classified by whether the request may have been acted on.

use crate::error::{ErrorKind, Outcome, Provider, ProviderError};
use crate::limiter::Limiter;
use crate::secret::Secret;
use reqwest::header::HeaderMap;
use reqwest::Method;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use url::Url;

/// Provider API requests, by provider and outcome (`ok` or the [`ErrorKind`] label), each
/// attempt counted (a 429 retried is one `rate_limited` and then the retry's own outcome).
pub const PROVIDER_API_CALLS: &str = "trunkline_provider_api_calls_total";

/// How a client talks to its provider. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Bound on each whole request (connect, send, answer). Connect alone gets at most 5 s.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Items asked for per page when listing (every provider accepts 100).
    pub page_size: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            page_size: 100,
        }
    }
}

/// Retries of answers that say "rate limited, not processed" (Twilio 429/20429, Telnyx 429
/// 10011, Exotel 429): exponential backoff from `initial_backoff`, doubled each time, capped
/// at `max_backoff`. A provider's own hint (Retry-After, Telnyx `x-ratelimit-reset`) replaces
/// the computed delay; a hint longer than `max_backoff` ends the retries at once and is passed
/// on in [`ProviderError::retry_after`], so that a caller can schedule rather than block.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (e.g. a credentials check that should answer fast).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `attempt + 1`, or `None` to give up.
    pub fn delay(&self, attempt: u32, hint: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        match hint {
            Some(h) if h > self.max_backoff => None,
            Some(h) => Some(h),
            None => {
                let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
                Some(
                    self.initial_backoff
                        .saturating_mul(factor)
                        .min(self.max_backoff),
                )
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Auth {
    Basic { user: String, pass: Secret },
    Bearer(Secret),
}

impl Auth {
    fn secret(&self) -> &Secret {
        match self {
            Auth::Basic { pass, .. } => pass,
            Auth::Bearer(s) => s,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Body {
    /// `application/x-www-form-urlencoded` (Twilio).
    Form(String),
    Json(Vec<u8>),
}

/// One request, replayable for retries.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: Method,
    pub url: Url,
    pub body: Option<Body>,
    /// Values in the body that must not leak through a provider's error message.
    pub secrets: Vec<Secret>,
}

impl Call {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            body: None,
            secrets: Vec::new(),
        }
    }

    pub fn form<T: serde::Serialize>(mut self, params: &T) -> Self {
        // Only our own flat structs are serialized here; they always encode.
        let text = serde_urlencoded::to_string(params).unwrap_or_default();
        self.body = Some(Body::Form(text));
        self
    }

    pub fn json<T: serde::Serialize>(mut self, value: &T) -> Self {
        self.body = Some(Body::Json(serde_json::to_vec(value).unwrap_or_default()));
        self
    }

    pub fn secret(mut self, s: &Secret) -> Self {
        self.secrets.push(s.clone());
        self
    }
}

/// An answer, whatever its status.
#[derive(Debug)]
pub(crate) struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(v).ok()?;
        Some(
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }

    /// The first 200 characters of the body, for messages about unreadable answers.
    pub fn snippet(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect();
        text.trim().to_owned()
    }
}

pub(crate) struct Transport {
    http: reqwest::Client,
    provider: Provider,
    options: ClientOptions,
    auth: Auth,
    limiter: Option<Arc<Limiter>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.provider)
            .field("options", &self.options)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(
        provider: Provider,
        auth: Auth,
        options: ClientOptions,
        limiter: Option<Arc<Limiter>>,
    ) -> Self {
        // reqwest is built without a bundled crypto provider: use ring's, as crates/livekit
        // does. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(options.timeout))
            .timeout(options.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            // A provider never redirects its API; a redirect would resend our credentials.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client configuration is static");
        Self {
            http,
            provider,
            options,
            auth,
            limiter,
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    #[cfg(test)]
    pub fn limiter_ptr(&self) -> Option<*const Limiter> {
        self.limiter.as_ref().map(Arc::as_ptr)
    }

    /// Sends `call`, hands the answer to `interpret`, and retries while `interpret` says
    /// "rate limited" and the policy allows.
    pub async fn run<T>(
        &self,
        call: &Call,
        interpret: impl Fn(Raw) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut secrets: Vec<&Secret> = call.secrets.iter().collect();
        secrets.push(self.auth.secret());
        let mut attempt = 0;
        loop {
            let result = match self.once(call).await {
                Ok(raw) => interpret(raw),
                Err(e) => Err(e),
            };
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.kind().as_str(),
            };
            metrics::counter!(PROVIDER_API_CALLS, "provider" => self.provider.as_str(), "outcome" => outcome)
                .increment(1);
            match result {
                Err(e) if e.kind() == ErrorKind::RateLimited => {
                    match self.options.retry.delay(attempt, e.retry_after()) {
                        Some(d) => {
                            tracing::debug!(
                                provider = %self.provider,
                                path = call.url.path(),
                                delay_ms = d.as_millis() as u64,
                                "rate limited; retrying"
                            );
                            tokio::time::sleep(d).await;
                            attempt += 1;
                        }
                        None => return Err(e.scrubbed(&secrets)),
                    }
                }
                other => return other.map_err(|e| e.scrubbed(&secrets)),
            }
        }
    }

    async fn once(&self, call: &Call) -> Result<Raw, ProviderError> {
        let _permit = match &self.limiter {
            Some(l) => Some(l.acquire().await),
            None => None,
        };
        let mut req = self.http.request(call.method.clone(), call.url.clone());
        req = match &self.auth {
            Auth::Basic { user, pass } => req.basic_auth(user, Some(pass.expose())),
            Auth::Bearer(token) => req.bearer_auth(token.expose()),
        };
        req = req.header("Accept", "application/json");
        match &call.body {
            Some(Body::Form(text)) => {
                req = req
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(text.clone());
            }
            Some(Body::Json(bytes)) => {
                req = req
                    .header("Content-Type", "application/json")
                    .body(bytes.clone());
            }
            None => {}
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(call, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(call, &e))?;
        tracing::debug!(
            provider = %self.provider,
            method = %call.method,
            path = call.url.path(),
            status,
            "provider answered"
        );
        Ok(Raw {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    fn transport_error(&self, call: &Call, e: &reqwest::Error) -> ProviderError {
        let place = display_url(&call.url);
        if e.is_connect() {
            // The connection never opened: the provider cannot have seen the request.
            ProviderError::unavailable(
                self.provider,
                Outcome::NotApplied,
                format!("cannot connect to {place}: {}", root_cause(e)),
            )
        } else if e.is_timeout() {
            ProviderError::unavailable(
                self.provider,
                Outcome::Unknown,
                format!(
                    "{place} did not answer within {} s",
                    self.options.timeout.as_secs_f32()
                ),
            )
        } else {
            ProviderError::unavailable(
                self.provider,
                Outcome::Unknown,
                format!("{place}: {}", root_cause(e)),
            )
        }
    }
}

/// Scheme, host, port and path: never userinfo (an operator may paste `https://key:token@…`)
/// and never the query.
pub(crate) fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

/// The innermost cause ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
        };
        let delays: Vec<_> = (0..7).map(|a| p.delay(a, None)).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(
            delays,
            vec![ms(100), ms(200), ms(400), ms(700), ms(700), ms(700), None]
        );
    }

    #[test]
    fn a_hint_replaces_the_backoff_and_a_long_one_gives_up() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(p.delay(0, Some(Duration::from_secs(60))), None);
        assert_eq!(RetryPolicy::none().delay(0, None), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        let raw = Raw {
            status: 429,
            headers,
            body: vec![],
        };
        assert_eq!(raw.retry_after(), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(30);
        let mut headers = HeaderMap::new();
        headers.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let raw = Raw {
            status: 429,
            headers,
            body: vec![],
        };
        let d = raw.retry_after().unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
    }

    #[test]
    fn urls_in_messages_lose_userinfo_and_query() {
        let u = Url::parse("https://key:tok@api.in.exotel.com/v2/accounts/x/trunks?trunk_sid=t")
            .unwrap();
        assert_eq!(
            display_url(&u),
            "https://api.in.exotel.com/v2/accounts/x/trunks"
        );
    }
}
