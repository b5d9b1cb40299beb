//! Retiring the previous webhook signing secret at once: after a rotation, deliveries carry a
//! signature with each secret for the overlap; retiring stops the old one immediately.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn the_previous_webhook_secret_can_be_retired_at_once() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let tenant = server
        .store
        .tenant_for_key_hash(&trunkline_core::sealing::hash_api_key(&key))
        .await
        .unwrap()
        .unwrap();

    // Nothing to retire before any rotation.
    let (status, json) = server
        .send("DELETE", "/webhooks/secret/previous", Some(&key), None)
        .await;
    assert_eq!(status, 404, "{json}");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("POST /webhooks/secret"),
        "{json}"
    );

    for _ in 0..2 {
        let (status, json) = server.post("/webhooks/secret", &key, &json!({})).await;
        assert_eq!(status, 200, "{json}");
    }
    let row = server.store.webhook_secret(&tenant).await.unwrap().unwrap();
    assert!(
        row.previous_sealed.is_some(),
        "a rotation keeps the previous secret"
    );

    let (status, json) = server
        .send("DELETE", "/webhooks/secret/previous", Some(&key), None)
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["success"], true);
    let after = server.store.webhook_secret(&tenant).await.unwrap().unwrap();
    assert_eq!(
        after.previous_sealed, None,
        "the previous secret still signs"
    );
    assert_eq!(after.sealed, row.sealed, "the current secret changed");

    // Once retired, a second retire has nothing to do; another tenant's key cannot reach it.
    let (status, _) = server
        .send("DELETE", "/webhooks/secret/previous", Some(&key), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .send("DELETE", "/webhooks/secret/previous", None, None)
        .await;
    assert_eq!(status, 401);
}
