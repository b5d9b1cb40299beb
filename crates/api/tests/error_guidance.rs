//! Errors that say what to do: why a key was refused, what a wrong id is, which methods a
//! path takes, and JSON mistakes reported in `data.errors`.

mod support;
use serde_json::{json, Value};
use support::*;
use trunkline_core::sealing::hash_api_key;

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_401_says_whether_the_key_is_missing_malformed_unknown_or_revoked() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;

    let (status, body) = server.send("GET", "/sip/list", None, None).await;
    assert_eq!(status, 401);
    assert!(message(&body).starts_with("Missing API key"), "{body}");

    let resp = server
        .http
        .get(format!("{}/sip/list", server.url))
        .header("Authorization", key.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(
        message(&body).starts_with("Malformed Authorization header"),
        "{body}"
    );

    let unknown = "tlk_0000000000000000000000000000000000000000000";
    let (status, body) = server.send("GET", "/sip/list", Some(unknown), None).await;
    assert_eq!(status, 401);
    assert!(message(&body).starts_with("Unknown API key"), "{body}");

    // Revoke the key (as `trunkline keys revoke` does): its holder is told so.
    let record = server
        .store
        .list_api_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.email == "a@example.com")
        .unwrap();
    assert!(server.store.revoke_api_key(&record.id).await.unwrap());
    assert!(server
        .store
        .api_key_revoked(&hash_api_key(&key))
        .await
        .unwrap());
    let (status, body) = server.send("GET", "/sip/list", Some(&key), None).await;
    assert_eq!(status, 401);
    assert!(message(&body).contains("was revoked"), "{body}");
    assert!(!message(&body).contains("a@example.com"));
    server.stop().await;
}

#[tokio::test]
async fn json_mistakes_fill_data_errors_without_rust_type_names() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await;
    for (method, path, body, field) in [
        ("POST", "/sip/create-outbound-trunk", "", "body"),
        ("POST", "/sip/create-outbound-trunk", "{", "body"),
        (
            "PATCH",
            &format!("/sip/trunks/{id}") as &str,
            "\"x\"",
            "body",
        ),
        ("PATCH", &format!("/sip/trunks/{id}"), "true", "body"),
    ] {
        let (status, json) = server.send(method, path, Some(&key), Some(body)).await;
        assert_eq!(status, 400, "{body} -> {json}");
        assert_eq!(
            json["data"]["errors"][0]["field"], field,
            "{body} -> {json}"
        );
        let text = json.to_string();
        for rust in [
            "struct",
            "PatchTrunk",
            "CreateOutboundTrunk",
            "a sequence",
            "a map",
        ] {
            assert!(!text.contains(rust), "{body} -> {text}");
        }
    }
    let resp = server
        .http
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "text/plain")
        .body(seed_twilio().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["data"]["errors"][0]["field"], "Content-Type", "{json}");
    server.stop().await;
}

#[tokio::test]
async fn an_id_of_the_wrong_kind_or_a_deleted_one_is_named_as_such() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let other = server.tenant("b@example.com").await;

    let (status, body) = server.get("/sip/trunks/ST_6QgpXzKc3vBm", &key).await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("LiveKit trunk id"), "{body}");

    let id = server.create(&key, &seed_twilio()).await;
    let (status, _) = server
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.get(&format!("/sip/trunks/{id}"), &key).await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("was deleted"), "{body}");
    // Another tenant learns nothing about it.
    let (status, body) = server.get(&format!("/sip/trunks/{id}"), &other).await;
    assert_eq!(status, 404);
    assert!(!message(&body).contains("deleted"), "{body}");

    let (status, body) = server
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "in", "numbers": ["+15550100777"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let inbound = body["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (status, body) = server.get(&format!("/sip/trunks/{inbound}"), &key).await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("is an inbound trunk"), "{body}");
    let live = server.create(&key, &seed_twilio()).await;
    let (status, body) = server
        .get(&format!("/sip/inbound-trunks/{live}"), &key)
        .await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("is an outbound trunk"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_405_names_the_allowed_methods() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let resp = server
        .http
        .put(format!("{}/sip/list", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(message(&body).contains("GET"), "{body}");
    assert!(body["data"]["allowed_methods"]
        .as_array()
        .unwrap()
        .contains(&json!("GET")));
    server.stop().await;
}

#[tokio::test]
async fn the_livekit_webhook_401_speaks_of_livekits_signature() {
    let db = TestDb::fresh().await;
    let lk = livekit_double::LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let resp = server
        .http
        .post(format!("{}/livekit/webhook", server.url))
        .header("Content-Type", "application/webhook+json")
        .header("Authorization", "not-a-jwt")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(
        message(&body).contains("LiveKit webhook signature"),
        "{body}"
    );
    assert!(!message(&body).contains("<api_key>"), "{body}");
    server.stop().await;
}

/// serde reads a struct from an array of its fields in order; a client sending an array
/// meant no such thing, and nothing may be created or changed from it.
#[tokio::test]
async fn an_array_body_is_refused_where_an_object_is_expected() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let trunk = json!(["Twilio Production", "sip", {"address": "sip.example.com", "numbers": ["+15550100000"]}]);
    let (status, body) = server
        .send(
            "POST",
            "/sip/create-outbound-trunk",
            Some(&key),
            Some(&trunk.to_string()),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "body", "{body}");
    assert!(server.list_ids(&key).await.is_empty());

    let id = server.create(&key, &seed_twilio()).await;
    let (status, body) = server
        .send(
            "PUT",
            &format!("/sip/trunks/{id}/call-limits"),
            Some(&key),
            Some(" [null, null]"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("not an array"), "{body}");
    server.stop().await;
}
