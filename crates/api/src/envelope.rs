//! The response envelope of seed 000: `{"success", "message", "data"}` on every answer,
//! errors included.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub message: String,
    pub data: T,
}

/// A successful answer: 200 with the envelope.
pub fn ok<T: Serialize>(message: &str, data: T) -> Response {
    (
        StatusCode::OK,
        Json(Envelope {
            success: true,
            message: message.to_owned(),
            data,
        }),
    )
        .into_response()
}
