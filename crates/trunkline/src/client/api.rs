//! The HTTP side of the client commands: one request to trunkline's API, its envelope
//! unwrapped, and every way it can fail turned into the exit status scripts branch on
//! (refused by the server: 2; not reached: 3).

use crate::failure::Failure;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Long enough for a create that provisions LiveKit (whose own timeout is at most 600 s, 10 s
/// by default); a request still unanswered then is reported as not answered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Api {
    http: reqwest::Client,
    base: Url,
    key: String,
}

/// What a successful answer carried: `data` exactly as the server wrote it (for `--json`),
/// and parsed (for tables).
pub struct Answer {
    pub raw: String,
    pub data: serde_json::Value,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    success: bool,
    message: String,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FieldErrors {
    errors: Vec<FieldError>,
}

#[derive(Deserialize)]
struct FieldError {
    field: String,
    message: String,
}

impl Api {
    /// Checks the URL and the key before anything is sent: both are usage mistakes.
    pub fn new(url: &str, key: Option<&str>) -> Result<Self, Failure> {
        let base = parse_base(url).map_err(Failure::Usage)?;
        let key = key
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                Failure::Usage(
                    "TRUNKLINE_API_KEY (--api-key) is not set: the client commands act for the \
                 account of an API key (an operator creates one with `trunkline keys create`)"
                        .into(),
                )
            })?;
        if key.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(Failure::Usage(
                "TRUNKLINE_API_KEY (--api-key) must be the key as `trunkline keys create` printed it (visible ASCII, no spaces)".into(),
            ));
        }
        if !encrypted_or_local(&base) {
            eprintln!(
                "warning: {} is plain http to another host: the API key crosses the network unencrypted; use https://",
                shown(&base)
            );
        }
        // reqwest is built without a bundled crypto provider; use ring's, as the server does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The API never redirects: a redirect means TRUNKLINE_URL is not the API (often
            // http:// for https://), and following it would carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("trunkline-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Runtime(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            key: key.to_owned(),
        })
    }

    /// The URL of `path` (`/sip/trunks`) with `id` appended as one percent-encoded segment,
    /// under the base URL's own path (a reverse proxy may mount the API below `/`).
    pub fn url(&self, path: &str, id: Option<&str>) -> Url {
        let mut url = self.base.clone();
        {
            let mut segments = url.path_segments_mut().expect("an http(s) URL has a path");
            segments.pop_if_empty();
            segments.extend(path.split('/').filter(|s| !s.is_empty()));
            if let Some(id) = id {
                segments.push(id);
            }
        }
        url
    }

    pub async fn get(&self, url: Url) -> Result<Answer, Failure> {
        self.send(Method::GET, url, None, None).await
    }

    pub async fn delete(&self, url: Url) -> Result<Answer, Failure> {
        self.send(Method::DELETE, url, None, None).await
    }

    pub async fn post(&self, url: Url, body: &serde_json::Value) -> Result<Answer, Failure> {
        self.send(Method::POST, url, Some(body), None).await
    }

    pub async fn patch(&self, url: Url, body: &serde_json::Value) -> Result<Answer, Failure> {
        self.send(Method::PATCH, url, Some(body), None).await
    }

    /// A request with an optional JSON body and extra headers (`Idempotency-Key`).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, Failure> {
        let shown = shown(&url);
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.key)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.map_err(|e| unreachable(&shown, &e))?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(&shown, &e))?;
        answer(&shown, status, location.as_deref(), &bytes)
    }
}

/// `TRUNKLINE_URL`: http(s), a host, no query; credentials in it are refused (the key goes in
/// its own header, and a URL is printed in messages).
pub fn parse_base(raw: &str) -> Result<Url, String> {
    let rule = |why: &str| {
        format!(
            "TRUNKLINE_URL (--url) must be the http:// or https:// address of trunkline's API, e.g. {DEFAULT_URL}; {why}: got {raw:?}"
        )
    };
    let url = Url::parse(raw.trim()).map_err(|e| rule(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(rule("the scheme is not http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(rule("there is no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(rule(
            "it carries a user name or password (the API key goes in TRUNKLINE_API_KEY)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(rule("it has a query or fragment"));
    }
    Ok(url)
}

/// https, or http to this machine (where the key never crosses a network).
fn encrypted_or_local(url: &Url) -> bool {
    let host = url.host_str().unwrap_or("");
    url.scheme() == "https"
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL as messages show it: without a query (a cursor is not worth printing).
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

fn unreachable(url: &str, e: &reqwest::Error) -> Failure {
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if !cause.is_empty() {
            cause.push_str(": ");
        }
        cause.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        Failure::Unreachable(format!(
            "no answer from {url} within {} s; the server may or may not have applied the request",
            REQUEST_TIMEOUT.as_secs()
        ))
    } else if e.is_connect() {
        Failure::Unreachable(format!(
            "cannot reach trunkline at {url}: {cause}. Is `trunkline serve` running there? (TRUNKLINE_URL, --url)"
        ))
    } else {
        let why = if cause.is_empty() {
            e.to_string()
        } else {
            cause
        };
        Failure::Unreachable(format!(
            "the request to {url} failed: {why}; the server may or may not have applied it"
        ))
    }
}

/// Turns an answer into the data, or the failure scripts see.
fn answer(
    url: &str,
    status: StatusCode,
    location: Option<&str>,
    body: &[u8],
) -> Result<Answer, Failure> {
    let envelope: Option<Envelope> = serde_json::from_slice(body).ok();
    if status.is_redirection() {
        return Err(Failure::Refused(format!(
            "{url} answered HTTP {status}, a redirect to {}: set TRUNKLINE_URL (--url) to the API's own address",
            location.unwrap_or("nowhere")
        )));
    }
    let Some(envelope) = envelope else {
        let what = format!(
            "{url} answered HTTP {status} with no trunkline envelope ({{\"success\", \"message\", \"data\"}}); is TRUNKLINE_URL (--url) trunkline's API? The answer began: {}",
            excerpt(body)
        );
        return Err(if status.is_success() {
            Failure::Runtime(what)
        } else {
            Failure::Refused(what)
        });
    };
    if !status.is_success() || !envelope.success {
        return Err(Failure::Refused(refusal(status, &envelope)));
    }
    let raw = envelope.data.map_or("null", RawValue::get).to_owned();
    let data = serde_json::from_str(&raw)
        .map_err(|e| Failure::Runtime(format!("the data {url} answered is not JSON: {e}")))?;
    Ok(Answer { raw, data })
}

/// The server's message, then each field error on its own line as `field: message`. When the
/// message is only those errors joined (as for a 400), it is not printed twice.
fn refusal(status: StatusCode, envelope: &Envelope) -> String {
    let fields = envelope
        .data
        .and_then(|d| serde_json::from_str::<FieldErrors>(d.get()).ok())
        .map(|f| f.errors)
        .unwrap_or_default();
    let message = clean(&envelope.message);
    let mut out = if fields.is_empty() {
        format!("{message} (HTTP {status})")
    } else {
        let joined = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        if clean(&joined) == message {
            format!("the server refused the request (HTTP {status}):")
        } else {
            format!("{message} (HTTP {status}):")
        }
    };
    for f in &fields {
        out.push_str(&format!("\n  {}: {}", clean(&f.field), clean(&f.message)));
    }
    if status == StatusCode::UNAUTHORIZED {
        out.push_str("\n  (the key comes from TRUNKLINE_API_KEY or --api-key)");
    }
    out
}

/// Control characters from the server are shown escaped: they could rewrite the terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    format!("{:?}", text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_table() {
        for (raw, ok) in [
            ("http://127.0.0.1:8080", true),
            ("https://api.example.com/trunkline/", true),
            ("127.0.0.1:8080", false),
            ("ftp://example.com", false),
            ("http://user:pw@example.com", false),
            ("http://example.com/?x=1", false),
            ("", false),
        ] {
            assert_eq!(parse_base(raw).is_ok(), ok, "{raw}");
        }
    }

    #[test]
    fn plain_http_is_fine_only_on_this_machine() {
        for (raw, quiet) in [
            ("http://127.0.0.1:8080", true),
            ("http://127.8.0.1", true),
            ("http://[::1]:8080", true),
            ("http://localhost:8080", true),
            ("https://api.example.com", true),
            ("http://api.example.com", false),
            ("http://10.0.0.5:8080", false),
        ] {
            assert_eq!(
                encrypted_or_local(&parse_base(raw).unwrap()),
                quiet,
                "{raw}"
            );
        }
    }

    #[test]
    fn paths_keep_the_base_path_and_encode_the_id() {
        let api = Api::new("https://h.example/tl/", Some("tlk_x")).unwrap();
        assert_eq!(
            api.url("/sip/trunks", Some("ST_1/../x")).as_str(),
            "https://h.example/tl/sip/trunks/ST_1%2F..%2Fx"
        );
        let api = Api::new("http://h.example", Some("tlk_x")).unwrap();
        assert_eq!(api.url("/calls", None).as_str(), "http://h.example/calls");
    }

    #[test]
    fn a_validation_answer_lists_each_field_once() {
        let body = br#"{"success":false,"message":"to_number: is required; trunk_id: is required","data":{"errors":[{"field":"to_number","message":"is required"},{"field":"trunk_id","message":"is required"}]}}"#;
        let Err(Failure::Refused(m)) = answer("u", StatusCode::BAD_REQUEST, None, body) else {
            panic!()
        };
        assert_eq!(
            m,
            "the server refused the request (HTTP 400 Bad Request):\n  to_number: is required\n  trunk_id: is required"
        );
    }

    #[test]
    fn data_is_kept_as_the_server_wrote_it() {
        let body = br#"{"success":true,"message":"ok","data":{"z":1,"a":[2, 3]}}"#;
        let a = answer("u", StatusCode::OK, None, body).ok().unwrap();
        assert_eq!(a.raw, r#"{"z":1,"a":[2, 3]}"#);
        assert_eq!(a.data["a"][1], 3);
    }

    #[test]
    fn answers_that_are_not_trunkline_are_named() {
        let r = answer(
            "u",
            StatusCode::BAD_GATEWAY,
            None,
            b"<html>bad gateway</html>",
        );
        assert!(
            matches!(r, Err(Failure::Refused(m)) if m.contains("no trunkline envelope") && m.contains("bad gateway"))
        );
        let r = answer("u", StatusCode::OK, None, b"hello");
        assert!(matches!(r, Err(Failure::Runtime(_))));
        let r = answer("u", StatusCode::FOUND, Some("https://x/"), b"");
        assert!(matches!(r, Err(Failure::Refused(m)) if m.contains("redirect to https://x/")));
    }
}
