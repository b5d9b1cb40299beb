//! HTTP metrics: one tower layer around every route, labelled by the route's template
//! (`/sip/trunks/{trunk_id}`, from axum's `MatchedPath`, never the raw path, so an id never
//! becomes a label) and the status; with tenant labels on
//! (`trunkline_core::metrics::enable_tenant_labels`), the request counter also by the
//! tenant whose key the request carried (`none` without one).

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Where the `Tenant` extractor leaves the tenant a request authenticated as, for the
/// middleware to label the request with once it is answered.
#[derive(Clone, Default)]
pub struct TenantSlot(pub Arc<OnceLock<String>>);

pub const HTTP_REQUESTS: &str = "trunkline_http_requests_total";
pub const HTTP_DURATION: &str = "trunkline_http_request_duration_seconds";

/// Registers the help texts (once, when the recorder is installed).
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template (unmatched for unknown paths) and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's head to its response, by method and route template"
    );
}

/// A method outside the standard set would be a label per client whim.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware (`axum::middleware::from_fn`).
pub async fn record(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let slot = trunkline_core::metrics::tenant_labels_enabled().then(|| {
        let slot = TenantSlot::default();
        req.extensions_mut().insert(slot.clone());
        slot
    });
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    histogram!(HTTP_DURATION, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    match slot {
        Some(slot) => {
            let tenant = slot
                .0
                .get()
                .and_then(|id| trunkline_core::metrics::tenant_label(id))
                .unwrap_or_else(|| "none".to_owned());
            counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status, "tenant" => tenant)
                .increment(1);
        }
        None => {
            counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status)
                .increment(1);
        }
    }
    resp
}
