//! trunkline's HTTP API: the seed-000 trunk endpoints and their extensions, the error
//! envelope, sealing of secrets, and provisioning of LiveKit.

pub mod config_doc;
pub mod dashboard;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod http_server;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod query_guard;
pub mod readiness_cache;
pub mod routes;
pub mod state;
pub mod trunk_path;
pub mod trunk_test_limit;
pub mod wire;

pub use state::AppState;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use error::ApiError;
pub use http_server::HttpLimits;
use routes::{health, trunks};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

pub fn router(state: AppState) -> Router {
    // The 405 rewrite wraps the whole router: `Allow` is set by the method router after its
    // fallback and layers have run.
    // The dashboard's pages first (`/` and `/ui/…`); everything else is the API, with its
    // query-parameter guard and JSON errors.
    Router::new()
        .merge(dashboard::routes().with_state(state.clone()))
        .fallback_service(routes(state))
        .layer(middleware::from_fn(name_allowed_methods))
        .layer(middleware::from_fn(audit_actor))
}

/// Each request acts as its own actor for the audit: the key its authentication names is
/// recorded with any configuration change it makes.
async fn audit_actor(req: Request, next: Next) -> Response {
    trunkline_store::Actor::scope(next.run(req)).await
}

fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/sip/create-outbound-trunk",
            post(trunks::create_outbound_trunk),
        )
        .route("/sip/list", get(trunks::list_trunks))
        .route(
            "/sip/trunks/{trunk_id}",
            get(trunks::get_trunk)
                .patch(trunks::patch_trunk)
                .delete(trunks::delete_trunk),
        )
        .route(
            "/sip/deactivate/{trunk_id}",
            delete(trunks::deactivate_trunk),
        )
        .merge(routes::outbound_trunks::routes())
        .merge(routes::tenant_self::routes())
        .merge(routes::inbound_trunks::routes())
        .merge(routes::dispatch_rules::routes())
        .merge(routes::assistants::routes())
        .merge(routes::calls::routes())
        .merge(routes::warm_transfer::routes())
        .merge(routes::trunk_test::routes())
        .merge(routes::trunk_health::routes())
        .merge(routes::provider_accounts::routes())
        .merge(routes::audit::routes())
        .merge(routes::config::routes())
        .merge(routes::numbers::routes())
        .merge(routes::twilio_webhooks::routes())
        .route("/livekit/webhook", post(routes::livekit_webhook::receive))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(|| async { ApiError::NotFound("No such endpoint: see GET /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed {
                allow: String::new(),
            }
        })
        .layer(middleware::from_fn(query_guard::refuse_unknown_parameters))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(middleware::from_fn(access_log))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a request handler panicked").into_response()
            },
        ))
        .layer(middleware::from_fn(metrics::record))
        .with_state(state)
}

/// A 405 names the methods the path takes, in its body as in `Allow` (which the router sets
/// on the fallback's answer, after the fallback ran).
async fn name_allowed_methods(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
        return resp;
    }
    let allow = resp
        .headers()
        .get(axum::http::header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    ApiError::MethodNotAllowed { allow }.into_response()
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One line per request: method, route (with `{trunk_id}` rather than the id), status and
/// time. Headers and bodies are never logged: they carry API keys and trunk passwords.
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    // Every line logged while serving the request carries its route, and the tenant and
    // trunk once the extractors know them (`extract::Tenant`, `trunk_path::TrunkPath`).
    let span = tracing::info_span!(
        "request",
        %method,
        route = %route,
        tenant = tracing::field::Empty,
        trunk_id = tracing::field::Empty
    );
    // Bounds every request, slow clients and slow upstreams alike, so none holds a connection
    // (or a graceful shutdown) forever. LiveKit calls time out well before this.
    let run = tracing::Instrument::instrument(next.run(req), span.clone());
    let resp = match tokio::time::timeout(REQUEST_TIMEOUT, run).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Upstream {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the request took too long and was abandoned".into(),
        }
        .into_response(),
    };
    let status = resp.status();
    let micros = started.elapsed().as_micros() as u64;
    let _in_span = span.enter();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(%method, route, status = status.as_u16(), micros, "request");
    } else {
        tracing::debug!(%method, route, status = status.as_u16(), micros, "request");
    }
    drop(_in_span);
    resp
}

/// Options of a running server beyond its state.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How often the reconciler compares the store with LiveKit; `None` runs none (tests that
    /// drive passes themselves).
    pub reconcile_interval: Option<Duration>,
    /// Timeouts and the connection cap of the HTTP server.
    pub http: HttpLimits,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            reconcile_interval: Some(Duration::from_secs(30)),
            http: HttpLimits::default(),
        }
    }
}

/// Serves the API on `listener` (the caller binds it; tests bind port 0) and runs the
/// background workers beside it, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = trunkline_core::workers::spawn(&state, options.reconcile_interval, &stop_rx);
    let app = router(state);
    let result = http_server::run(listener, app, options.http, async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    })
    .await;
    for w in workers {
        let _ = w.await;
    }
    result
}
