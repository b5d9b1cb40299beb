//! What the three doubles share: one request read whole, an answer, HTTP auth parsing,
//! scripted faults (outages, slow answers, rate limits), the request log, and the clock
//! formats the providers use.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Bodies larger than this are refused (413) before any handler runs.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// One request, read whole.
pub(crate) struct Exchange {
    pub method: Method,
    pub path: String,
    /// Percent-decoded path segments, without the empty first one.
    pub segs: Vec<String>,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Exchange {
    pub(crate) async fn read(req: Request) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
            (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
        })?;
        let path = parts.uri.path().to_owned();
        let segs = path
            .split('/')
            .skip(1)
            .map(|s| {
                url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Self {
            method: parts.method,
            path,
            segs,
            query,
            headers: parts.headers,
            body: body.to_vec(),
        })
    }

    pub(crate) fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Whether the media type (parameters aside) is `want`.
    pub(crate) fn is_content_type(&self, want: &str) -> bool {
        self.content_type()
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(want))
    }

    /// `Authorization: Basic` user and password.
    pub(crate) fn basic_auth(&self) -> Option<(String, String)> {
        let v = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, b64) = v.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = String::from_utf8(B64.decode(b64.trim()).ok()?).ok()?;
        let (u, p) = raw.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    }

    /// `Authorization: Bearer` token.
    pub(crate) fn bearer(&self) -> Option<String> {
        let v = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    }
}

/// An answer before it becomes a response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = match self.body {
            Some(v) => (
                status,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                Body::from(serde_json::to_vec(&v).unwrap_or_default()),
            )
                .into_response(),
            None => (status, Body::empty()).into_response(),
        };
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (
                header::HeaderName::from_bytes(k.as_bytes()),
                header::HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().append(k, v);
            }
        }
        resp
    }
}

/// A scripted failure, answered before authentication, as a provider's edge would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The provider's error body for this status (e.g. 500, 503), without acting.
    Status(u16),
    /// The provider's rate-limit answer (429 and its body and headers), without acting.
    /// `retry_after_secs` fills `Retry-After` (Telnyx: also `x-ratelimit-reset`).
    RateLimited { retry_after_secs: Option<u64> },
    /// No answer for this long (then 504), without acting: a client with a shorter timeout
    /// sees a timeout whose request was not carried out.
    Hang(Duration),
}

/// One request as a double saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string ("" when none).
    pub query: String,
    pub content_type: String,
    pub status: u16,
}

#[derive(Default)]
pub(crate) struct Faults {
    queue: VecDeque<Fault>,
    /// Faults for the next request whose path ends with the given text (one each).
    on_path: Vec<(String, Fault)>,
    standing: Option<Fault>,
    latency: Duration,
}

/// Faults and the request log of one double.
#[derive(Default)]
pub(crate) struct Core {
    faults: Mutex<Faults>,
    log: Mutex<Vec<Recorded>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    pub(crate) fn push_fault(&self, f: Fault) {
        lock(&self.faults).queue.push_back(f);
    }

    /// The next request whose path ends with `suffix` answers `f` (a step part-way through a
    /// sequence of calls).
    pub(crate) fn push_fault_on(&self, suffix: &str, f: Fault) {
        lock(&self.faults).on_path.push((suffix.to_owned(), f));
    }

    pub(crate) fn set_fault(&self, f: Option<Fault>) {
        lock(&self.faults).standing = f;
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        lock(&self.faults).latency = d;
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        lock(&self.log).clone()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Runs one request: a scripted fault if any (rendered by `fault_reply`), otherwise
    /// `handle`; the answer is held back by the latency (the request has taken effect), and
    /// logged.
    pub(crate) async fn around(
        &self,
        ex: Exchange,
        fault_reply: impl Fn(&Fault) -> Reply,
        handle: impl FnOnce(&Exchange) -> Reply,
    ) -> Response {
        let (fault, latency) = {
            let mut f = lock(&self.faults);
            let targeted = f
                .on_path
                .iter()
                .position(|(suffix, _)| ex.path.ends_with(suffix.as_str()))
                .map(|i| f.on_path.remove(i).1);
            (
                targeted
                    .or_else(|| f.queue.pop_front())
                    .or_else(|| f.standing.clone()),
                f.latency,
            )
        };
        let reply = match &fault {
            Some(Fault::Hang(d)) => {
                tokio::time::sleep(*d).await;
                fault_reply(&Fault::Status(504))
            }
            Some(f) => fault_reply(f),
            None => handle(&ex),
        };
        lock(&self.log).push(Recorded {
            method: ex.method.to_string(),
            path: ex.path.clone(),
            query: ex
                .query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            content_type: ex.content_type().to_owned(),
            status: reply.status,
        });
        if !latency.is_zero() && fault.is_none() {
            tokio::time::sleep(latency).await;
        }
        reply.into_response()
    }
}

/// `2015-01-02T11:23:45Z` (Twilio v1, Exotel).
pub(crate) fn iso_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.format(&fmt).unwrap_or_default()
}

/// `Wed, 11 Sep 2013 17:51:38 +0000` (Twilio 2010).
pub(crate) fn rfc2822_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

/// `2018-02-02T22:25:27.521Z` (Telnyx).
pub(crate) fn iso_millis_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&fmt).unwrap_or_default()
}

/// `n` random lowercase hex digits.
pub(crate) fn hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}
