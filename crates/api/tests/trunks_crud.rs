//! Details, PATCH and DELETE of trunks, tenant isolation, and a restart.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn details_show_config_without_secrets() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await;
    let (status, json) = server.get(&format!("/sip/trunks/{id}"), &key).await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    assert_eq!(d["trunk_id"], id.as_str());
    assert_eq!(d["trunk_name"], "Twilio Production");
    assert_eq!(d["trunk_config"]["address"], "example.pstn.twilio.com");
    assert_eq!(
        d["trunk_config"]["username"],
        "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    );
    assert_eq!(d["trunk_config"]["password_set"], true);
    assert!(d["trunk_config"].get("password").is_none());
    assert_eq!(d["livekit_trunk_id"], serde_json::Value::Null);
    assert_eq!(d["provisioning"]["status"], "unprovisioned");
    assert!(d["provisioning"]["detail"]
        .as_str()
        .unwrap()
        .contains("LIVEKIT_URL"));
    server.stop().await;
}

#[tokio::test]
async fn patch_changes_only_what_it_names_and_validates_the_result() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await;
    let path = format!("/sip/trunks/{id}");
    let patch = json!({"trunk_name": "Renamed", "trunk_config": {"numbers": ["+15550100009"], "transport": "tcp"}});
    let (status, json) = server
        .send("PATCH", &path, Some(&key), Some(&patch.to_string()))
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["trunk_name"], "Renamed");
    assert_eq!(
        json["data"]["trunk_config"]["numbers"],
        json!(["+15550100009"])
    );
    assert_eq!(json["data"]["trunk_config"]["transport"], "tcp");
    assert_eq!(
        json["data"]["trunk_config"]["address"],
        "example.pstn.twilio.com"
    );
    assert_eq!(json["data"]["trunk_config"]["password_set"], true);

    for (bad, field) in [
        (
            json!({"trunk_config": {"numbers": []}}),
            "trunk_config.numbers",
        ),
        (
            json!({"trunk_config": {"address": "a@b"}}),
            "trunk_config.address",
        ),
        (
            json!({"trunk_config": {"password": null}}),
            "trunk_config.password",
        ),
        (json!({"trunk_type": "exotel"}), "trunk_type"),
        (json!({"trunk_name": ""}), "trunk_name"),
        (
            json!({"trunk_config": {"exotel_number": "+918044319240"}}),
            "trunk_config.exotel_number",
        ),
        (json!({"nope": 1}), "nope"),
    ] {
        let (status, json) = server
            .send("PATCH", &path, Some(&key), Some(&bad.to_string()))
            .await;
        assert_eq!(status, 400, "{bad} -> {json}");
        assert!(
            json["message"].as_str().unwrap().contains(field),
            "{bad} -> {json}"
        );
    }
    let (_, json) = server.get(&path, &key).await;
    assert_eq!(
        json["data"]["trunk_name"], "Renamed",
        "rejected patches changed nothing"
    );
    assert_eq!(
        json["data"]["trunk_config"]["numbers"],
        json!(["+15550100009"])
    );
    server.stop().await;
}

#[tokio::test]
async fn delete_deactivates_once_then_404_on_both_paths() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let a = server.create(&key, &seed_twilio()).await;
    let b = server.create(&key, &seed_exotel()).await;
    let (status, json) = server
        .send("DELETE", &format!("/sip/trunks/{a}"), Some(&key), None)
        .await;
    assert_eq!((status, json["data"]["trunk_id"].clone()), (200, json!(a)));
    let (status, _) = server
        .send("DELETE", &format!("/sip/trunks/{a}"), Some(&key), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .send("DELETE", &format!("/sip/deactivate/{b}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .send("DELETE", &format!("/sip/deactivate/{b}"), Some(&key), None)
        .await;
    assert_eq!(status, 404);
    assert!(server.list_ids(&key).await.is_empty());
    let (status, _) = server.get(&format!("/sip/trunks/{a}"), &key).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn tenants_never_see_or_touch_each_others_trunks() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let alice = server.tenant("alice@example.com").await;
    let bob = server.tenant("bob@example.com").await;
    let alices = server.create(&alice, &seed_twilio()).await;
    let bobs = server.create(&bob, &seed_exotel()).await;
    assert_eq!(server.list_ids(&alice).await, vec![alices.clone()]);
    assert_eq!(server.list_ids(&bob).await, vec![bobs.clone()]);

    let missing = "ST_0123456789abcdef0123456789abcdef";
    for path in [
        format!("/sip/trunks/{alices}"),
        format!("/sip/trunks/{missing}"),
        "/sip/trunks/garbage".to_owned(),
    ] {
        let (s1, j1) = server.get(&path, &bob).await;
        assert_eq!(s1, 404, "{path}");
        let (s2, j2) = server
            .send(
                "PATCH",
                &path,
                Some(&bob),
                Some(r#"{"trunk_name":"pwned"}"#),
            )
            .await;
        assert_eq!(s2, 404, "{path}");
        let (s3, j3) = server.send("DELETE", &path, Some(&bob), None).await;
        assert_eq!(s3, 404, "{path}");
        // Another tenant's trunk and a missing one are indistinguishable.
        let (_, miss) = server.get(&format!("/sip/trunks/{missing}"), &bob).await;
        assert_eq!(j1["message"], miss["message"]);
        assert_eq!(j2["message"], miss["message"]);
        assert_eq!(j3["message"], miss["message"]);
    }
    let (_, json) = server.get(&format!("/sip/trunks/{alices}"), &alice).await;
    assert_eq!(
        json["data"]["trunk_name"], "Twilio Production",
        "bob's attempts changed nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_revoked_key_stops_working_and_a_second_key_sees_the_same_tenant() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let first = server.tenant("ops@example.com").await;
    let second = server.tenant("ops@example.com").await;
    let id = server.create(&first, &seed_twilio()).await;
    assert_eq!(server.list_ids(&second).await, vec![id]);
    let keys = server.store.list_api_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].tenant_id, keys[1].tenant_id);
    assert!(server.store.revoke_api_key(&keys[0].id).await.unwrap());
    let (status, _) = server.get("/sip/list", &first).await;
    assert_eq!(status, 401);
    let (status, _) = server.get("/sip/list", &second).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let ids = vec![
        server.create(&key, &seed_twilio()).await,
        server.create(&key, &seed_exotel()).await,
    ];
    let (_, before) = server.get(&format!("/sip/trunks/{}", ids[0]), &key).await;
    server.stop().await;

    let server = TestServer::start(&db, LiveKit::None).await;
    assert_eq!(server.list_ids(&key).await, ids);
    let (_, after) = server.get(&format!("/sip/trunks/{}", ids[0]), &key).await;
    assert_eq!(before, after);
    // Sealed secrets still open after the restart: a PATCH re-reads them.
    let (status, json) = server
        .send(
            "PATCH",
            &format!("/sip/trunks/{}", ids[0]),
            Some(&key),
            Some(r#"{"trunk_name":"again"}"#),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["trunk_config"]["password_set"], true);
    server.stop().await;
}
