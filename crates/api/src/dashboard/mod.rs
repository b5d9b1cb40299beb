//! The web dashboard, served by `serve` beside the API: server-rendered HTML (maud) with a
//! vendored htmx for live updates, readable without JavaScript. It calls the service layer
//! (`trunkline_core`) and the store directly, never the JSON handlers.
//!
//! Pages live under `/` (the overview) and `/ui/…`; the API's paths are untouched. A browser
//! signs in with an API key and gets a server-side session (`session.rs`); every form that
//! changes something carries the session's CSRF token.

mod assets;
mod calls;
mod layout;
mod overview;
mod problem;
mod session;
mod trunk_form;
mod trunks;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

/// Strict: everything from this origin only, no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route(
            "/ui/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/trunks", get(trunks::list).post(trunks::create))
        .route("/ui/trunks/new", get(trunks::new_form))
        .route("/ui/trunks/{id}", get(trunks::show).post(trunks::save))
        .route("/ui/trunks/{id}/edit", get(trunks::edit_form))
        .route("/ui/trunks/{id}/delete", post(trunks::delete))
        .route("/ui/trunks/{id}/test", post(trunks::test))
        .route("/ui/calls", get(calls::list).post(calls::place))
        .route("/ui/calls/new", get(calls::new_form))
        .route("/ui/calls/{id}", get(calls::show))
        .route("/ui/calls/{id}/cancel", post(calls::cancel))
        .route("/ui/assets/{name}", get(assets::serve))
        .route("/ui", get(problem::not_found_page))
        .route("/ui/{*rest}", get(problem::not_found_page))
        .layer(middleware::from_fn(security_headers))
}

/// Every dashboard answer: the CSP, no sniffing, no framing, no referrer to other sites, and
/// pages never cached (they show one account's data).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}
