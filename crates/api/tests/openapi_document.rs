//! The OpenAPI document against the router: every route of the source is a path of the
//! document with exactly the methods the router takes; every operation has a short summary;
//! every error answer is the envelope; enumerated fields carry their current values. The
//! answers themselves are checked against the document by schemathesis
//! (`crates/trunkline/tests/openapi_conformance.rs`).

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::*;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(server: &TestServer) -> Value {
    let (status, doc) = server.send("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    doc
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.clone(), m.to_owned(), op.clone()));
            }
        }
    }
    out
}

/// Every `.route("…"` path written in the API crate's source.
fn routes_in_source() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // `.route(` then, possibly on the next line, the path literal.
            for (at, _) in text.match_indices(".route(") {
                let rest = text[at + ".route(".len()..].trim_start();
                if let Some(literal) = rest.strip_prefix('"') {
                    found.insert(literal[..literal.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn every_route_is_documented_with_the_methods_it_takes() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let doc = document(&server).await;
    let paths = doc["paths"].as_object().unwrap();
    let routes = routes_in_source();
    assert!(
        routes.len() > 30,
        "the route scan found too few: {routes:?}"
    );
    for route in &routes {
        assert!(
            paths.contains_key(route),
            "route {route} is not in /openapi.json"
        );
    }
    // TRACE is documented nowhere, so every path answers it with 405 and its methods.
    for (path, item) in paths {
        let concrete = path
            .replace("{trunk_id}", "ST_00000000000000000000000000000000")
            .replace("{rule_id}", "SDR_00000000000000000000000000000000")
            .replace("{key_id}", "AK_00000000000000000000000000000000")
            .replace("{id}", "X_0");
        let (status, body) = server.send("TRACE", &concrete, None, None).await;
        assert_eq!(status, 405, "TRACE {concrete}: {body}");
        let allowed: BTreeSet<String> = body["data"]["allowed_methods"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {body}"))
            .iter()
            .map(|m| m.as_str().unwrap().to_ascii_lowercase())
            .filter(|m| m != "head")
            .collect();
        let documented: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_string())
            .collect();
        assert_eq!(allowed, documented, "{path}: router vs document");
    }
    server.stop().await;
}

#[tokio::test]
async fn operations_have_summaries_and_error_envelopes() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let doc = document(&server).await;
    let ops = operations(&doc);
    assert!(ops.len() > 40, "{} operations", ops.len());
    let error_schemas = [
        "#/components/schemas/Error",
        "#/components/schemas/ValidationError",
        "#/components/schemas/LimitError",
    ];
    for (path, method, op) in &ops {
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.trim().is_empty() && !summary.contains('\n') && summary.len() <= 90,
            "{method} {path}: the summary must be one short line, got {summary:?}"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.contains_key("400"),
            "{method} {path}: the query guard's 400"
        );
        if op.get("security").is_some() {
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{method} {path}: no 404");
        }
        if op.get("requestBody").is_some() {
            assert!(responses.contains_key("413"), "{method} {path}: no 413");
        }
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"];
            if path == "/ready" {
                continue; // its 503 is the readiness report
            }
            assert!(
                schema["$ref"]
                    .as_str()
                    .is_some_and(|r| error_schemas.contains(&r)),
                "{method} {path} {status}: not the error envelope: {schema}"
            );
        }
    }
    let ids: BTreeSet<&str> = ops
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), ops.len(), "operationIds must be unique");
    let schemas = &doc["components"]["schemas"];
    let error = &schemas["ValidationError"];
    assert_eq!(
        error["required"],
        serde_json::json!(["success", "message", "data"])
    );
    assert!(doc["components"]["responses"]["MethodNotAllowed"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn enumerated_fields_carry_the_values_the_code_uses() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let doc = document(&server).await;
    let schemas = &doc["components"]["schemas"];
    let values = |schema: &str, prop: &str| -> Vec<Value> {
        schemas[schema]["properties"][prop]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{prop} has no enum"))
            .clone()
    };
    let diagnoses = values("TrunkTestResult", "diagnosis");
    for code in [
        "reachable",
        "host_not_found",
        "tls_certificate",
        "target_not_allowed",
    ] {
        assert!(diagnoses.contains(&Value::from(code)), "{code}");
    }
    assert_eq!(
        diagnoses.len(),
        trunkline_sip::Diagnosis::ALL.len(),
        "every diagnosis"
    );
    // Nullable: the last check's diagnosis is absent before the first check.
    assert!(values("TrunkHealth", "last_diagnosis").contains(&Value::Null));
    assert_eq!(
        values("SipTrunkConfigInput", "transport"),
        serde_json::json!(["auto", "udp", "tcp", "tls", null])
            .as_array()
            .unwrap()
            .clone(),
        "optional: null is the default (auto)"
    );
    let call_statuses = values("CallView", "status");
    assert!(call_statuses.contains(&Value::from("ringing")));
    assert!(!call_statuses.contains(&Value::from("claimed")), "internal");
    let trunk_types = values("CreateOutboundTrunk", "trunk_type");
    assert_eq!(trunk_types.len(), 4, "{trunk_types:?}");
    // The seed-002 `lk` files are alternatives of the snake_case bodies.
    for (path, file) in [
        ("/sip/inbound-trunks", "LkInboundTrunkFile"),
        ("/sip/dispatch-rules", "LkDispatchRuleFile"),
    ] {
        let body =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let reference = body["$ref"].as_str().unwrap_or_default();
        let name = reference.rsplit('/').next().unwrap_or_default();
        let one_of = schemas[name]["oneOf"].to_string();
        assert!(one_of.contains(file), "{path}: {body} / {one_of}");
    }
    server.stop().await;
}
