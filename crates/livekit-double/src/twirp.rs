//! Twirp's wire format as the Go server (twitchtv/twirp v8, generated into livekit/protocol
//! `livekit/livekit_sip.twirp.go`) writes it: error JSON, HTTP status per code, and the
//! protobuf / JSON codecs chosen by Content-Type.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// A Twirp error as it travels: `{"code","msg","meta"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwirpError {
    pub code: String,
    pub msg: String,
    pub meta: BTreeMap<String, String>,
}

impl TwirpError {
    pub fn new(code: &str, msg: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            msg: msg.into(),
            meta: BTreeMap::new(),
        }
    }

    pub fn with_meta(mut self, key: &str, value: impl Into<String>) -> Self {
        self.meta.insert(key.to_owned(), value.into());
        self
    }

    pub fn invalid_argument(msg: impl Into<String>) -> Self {
        Self::new("invalid_argument", msg)
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new("not_found", msg)
    }

    /// A plain Go `error` returned by a handler: LiveKit's `xtwirp.ServerPassErrorDetails`
    /// interceptor turns it into `unknown` (not Twirp's default `internal`).
    pub fn unknown(msg: impl Into<String>) -> Self {
        Self::new("unknown", msg)
    }

    pub fn malformed(msg: impl Into<String>) -> Self {
        Self::new("malformed", msg)
    }

    /// `badRouteError` in the generated server: always carries `twirp_invalid_route` meta.
    pub fn bad_route(msg: impl Into<String>, http_method: &str, path: &str) -> Self {
        Self::new("bad_route", msg)
            .with_meta("twirp_invalid_route", format!("{http_method} {path}"))
    }

    pub fn status(&self) -> u16 {
        http_status(&self.code)
    }

    /// The body Go's `marshalErrorToJSON` writes: fields in struct order, `meta` omitted when
    /// empty, map keys sorted, and `encoding/json`'s HTML-safe escaping of `<`, `>`, `&`.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            msg: &'a str,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            meta: &'a BTreeMap<String, String>,
        }
        let msg = truncate(&self.msg, 1_000_000);
        let json = serde_json::to_string(&Body {
            code: &self.code,
            msg,
            meta: &self.meta,
        })
        .unwrap_or_else(|_| r#"{"code":"internal","msg":"unserializable error"}"#.to_owned());
        go_html_escape(&json)
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.to_json(),
        )
            .into_response()
    }
}

/// `twirp.ServerHTTPStatusFromErrorCode` (twitchtv/twirp `errors.go`). Codes outside the list
/// have no status in Go (it would write 0); 500 is the closest honest answer.
pub fn http_status(code: &str) -> u16 {
    match code {
        "canceled" => 408,
        "unknown" => 500,
        "invalid_argument" => 400,
        "malformed" => 400,
        "deadline_exceeded" => 408,
        "not_found" => 404,
        "bad_route" => 404,
        "already_exists" => 409,
        "permission_denied" => 403,
        "unauthenticated" => 401,
        // Twirp v8 (the version LiveKit pins) answers 429; older Twirp releases said 403.
        "resource_exhausted" => 429,
        "failed_precondition" => 412,
        "aborted" => 409,
        "out_of_range" => 400,
        "unimplemented" => 501,
        "internal" => 500,
        "unavailable" => 503,
        "data_loss" => 500,
        _ => 500,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Go's `encoding/json` escapes these even inside strings; outside strings they never occur
/// in JSON, so a textual replace is exact.
pub fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `%q` (`strconv.Quote`), used by the generated server in its bad_route messages.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The two encodings the generated server accepts (`serveXxx` switches on the media type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Json,
    Protobuf,
}

impl Codec {
    /// Media type before any `;`, trimmed and lower-cased, as the generated code compares it.
    pub fn from_content_type(content_type: &str) -> Option<Codec> {
        let media = content_type.split(';').next().unwrap_or_default();
        match media.trim().to_ascii_lowercase().as_str() {
            "application/json" => Some(Codec::Json),
            "application/protobuf" => Some(Codec::Protobuf),
            _ => None,
        }
    }

    /// Message of the `malformed` error when the body cannot even be read (over the limit).
    pub fn unreadable_body_msg(self) -> &'static str {
        match self {
            Codec::Json => "the json request could not be decoded",
            Codec::Protobuf => "failed to read request body",
        }
    }

    pub fn decode<T>(self, body: &[u8]) -> Result<T, TwirpError>
    where
        T: prost::Message + Default + DeserializeOwned,
    {
        match self {
            Codec::Protobuf => T::decode(body)
                .map_err(|_| TwirpError::malformed("the protobuf request could not be decoded")),
            Codec::Json => {
                // Go reads one JSON value with json.Decoder (trailing bytes are never looked
                // at), then protojson-decodes it with DiscardUnknown; pbjson's impls likewise
                // skip unknown fields and accept both camelCase and proto names.
                let malformed = || TwirpError::malformed("the json request could not be decoded");
                let mut stream =
                    serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
                let value = match stream.next() {
                    Some(Ok(v)) => v,
                    _ => return Err(malformed()),
                };
                serde_json::from_value(value).map_err(|_| malformed())
            }
        }
    }

    pub fn encode<T>(self, msg: &T) -> Response
    where
        T: prost::Message + Serialize,
    {
        match self {
            Codec::Protobuf => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/protobuf")],
                msg.encode_to_vec(),
            )
                .into_response(),
            Codec::Json => match serde_json::to_value(msg) {
                Ok(v) => {
                    let body = serde_json::to_string(&proto_names(v)).unwrap_or_default();
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response()
                }
                Err(e) => {
                    TwirpError::new("internal", format!("failed to marshal json response: {e}"))
                        .into_response()
                }
            },
        }
    }
}

/// Fields of map type in the messages we answer with: their keys are data, not field names.
const MAP_FIELDS: &[&str] = &[
    "headers",
    "headersToAttributes",
    "attributesToHeaders",
    "attributes",
    // `RoomConfiguration.tags`, inside a dispatch rule's `room_config`.
    "tags",
];

/// LiveKit's server marshals JSON with `UseProtoNames` (snake_case); pbjson writes the
/// lowerCamelCase JSON names. Map the keys back, leaving map fields' own keys alone.
fn proto_names(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = if MAP_FIELDS.contains(&k.as_str()) {
                        v
                    } else {
                        proto_names(v)
                    };
                    (camel_to_snake(&k), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(proto_names).collect()),
        other => other,
    }
}

fn camel_to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// LiveKit's answer to a token without the grant a method needs: `ErrPermissionDenied`
/// through `twirpAuthError`, so every grant failure is `unauthenticated`.
pub(crate) fn auth_error() -> TwirpError {
    TwirpError::new("unauthenticated", "permissions denied")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_matches_go() {
        let e = TwirpError::bad_route(
            "no handler for path \"/twirp/livekit.SIP/<X>\"",
            "POST",
            "/p",
        );
        assert_eq!(
            e.to_json(),
            r#"{"code":"bad_route","msg":"no handler for path \"/twirp/livekit.SIP/\u003cX\u003e\"","meta":{"twirp_invalid_route":"POST /p"}}"#
        );
        assert_eq!(
            TwirpError::not_found("x").to_json(),
            r#"{"code":"not_found","msg":"x"}"#
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Codec::from_content_type(" Application/JSON ; charset=utf-8"),
            Some(Codec::Json)
        );
        assert_eq!(
            Codec::from_content_type("application/protobuf"),
            Some(Codec::Protobuf)
        );
        assert_eq!(Codec::from_content_type("application/x-protobuf"), None);
        assert_eq!(Codec::from_content_type(""), None);
    }

    #[test]
    fn snake_case_keys_but_not_map_keys() {
        let v = serde_json::json!({"sipTrunkId": "ST_1", "headers": {"X-Foo": "1"}, "items": [{"authUsername": "u"}]});
        assert_eq!(
            proto_names(v),
            serde_json::json!({"sip_trunk_id": "ST_1", "headers": {"X-Foo": "1"}, "items": [{"auth_username": "u"}]})
        );
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\x01""#);
    }
}
