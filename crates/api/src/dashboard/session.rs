//! Signing in and out. An API key typed on the sign-in page becomes a server-side session: a
//! random token in an HttpOnly, SameSite=Strict cookie, stored only as its hash, ending at
//! expiry, at sign-out or when the key is revoked. The key itself is never stored in the
//! browser nor sent back in a page.
//!
//! CSRF: each session has its own token, which every state-changing form carries and
//! [`Posted`] checks (with the `Origin` header when the browser sends one). The
//! sign-in form, before any session, uses a double-submit token in a short-lived cookie.

use super::layout::{self, Field, InputExtra, Nav};
use super::problem::PageError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use trunkline_core::sealing::{generate_secret_token, hash_api_key};
use trunkline_store::now_micros;

pub const SESSION_COOKIE: &str = "tl_session";
const SIGN_IN_COOKIE: &str = "tl_sign_in";
/// A session lasts this long from sign-in.
pub const SESSION_SECS: i64 = 12 * 3600;

/// The signed-in account behind a page request.
pub struct Session {
    pub tenant_id: String,
    pub tenant_name: String,
    pub csrf: String,
    token_hash: String,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over HTTPS. trunkline serves plain HTTP, so that is known
/// only from a trusted proxy's `X-Forwarded-Proto` (`TRUNKLINE_TRUST_PROXY_HEADERS`); any
/// client could send the header, so it is ignored otherwise. Then cookies are `Secure`.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.trust_proxy_headers
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The client's address: the connection's peer, or behind a trusted proxy the address it
/// appended last to `X-Forwarded-For` (earlier entries are whatever the client sent).
fn client_address(
    state: &AppState,
    parts_headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Option<IpAddr> {
    if state.trust_proxy_headers {
        // Only the last entry: anything before it is whatever the client sent.
        let forwarded = parts_headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are base64url")
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A form submitted under a session, its CSRF token checked.
pub struct FormData(HashMap<String, String>);

impl FormData {
    fn parse(body: &[u8]) -> Result<Self, PageError> {
        Ok(Self(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The field's text, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(|s| s.trim()).unwrap_or("")
    }

    /// The field exactly as typed (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A form's typed values, a struct of `String` fields, from a post: each field from the input
/// of its own name, trimmed (those after `raw:` exactly as typed, for passwords).
macro_rules! posted {
    ($form:expr, $ty:ident { $($field:ident),* $(,)? } $(raw: $($raw:ident),*)?) => {
        $ty {
            $($field: $form.get(stringify!($field)).to_owned(),)*
            $($($raw: $form.raw(stringify!($raw)).to_owned(),)*)?
        }
    };
}
pub(crate) use posted;

/// A cross-site form post shows the Origin of the page it came from; ours is our own host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The CSRF token of the request's session, left in the request's extensions by the
/// [`Session`] extractor for [`Posted`].
#[derive(Clone)]
struct SessionCsrf(String);

/// A form posted under the request's session (a [`Session`] argument before it): from our own
/// origin, its `csrf` field the session's token. The headers are kept for the answer (htmx).
pub struct Posted {
    pub headers: HeaderMap,
    pub form: FormData,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let csrf = req.extensions().get::<SessionCsrf>().cloned();
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let checked = || {
            let Some(SessionCsrf(csrf)) = csrf else {
                return Err(PageError::Forbidden);
            };
            if !same_origin(&headers) {
                return Err(PageError::Forbidden);
            }
            let form = FormData::parse(&body)?;
            if !same(form.get("csrf"), &csrf) {
                return Err(PageError::Forbidden);
            }
            Ok(form)
        };
        match checked() {
            Ok(form) => Ok(Posted { headers, form }),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in(&parts.headers));
        };
        let hash = token_hash(token);
        match state.store.dashboard_session(&hash).await {
            Ok(Some(s)) => Ok({
                trunkline_store::Actor::key_id(&s.api_key_id);
                parts.extensions.insert(SessionCsrf(s.csrf_token.clone()));
                Session {
                    tenant_id: s.tenant_id,
                    tenant_name: s.tenant_name,
                    csrf: s.csrf_token,
                    token_hash: hash,
                }
            }),
            Ok(None) => Err(to_sign_in(&parts.headers)),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// Not signed in: to the sign-in page (htmx is told to go there rather than swap it in).
fn to_sign_in(headers: &HeaderMap) -> Response {
    if headers.contains_key("hx-request") {
        return (StatusCode::OK, [("hx-redirect", "/ui/sign-in")]).into_response();
    }
    layout::see_other("/ui/sign-in")
}

#[derive(Deserialize)]
pub struct SignInQuery {
    signed_out: Option<String>,
}

fn sign_in_markup(csrf: &str, error: Option<&str>, signed_out: bool) -> maud::Markup {
    let key = Field {
        name: "api_key",
        label: "API key",
        hint: Some("Your account's API key (it starts with tlk_). It is used once to open a session and is not kept in the browser."),
        error,
    };
    let body = html! {
        h1 { "Sign in" }
        @if signed_out { (layout::notice("ok", "You are signed out.")) }
        form.stack method="post" action="/ui/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            (key.input("password", "", InputExtra { autocomplete: Some("off"), required: true, ..Default::default() }))
            div.actions { button type="submit" { "Sign in" } }
        }
    };
    layout::page("Sign in", None, Nav::None, body)
}

pub async fn sign_in_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    query: Result<Query<SignInQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let signed_out = query.ok().and_then(|q| q.0.signed_out).is_some();
    let csrf = generate_secret_token();
    let mut resp = layout::ok(sign_in_markup(&csrf, None, signed_out));
    resp.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &csrf, 3600, secure(&state, &headers)),
    );
    resp
}

pub async fn sign_in(
    axum::extract::State(state): axum::extract::State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    if !same_origin(&headers) {
        return Err(PageError::Forbidden);
    }
    let form = FormData::parse(&body)?;
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if expected.is_empty() || !same(form.get("csrf"), expected) {
        return Err(PageError::Forbidden);
    }
    let key = form.get("api_key");
    let refuse = |message: &str| {
        // The same sign-in token stays valid for the retry; the key typed is not sent back.
        layout::respond(
            StatusCode::UNAUTHORIZED,
            sign_in_markup(expected, Some(message), false),
        )
    };
    if key.is_empty() {
        return Ok(refuse("Enter your API key."));
    }
    let address = client_address(&state, &headers, peer.map(|p| p.0 .0.ip()));
    if let Err(throttled) = state.sign_ins.attempt(address, key) {
        tracing::warn!(client = ?address, "dashboard sign-in throttled");
        let mut resp = layout::respond(
            StatusCode::TOO_MANY_REQUESTS,
            sign_in_markup(expected, Some(&throttled.message()), false),
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(throttled.retry_after_secs()),
        );
        return Ok(resp);
    }
    let hash = hash_api_key(key);
    let Some((key_id, tenant_id)) = state.store.api_key_for_hash(&hash).await? else {
        let message = if state.store.api_key_revoked(&hash).await? {
            "This API key was revoked: sign in with another key of your account."
        } else {
            "That API key is not valid: check that the whole key was copied, then try again."
        };
        return Ok(refuse(message));
    };
    let token = generate_secret_token();
    let csrf = generate_secret_token();
    state
        .store
        .create_dashboard_session(
            &token_hash(&token),
            &tenant_id,
            &key_id,
            &csrf,
            now_micros() + SESSION_SECS * 1_000_000,
        )
        .await?;
    tracing::info!(tenant = %tenant_id, "dashboard sign-in");
    let mut resp = layout::see_other("/");
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &token,
            SESSION_SECS,
            secure(&state, &headers),
        ),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, "", 0, secure(&state, &headers)),
    );
    Ok(resp)
}

pub async fn sign_out(
    axum::extract::State(state): axum::extract::State<AppState>,
    session: Session,
    Posted { headers, .. }: Posted,
) -> Result<Response, PageError> {
    state
        .store
        .revoke_dashboard_session(&session.token_hash)
        .await?;
    let mut resp = layout::see_other("/ui/sign-in?signed_out=1");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure(&state, &headers)),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x_tl_session=no; tl_session=yes; other=1"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("yes"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn a_cross_site_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h), "no Origin: a same-origin navigation");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
