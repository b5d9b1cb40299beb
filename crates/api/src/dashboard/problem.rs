//! Pages for what went wrong: a missing (or another account's) object is a 404 page like any
//! unknown address; a form from another site or with an expired token is a 403; an upstream
//! outage says so; our own faults are logged and shown as one sentence.

use super::layout::{self, Nav};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use trunkline_core::ServiceError;
use trunkline_store::StoreError;

#[derive(Debug)]
pub enum PageError {
    NotFound,
    /// The CSRF token or the Origin did not match.
    Forbidden,
    /// The body was not a form.
    BadForm(&'static str),
    Service(ServiceError),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(_) => Self::NotFound,
            other => Self::Service(other),
        }
    }
}

fn problem(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/" { "Go to the overview" } }
    };
    layout::respond(status, layout::page(title, None, Nav::None, body))
}

/// What a service error says on a page, when it is not about one field.
pub fn sentence(e: &ServiceError) -> String {
    match e {
        ServiceError::Internal { context } => {
            tracing::error!(context = %context, "dashboard request failed");
            "Something went wrong on our side; it was logged. Try again in a moment.".to_owned()
        }
        ServiceError::QuotaExceeded(q) => q.to_string(),
        other => other.to_string(),
    }
}

/// A refused form's errors: by field (through `by_field`) when the input was wrong, else one
/// sentence about the whole form.
pub fn form_errors<E: Default>(
    e: &ServiceError,
    by_field: impl FnOnce(&trunkline_domain::ValidationErrors) -> E,
) -> (E, Option<String>) {
    match e {
        ServiceError::Invalid(v) => (by_field(v), None),
        other => (E::default(), Some(sentence(other))),
    }
}

/// The status a page answers a service error with (for browsers without htmx, and tests).
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Invalid(_) | ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::BadGateway(_) => StatusCode::BAD_GATEWAY,
        ServiceError::QuotaExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => not_found(),
            Self::Forbidden => problem(
                StatusCode::FORBIDDEN,
                "This form could not be accepted",
                "It came from another site, or the page was open from an earlier session. Go back, reload the page, and submit it again.",
            ),
            Self::BadForm(why) => problem(StatusCode::BAD_REQUEST, "This form could not be read", why),
            Self::Service(e) => problem(status_of(&e), "That did not work", &sentence(&e)),
        }
    }
}

/// The same page for a missing object, another account's object, and an unknown address.
pub fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address in your account. Check the link, or start from the overview.",
    )
}

pub async fn not_found_page() -> Response {
    not_found()
}
