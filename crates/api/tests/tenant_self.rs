//! `GET /me` and `GET /keys`: a key sees its own tenant and keys, never another's.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_key_sees_its_own_tenant_and_keys_only() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let _other = server.tenant("b@example.com").await;
    let (status, me) = server.get("/me", &key).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["email"], "a@example.com");
    assert!(me["data"]["tenant_id"].as_str().unwrap().starts_with("TN_"));
    let (status, keys) = server.get("/keys", &key).await;
    assert_eq!(status, 200, "{keys}");
    let keys = keys["data"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["prefix"], &key[..12]);
    let text = serde_json::to_string(keys).unwrap();
    assert!(!text.contains(&key), "the key itself is never shown again");
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_rotates_its_keys_and_always_keeps_one() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let old = server.tenant("a@example.com").await;
    let other = server.tenant("b@example.com").await;
    let (status, created) = server.post("/keys", &old, &json!({"name": "ci"})).await;
    assert_eq!(status, 200, "{created}");
    let new = created["data"]["api_key"].as_str().unwrap().to_owned();
    let (status, me) = server.get("/me", &new).await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["email"], "a@example.com");
    let (_, keys) = server.get("/keys", &new).await;
    let ids: Vec<String> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        !keys.to_string().contains(&new),
        "the key is shown only once"
    );
    // Another tenant cannot revoke them.
    let (status, _) = server
        .send("DELETE", &format!("/keys/{}", ids[0]), Some(&other), None)
        .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .send("DELETE", &format!("/keys/{}", ids[0]), Some(&new), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.get("/me", &old).await;
    assert_eq!(status, 401);
    let (status, body) = server
        .send("DELETE", &format!("/keys/{}", ids[1]), Some(&new), None)
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = server.get("/me", &new).await;
    assert_eq!(status, 200);
    let (status, body) = server.post("/keys", &new, &json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["data"]["errors"][0]["field"], "name");
    server.stop().await;
}
