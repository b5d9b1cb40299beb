//! The dashboard's static files, compiled into the binary: the vendored htmx (see
//! `assets/README.md` for its origin and license) and the stylesheet. Their names carry a
//! version, so they are cached for a long time.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const HTMX: &str = "/ui/assets/htmx-2.0.11.min.js";
pub const CSS: &str = "/ui/assets/dashboard-2.css";

const HTMX_JS: &str = include_str!("assets/htmx-2.0.11.min.js");
const DASHBOARD_CSS: &str = include_str!("assets/dashboard.css");
const HTMX_LICENSE: &str = include_str!("assets/LICENSE-htmx");

pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx-2.0.11.min.js" => (HTMX_JS, "text/javascript; charset=utf-8"),
        "dashboard-2.css" => (DASHBOARD_CSS, "text/css; charset=utf-8"),
        "LICENSE-htmx.txt" => (HTMX_LICENSE, "text/plain; charset=utf-8"),
        _ => return super::problem::not_found_page().await,
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
