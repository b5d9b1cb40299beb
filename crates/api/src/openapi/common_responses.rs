//! The error answers, documented once for every operation. Most of them do not come from the
//! handlers but from what wraps every handler — the query-parameter guard (400 on any route),
//! the API-key extractor (401), the JSON body extractor and the body limit (400, 413), the
//! id extractors (404) — so a handler's annotation would only repeat them, and forget some.
//! Every 4xx and 5xx answer is the seed-000 envelope with `success: false`; its `data` depends
//! on the status, and each shape is a component schema here.

use serde_json::json;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr};

/// Error answers whose body a handler documents itself (not the error envelope's `data`).
const OWN_ERROR_BODIES: &[(&str, &str, &str)] = &[("/ready", "get", "503")];

/// The component schemas of the error envelope, by name.
fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    let envelope = |description: &str, data: serde_json::Value| {
        json!({
            "type": "object",
            "description": description,
            "required": ["success", "message", "data"],
            "properties": {
                "success": {"type": "boolean", "enum": [false]},
                "message": {"type": "string", "description": "What went wrong, and what to do about it"},
                "data": data,
            }
        })
    };
    vec![
        (
            "Error",
            envelope(
                "An error answer: the message says what went wrong and what to do",
                json!({"type": "null"}),
            ),
        ),
        (
            "ValidationError",
            envelope(
                "A refused request: `data.errors` names each field (a JSON path, a query parameter or a header) and the rule it broke; null when the message says it all",
                json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/ErrorData"}]}),
            ),
        ),
        (
            "LimitError",
            envelope(
                "A quota or rate limit was reached: `data` names it (quota, limit, current); nothing was created",
                json!({"type": ["object", "null"], "additionalProperties": true}),
            ),
        ),
        (
            "MethodNotAllowedError",
            envelope(
                "The path exists but not with this method: `data.allowed_methods` (and the Allow header) list the methods it takes",
                json!({
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["allowed_methods"],
                            "properties": {"allowed_methods": {"type": "array", "items": {"type": "string"}}}
                        }
                    ]
                }),
            ),
        ),
    ]
}

fn schema_for(status: &str) -> &'static str {
    match status {
        "400" => "ValidationError",
        "405" => "MethodNotAllowedError",
        "429" => "LimitError",
        _ => "Error",
    }
}

fn error_content(status: &str) -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name(schema_for(status)))))
}

fn header(description: &str) -> Header {
    let mut h = Header::new(utoipa::openapi::schema::ObjectBuilder::new().schema_type(
        utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::schema::Type::String),
    ));
    h.description = Some(description.to_owned());
    h
}

/// Adds `status` with `description` unless the handler documents it already.
fn ensure(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(Response::new(description)));
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    let PathItem {
        get,
        put,
        post,
        delete,
        options,
        head,
        patch,
        trace,
        ..
    } = item;
    [
        ("get", get),
        ("put", put),
        ("post", post),
        ("delete", delete),
        ("options", options),
        ("head", head),
        ("patch", patch),
        ("trace", trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// Documents the error answers of every operation (see the module documentation).
pub fn apply(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas() {
        let schema: Schema = serde_json::from_value(schema).expect("a valid schema");
        components.schemas.insert(name.to_owned(), RefOr::T(schema));
    }
    let mut not_allowed = ResponseBuilder::new()
        .description("The path exists but not with this method (any path of this document, with a method it does not list)")
        .content("application/json", error_content("405"))
        .build();
    not_allowed.headers.insert(
        "Allow".into(),
        header("The methods the path takes, e.g. `GET, POST`"),
    );
    components
        .responses
        .insert("MethodNotAllowed".into(), RefOr::T(not_allowed));

    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            ensure(
                op,
                "400",
                "Refused: an unknown query parameter (every route refuses them), or invalid input; `data.errors` names each field and rule",
            );
            if secured {
                ensure(
                    op,
                    "401",
                    "Missing, malformed, unknown or revoked API key: the message says which",
                );
            }
            if path.contains('{') {
                ensure(
                    op,
                    "404",
                    "No such object in this account (the message says when the id was deleted, or is of another kind)",
                );
            }
            if op.request_body.is_some() {
                ensure(op, "413", "Request body over 64 KiB");
            }
            for (status, response) in op.responses.responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                let own = OWN_ERROR_BODIES
                    .iter()
                    .any(|(p, m, s)| p == path && *m == method && s == status);
                let RefOr::T(response) = response else {
                    continue;
                };
                if is_error && !own {
                    response.content.clear();
                    response
                        .content
                        .insert("application/json".into(), error_content(status));
                }
                if status == "429" {
                    response.headers.insert(
                        "Retry-After".into(),
                        header(
                            "Seconds to wait, when waiting helps (rate limits); absent for quotas",
                        ),
                    );
                }
            }
        }
    }
}
