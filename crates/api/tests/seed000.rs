//! Seed 000's examples sent verbatim, and its wire contract: paths, field names, envelope,
//! status codes.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn twilio_example_creates_a_trunk_with_the_seed_response() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, body) = server
        .post("/sip/create-outbound-trunk", &key, &seed_twilio())
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(
        body["message"],
        "Outbound trunk created successfully, Store the trunk id securely."
    );
    let id = body["data"]["trunk_id"].as_str().unwrap();
    assert!(id.starts_with("ST_") && id.len() == 35, "{id}");
    // LiveKit is not configured here: the API says the trunk is stored, not provisioned.
    assert_eq!(body["data"]["status"], "unprovisioned");
    server.stop().await;
}

#[tokio::test]
async fn exotel_example_creates_a_trunk() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, body) = server
        .post("/sip/create-outbound-trunk", &key, &seed_exotel())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "awaiting_bridge");
    server.stop().await;
}

#[tokio::test]
async fn list_has_exactly_the_seed_fields_in_creation_order() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let first = server.create(&key, &seed_twilio()).await;
    let second = server.create(&key, &seed_exotel()).await;
    let (status, body) = server.get("/sip/list", &key).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "SIP trunks retrieved successfully");
    let items = body["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["trunk_id"], first.as_str());
    assert_eq!(items[1]["trunk_id"], second.as_str());
    assert_eq!(items[0]["trunk_name"], "Twilio Production");
    assert_eq!(items[0]["trunk_type"], "twilio");
    assert_eq!(items[1]["trunk_name"], "Exotel India");
    assert_eq!(items[1]["trunk_type"], "exotel");
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["trunk_created_at", "trunk_id", "trunk_name", "trunk_type"]
        );
        let at = item["trunk_created_at"].as_str().unwrap();
        // Seed 000's format, in UTC: 2024-01-15T10:00:00.000000
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
        );
        let parsed =
            time::PrimitiveDateTime::parse(at, &format).unwrap_or_else(|e| panic!("{at}: {e}"));
        let age = time::OffsetDateTime::now_utc() - parsed.assume_utc();
        assert!(
            age >= time::Duration::ZERO && age < time::Duration::minutes(5),
            "{at} is not UTC now"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_empty_list_is_an_empty_array() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, body) = server.get("/sip/list", &key).await;
    assert_eq!((status, body["data"].clone()), (200, json!([])));
    server.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_bearer_token_is_401_in_the_envelope() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let body = seed_twilio().to_string();
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        ("GET", "/sip/list", None),
        ("GET", "/sip/list", Some("tlk_wrong".into())),
        ("POST", "/sip/create-outbound-trunk", None),
        (
            "POST",
            "/sip/create-outbound-trunk",
            Some(format!("{key}x")),
        ),
    ];
    for (method, path, k) in cases {
        let (status, json) = server
            .send(
                method,
                path,
                k.as_deref(),
                Some(body.as_str()).filter(|_| method == "POST"),
            )
            .await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(json["success"], false);
        assert!(json["message"].as_str().unwrap().contains("API key"));
    }
    // Other schemes and malformed headers are refused the same way.
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", &key, "Token abc"] {
        let resp = server
            .http
            .get(format!("{}/sip/list", server.url))
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{header}");
    }
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let resp = server
        .http
        .get(format!("{}/sip/list", server.url))
        .header("Authorization", format!("bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        server.list_ids(&key).await.is_empty(),
        "unauthorized creates stored nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_envelope() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, json) = server.send("GET", "/sip/nope", Some(&key), None).await;
    assert_eq!((status, json["success"].clone()), (404, json!(false)));
    // A path segment that does not even decode is an unknown trunk, not a plain-text error.
    let (status, json) = server
        .send("GET", "/sip/trunks/%FF%FE", Some(&key), None)
        .await;
    assert_eq!((status, json["success"].clone()), (404, json!(false)));
    let (status, json) = server.send("DELETE", "/sip/list", Some(&key), None).await;
    assert_eq!((status, json["success"].clone()), (405, json!(false)));
    server.stop().await;
}

#[tokio::test]
async fn health_ready_and_openapi() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let (status, json) = server.send("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{json}");
    let (status, json) = server.send("GET", "/ready", None, None).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["database"], "ok");
    assert_eq!(json["data"]["livekit"], "not_configured");
    let (status, doc) = server.send("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/sip/create-outbound-trunk", "post"),
        ("/sip/list", "get"),
        ("/sip/trunks/{trunk_id}", "get"),
        ("/sip/trunks/{trunk_id}", "patch"),
        ("/sip/trunks/{trunk_id}", "delete"),
        ("/sip/deactivate/{trunk_id}", "delete"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "CreateOutboundTrunk",
        "TrunkListItem",
        "TrunkDetails",
        "SipTrunkConfigInput",
        "ExotelConfigInput",
        "PatchTrunk",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    server.stop().await;
}
