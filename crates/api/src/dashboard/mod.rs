//! The web dashboard, served by `serve` beside the API: server-rendered HTML (maud) with a
//! vendored htmx for live updates, readable without JavaScript. It calls the service layer
//! (`trunkline_core`) and the store directly, never the JSON handlers.
//!
//! Pages live under `/` (the overview) and `/ui/…`; the API's paths are untouched. A browser
//! signs in with an API key and gets a server-side session (`session.rs`); every form that
//! changes something carries the session's CSRF token.

mod assets;
mod assistant_form;
mod assistants;
mod calls;
mod inbound;
mod layout;
mod numbers;
mod overview;
mod problem;
mod provider_accounts;
mod session;
pub mod sign_in_limit;
mod trunk_form;
mod trunk_settings;
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
        .route(
            "/ui/trunks/{id}/health-check",
            post(trunk_settings::save_health),
        )
        .route(
            "/ui/trunks/{id}/call-limits",
            post(trunk_settings::save_limits),
        )
        .route("/ui/inbound", get(inbound::show).post(inbound::import))
        .route(
            "/ui/assistants",
            get(assistants::list).post(assistants::create),
        )
        .route("/ui/assistants/new", get(assistants::new_form))
        .route(
            "/ui/assistants/{id}",
            get(assistants::show).post(assistants::save),
        )
        .route("/ui/assistants/{id}/delete", post(assistants::delete))
        .route(
            "/ui/providers",
            get(provider_accounts::list).post(provider_accounts::create),
        )
        .route("/ui/providers/new", get(provider_accounts::new_form))
        .route("/ui/providers/{id}", get(provider_accounts::show))
        .route("/ui/providers/{id}/delete", post(provider_accounts::delete))
        .route("/ui/numbers", get(numbers::list).post(numbers::create))
        .route("/ui/numbers/{id}/delete", post(numbers::delete))
        .route("/ui/calls", get(calls::list).post(calls::place))
        .route("/ui/calls/new", get(calls::new_form))
        .route("/ui/calls/{id}", get(calls::show))
        .route("/ui/calls/{id}/cancel", post(calls::cancel))
        .route("/ui/calls/{id}/transfer", post(calls::transfer))
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
