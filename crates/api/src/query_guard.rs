//! Unknown query parameters are refused on every route, with a 400 naming the parameter: a
//! misspelt `limt=5` must not silently return the default page. Each route's parameters are
//! listed here, in one table.

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use trunkline_domain::ValidationErrors;

/// The query parameters each route takes; a route not listed takes none.
const PARAMETERS: &[(&str, &[&str])] = &[
    (
        "/calls",
        &["status", "trunk_id", "assistant_id", "limit", "cursor"],
    ),
    ("/sip/outbound-trunks", &["limit", "cursor"]),
    (
        "/provider-accounts/{id}/events",
        &["limit", "cursor", "call_sid"],
    ),
    ("/sip/inbound-trunks", &["limit", "cursor"]),
    ("/sip/dispatch-rules", &["limit", "cursor"]),
    ("/assistants", &["limit", "cursor"]),
    ("/audit", &["object_kind", "object_id", "limit", "cursor"]),
    ("/config/import", &["dry_run"]),
    // Redirected to /sip/outbound-trunks with its query.
    ("/sip/trunks", &["limit", "cursor"]),
];

fn accepted(route: &str) -> &'static [&'static str] {
    PARAMETERS
        .iter()
        .find(|(r, _)| *r == route)
        .map_or(&[], |(_, p)| p)
}

pub async fn refuse_unknown_parameters(req: Request, next: Next) -> Response {
    let (Some(query), Some(route)) = (req.uri().query(), req.extensions().get::<MatchedPath>())
    else {
        return next.run(req).await;
    };
    // A Twilio webhook's query is whatever URL the account configured, and its signature
    // covers it (`bodySHA256` among others).
    if route.as_str().starts_with("/twilio/") {
        return next.run(req).await;
    }
    let allowed = accepted(route.as_str());
    let mut errors = ValidationErrors::default();
    for (name, _) in form_urlencoded::parse(query.as_bytes()) {
        if !allowed.contains(&name.as_ref()) && !errors.0.iter().any(|e| e.field == name) {
            let rule = if route.as_str() == "/sip/list" {
                "is not a query parameter of /sip/list, which returns every trunk; for pages use GET /sip/outbound-trunks?limit=…&cursor=…".to_owned()
            } else if allowed.is_empty() {
                format!(
                    "is not a query parameter of {}: it takes none",
                    route.as_str()
                )
            } else {
                format!(
                    "is not a query parameter of {}: it takes {}",
                    route.as_str(),
                    allowed.join(", ")
                )
            };
            errors.push(name.into_owned(), rule);
        }
    }
    if errors.is_empty() {
        next.run(req).await
    } else {
        ApiError::from(errors).into_response()
    }
}
