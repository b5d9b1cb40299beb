//! Request extractors whose rejections speak the envelope: a JSON body whose errors name the
//! field, and the tenant behind a bearer API key.

use crate::error::{ApiError, AuthFailure};
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use trunkline_core::sealing::hash_api_key;

/// The largest body any endpoint accepts; a trunk config is a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body. Malformed JSON, a wrong type or an unknown field is a 400 naming the path.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::field(
                    "Content-Type",
                    format!("must be application/json, not {essence:?}: send the body as JSON"),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::field("body", "could not be read: send the whole JSON body")
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A body that must be a JSON object (a PATCH), or the 400 naming `body`.
pub fn json_object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::field("body", "must be a JSON object")),
    }
}

/// A PATCH applied to a resource's current fields, one level deep: `null` removes a field,
/// any other value replaces it. The result is validated whole, as a create would be.
pub fn merge_patch(mut current: Map<String, Value>, patch: Map<String, Value>) -> Value {
    for (k, v) in patch {
        if v.is_null() {
            current.remove(&k);
        } else {
            current.insert(k, v);
        }
    }
    Value::Object(current)
}

/// Parses JSON into `T`, describing any failure by the JSON path where it happened.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", "is empty: send a JSON object"));
    }
    // Every body of this API is an object; serde would also read a struct from an array of
    // its fields in order (`[null, null]`), which no client means.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::field(
            "body",
            "must be a JSON object, not an array",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(de).map_err(|e| describe(e, ""))?;
    Ok(value)
}

/// Deserializes a nested value (already known to be JSON) with paths under `prefix`.
pub fn from_value<T: DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| describe(e, prefix))
}

fn describe(e: serde_path_to_error::Error<serde_json::Error>, prefix: &str) -> ApiError {
    use serde_json::error::Category;
    let inner = e.inner();
    if matches!(
        inner.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ApiError::field("body", format!("is not valid JSON: {inner}"));
    }
    let path = e.path().to_string();
    let field = match (prefix.is_empty(), path == ".") {
        (true, true) => "body".to_owned(),
        (true, false) => path,
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    };
    // serde_json appends " at line L column C", which means nothing once the path is named.
    let mut msg = inner.to_string();
    if let Some(at) = msg.rfind(" at line ") {
        msg.truncate(at);
    }
    ApiError::field(field, plain_words(&msg))
}

/// serde names the Rust type it expected (`expected struct PatchTrunk`, `expected u16`);
/// a client knows JSON types, so those are said in JSON's words.
pub fn plain_words(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(at) = rest.find("expected ") {
        out.push_str(&rest[..at + "expected ".len()]);
        rest = &rest[at + "expected ".len()..];
        let word_end = |s: &str| {
            s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(s.len())
        };
        let first = &rest[..word_end(rest)];
        let (replacement, consumed) = match first {
            "struct" | "enum" => {
                let after = rest[first.len()..].trim_start_matches(' ');
                let skipped = rest.len() - after.len();
                let kind = if first == "struct" {
                    "a JSON object"
                } else {
                    "one of the documented values"
                };
                (kind, skipped + word_end(after))
            }
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
                ("an integer", first.len())
            }
            "f32" | "f64" => ("a number", first.len()),
            "a" if rest.starts_with("a sequence") => ("a JSON array", "a sequence".len()),
            "a" if rest.starts_with("a map") => ("a JSON object", "a map".len()),
            "unit" => ("null", first.len()),
            _ => ("", 0),
        };
        out.push_str(replacement);
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    out
}

/// The tenant a request acts for, from `Authorization: Bearer <api_key>`.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    /// The tenant's trunk-list generation, read after this request arrived, where several
    /// instances share the database (`None` otherwise).
    pub list_generation: Option<i64>,
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let refuse = |why| ApiError::Unauthorized(why);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(refuse(AuthFailure::MissingHeader))?;
        let value = header
            .to_str()
            .map_err(|_| refuse(AuthFailure::MalformedHeader))?;
        let (scheme, key) = value
            .split_once(' ')
            .ok_or(refuse(AuthFailure::MalformedHeader))?;
        let key = key.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
            return Err(refuse(AuthFailure::MalformedHeader));
        }
        if key.len() > 256 {
            return Err(refuse(AuthFailure::UnknownKey));
        }
        let hash = hash_api_key(key);
        match state.tenants.authenticate(&state.store, &hash).await? {
            Some((id, list_generation)) => {
                tracing::Span::current().record("tenant", id.as_str());
                if let Some(slot) = parts.extensions.get::<crate::metrics::TenantSlot>() {
                    let _ = slot.0.set(id.clone());
                }
                trunkline_store::Actor::key_hash(&hash);
                Ok(Tenant {
                    id,
                    list_generation,
                })
            }
            // Only the holder of the key learns it was revoked; nothing names its tenant.
            None if state.store.api_key_revoked(&hash).await? => {
                Err(refuse(AuthFailure::RevokedKey))
            }
            None => Err(refuse(AuthFailure::UnknownKey)),
        }
    }
}

/// The id segment of a path (`/assistants/{id}`, `/call/{id}`). A segment that does not even
/// decode names nothing: 404 in the envelope.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathId(p.0))
            .map_err(|_| ApiError::NotFound("No such resource in this account"))
    }
}

#[cfg(test)]
mod tests {
    use super::plain_words;

    #[test]
    fn serde_type_names_become_json_words() {
        assert_eq!(
            plain_words("invalid type: string \"x\", expected struct PatchTrunk"),
            "invalid type: string \"x\", expected a JSON object"
        );
        assert_eq!(
            plain_words("invalid type: string \"x\", expected u16"),
            "invalid type: string \"x\", expected an integer"
        );
        assert_eq!(
            plain_words("invalid type: map, expected a sequence"),
            "invalid type: map, expected a JSON array"
        );
        assert_eq!(
            plain_words("invalid type: integer `5`, expected a string"),
            "invalid type: integer `5`, expected a string"
        );
        assert_eq!(plain_words("unknown field `x`"), "unknown field `x`");
    }
}
