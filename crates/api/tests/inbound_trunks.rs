//! Inbound trunks against the LiveKit double: both input shapes, every validation rule by
//! field, secrets never shown, and provisioning through PATCH and DELETE. Number conflicts
//! between trunks are in `inbound_number_claims.rs`.

mod support;
use serde_json::{json, Value};
use support::inbound_fixture::*;
use support::*;
use trunkline_livekit::proto;

/// Seed 002's `/tmp/trunk.json`, byte for byte.
const SEED_002_TRUNK: &str = r#"{
  "trunk": {
    "name": "Twilio Inbound SIP Trunk",
    "numbers": [
      "+13074606119"
    ],
    "krispEnabled": true
  }
}"#;

#[tokio::test]
async fn snake_case_create_provisions_livekit_and_never_shows_the_password() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (status, json) = create(&server, &key, &full()).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["success"], true);
    let d = &json["data"];
    let id = d["trunk_id"].as_str().unwrap();
    assert!(id.starts_with("ST_") && id.len() == 35, "{id}");
    assert_eq!(d["provisioning"]["status"], "provisioned");
    assert_eq!(d["provisioning"]["in_sync"], true);
    assert_eq!(
        d["allowed_addresses"],
        json!(["203.0.113.7/32", "198.51.100.0/24"])
    );
    assert_eq!(d["auth_username"], "carrier-a");
    assert_eq!(d["auth_password_set"], true);
    assert!(d.get("auth_password").is_none());
    assert!(!json.to_string().contains(PASSWORD));

    let lk_id = d["livekit_trunk_id"].as_str().unwrap();
    let t = lk.inbound_trunk(lk_id).expect("LiveKit holds the trunk");
    assert_eq!(t.name, "Carrier A");
    assert_eq!(t.numbers, ["+15550100000", "+15550100001"]);
    assert_eq!(t.allowed_addresses, ["203.0.113.7/32", "198.51.100.0/24"]);
    assert_eq!(t.auth_username, "carrier-a");
    assert_eq!(t.auth_password, PASSWORD);
    assert!(t.krisp_enabled);
    assert_eq!(t.ringing_timeout.as_ref().map(|d| d.seconds), Some(30));
    assert_eq!(t.max_call_duration.as_ref().map(|d| d.seconds), Some(3600));
    assert_eq!(
        t.media.as_ref().and_then(|m| m.encryption),
        Some(proto::SipMediaEncryption::SipMediaEncryptAllow as i32)
    );
    assert!(
        t.metadata.contains(id),
        "ownership metadata: {}",
        t.metadata
    );
    let req = lk
        .requests()
        .into_iter()
        .find(|r| r.method == "CreateSIPInboundTrunk")
        .unwrap();
    assert!(req.grants.as_ref().unwrap().sip_admin());

    for path in [
        "/sip/inbound-trunks".to_owned(),
        format!("/sip/inbound-trunks/{id}"),
    ] {
        let (status, json) = server.get(&path, &key).await;
        assert_eq!(status, 200, "{json}");
        assert!(!json.to_string().contains(PASSWORD), "{path}: {json}");
        assert!(json.to_string().contains("\"auth_password_set\":true"));
    }
    server.stop().await;
}

#[tokio::test]
async fn the_password_is_sealed_at_rest() {
    let Env {
        lk: _lk,
        _db: db,
        server,
        key,
    } = env().await;
    created(&server, &key, &full()).await;
    server.stop().await;
    if let Some(file) = db.sqlite_file() {
        let mut bytes = std::fs::read(&file).unwrap();
        for wal in ["-wal", "-shm"] {
            let mut p = file.clone().into_os_string();
            p.push(wal);
            bytes.extend(std::fs::read(p).unwrap_or_default());
        }
        let hay = String::from_utf8_lossy(&bytes);
        assert!(hay.contains("carrier-a"), "the username is stored in clear");
        assert!(!hay.contains(PASSWORD), "the password is not");
    }
}

#[tokio::test]
async fn seed_002_trunk_json_is_accepted_verbatim() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (status, json) = server
        .send(
            "POST",
            "/sip/inbound-trunks",
            Some(&key),
            Some(SEED_002_TRUNK),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    assert_eq!(d["name"], "Twilio Inbound SIP Trunk");
    assert_eq!(d["numbers"], json!(["+13074606119"]));
    assert_eq!(d["krisp_enabled"], true);
    assert_eq!(d["auth_password_set"], false);
    let t = lk
        .inbound_trunk(d["livekit_trunk_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(t.numbers, ["+13074606119"]);
    assert!(t.krisp_enabled);
    assert!(t.auth_username.is_empty() && t.allowed_addresses.is_empty());
    // The lk file's protojson forms too: durations as strings, enum names.
    let (status, json) = create(
        &server,
        &key,
        &json!({"trunk": {"name": "lk", "allowedAddresses": ["192.0.2.1"], "ringingTimeout": "45s",
            "mediaEncryption": "SIP_MEDIA_ENCRYPT_REQUIRE", "authUsername": "u", "authPassword": PASSWORD}}),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["ringing_timeout"], 45);
    assert_eq!(json["data"]["media_encryption"], "required");
    assert!(!json.to_string().contains(PASSWORD));
    server.stop().await;
}

#[tokio::test]
async fn every_rule_is_a_400_naming_the_field_and_nothing_is_stored() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "t"}), "numbers"),
        (json!({"name": "t", "numbers": []}), "numbers"),
        (json!({"numbers": ["+15550100000"]}), "name"),
        (json!({"name": "  ", "numbers": ["+15550100000"]}), "name"),
        (json!({"name": "t", "numbers": ["5550100"]}), "numbers[0]"),
        (
            json!({"name": "t", "numbers": ["+15550100000", "+1 555"]}),
            "numbers[1]",
        ),
        (
            json!({"name": "t", "allowed_addresses": ["not-an-ip"]}),
            "allowed_addresses[0]",
        ),
        (
            json!({"name": "t", "allowed_addresses": ["0.0.0.0/0"]}),
            "allowed_addresses[0]",
        ),
        (
            json!({"name": "t", "numbers": ["+15550100000"], "allowed_numbers": ["x"]}),
            "allowed_numbers[0]",
        ),
        (json!({"name": "t", "auth_username": "u"}), "auth_password"),
        (
            json!({"name": "t", "auth_password": PASSWORD}),
            "auth_username",
        ),
        (
            json!({"name": "t", "auth_username": "u", "auth_password": "a\r\nb"}),
            "auth_password",
        ),
        (
            json!({"name": "t", "numbers": ["+15550100000"], "ringing_timeout": 0}),
            "ringing_timeout",
        ),
        (
            json!({"name": "t", "numbers": ["+15550100000"], "max_call_duration": 999999}),
            "max_call_duration",
        ),
        (
            json!({"name": "t", "numbers": ["+15550100000"], "media_encryption": "on"}),
            "media_encryption",
        ),
        (
            json!({"name": "t", "numbers": ["+15550100000"], "krisp_enabled": "yes"}),
            "krisp_enabled",
        ),
        (
            json!({"name": "t", "numbers": ["+15550100000"], "colour": "red"}),
            "colour",
        ),
        (json!({"trunk": {"name": "t"}}), "trunk.numbers"),
        (
            json!({"trunk": {"name": "t", "numbers": ["+15550100000"], "ringingTimeout": "30"}}),
            "trunk.ringingTimeout",
        ),
        (
            json!({"trunk": {"name": "t", "numbers": ["+15550100000"], "headers": {}}}),
            "trunk.headers",
        ),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (status, json) = create(&server, &key, &body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["success"], false);
        let fields: Vec<&str> = json["data"]["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}: {json}"))
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: want {field}, got {json}");
        assert!(json["message"].as_str().unwrap().contains(field), "{json}");
        assert!(!json.to_string().contains(PASSWORD), "{json}");
    }
    let (status, json) = server.get("/sip/inbound-trunks", &key).await;
    assert_eq!(status, 200);
    assert_eq!(json["data"]["trunks"], json!([]));
    assert!(lk.inbound_trunks().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn patch_and_delete_round_trip_through_livekit() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (id, lk_id) = created(&server, &key, &full()).await;
    let path = format!("/sip/inbound-trunks/{id}");
    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"name": "Carrier A (new)", "numbers": ["+15550100002"], "krisp_enabled": false}"#),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["numbers"], json!(["+15550100002"]));
    assert_eq!(json["data"]["auth_password_set"], true);
    assert_eq!(json["data"]["provisioning"]["in_sync"], true);
    assert!(!json.to_string().contains(PASSWORD));
    let t = lk.inbound_trunk(&lk_id).unwrap();
    assert_eq!(t.name, "Carrier A (new)");
    assert_eq!(t.numbers, ["+15550100002"]);
    assert!(!t.krisp_enabled);
    assert_eq!(t.auth_password, PASSWORD, "the sealed password was kept");
    assert_eq!(t.allowed_addresses.len(), 2);

    // The numbers it gave up are free again; the one it took is not.
    let other = server.tenant("other@example.com").await;
    created(
        &server,
        &other,
        &json!({"name": "o", "numbers": ["+15550100000"]}),
    )
    .await;
    let (status, _) = create(
        &server,
        &other,
        &json!({"name": "o", "numbers": ["+15550100002"]}),
    )
    .await;
    assert_eq!(status, 409);

    // null clears; the result is validated as a whole.
    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"auth_password": null}"#),
        )
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "auth_password");
    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"auth_username": null, "auth_password": null, "ringing_timeout": null}"#),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["auth_password_set"], false);
    assert_eq!(json["data"]["ringing_timeout"], Value::Null);
    let t = lk.inbound_trunk(&lk_id).unwrap();
    assert!(t.auth_username.is_empty() && t.auth_password.is_empty());
    assert!(t.ringing_timeout.is_none());
    let (status, json) = server
        .send("PATCH", &path, Some(&key), Some(r#"{"numbers": ["bad"]}"#))
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "numbers[0]");
    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"trunk_type": "twilio"}"#),
        )
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(lk.inbound_trunk(&lk_id).unwrap().numbers, ["+15550100002"]);

    let (status, json) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["trunk_id"], id);
    assert!(lk.inbound_trunk(&lk_id).is_none());
    assert_eq!(lk.inbound_trunks().len(), 1, "only the other account's");
    let (status, _) = server.get(&path, &key).await;
    assert_eq!(status, 404);
    let (status, _) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 404);
    created(
        &server,
        &other,
        &json!({"name": "o2", "numbers": ["+15550100002"]}),
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn livekit_down_on_patch_or_delete_is_a_503_and_nothing_changes() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (id, lk_id) = created(&server, &key, &full()).await;
    let path = format!("/sip/inbound-trunks/{id}");
    let (_, before) = server.get(&path, &key).await;

    lk.fail_next("unavailable", "sip not connected");
    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"name": "x", "numbers": ["+15550100005"]}"#),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    let (_, after) = server.get(&path, &key).await;
    assert_eq!(before, after);
    assert_eq!(lk.inbound_trunk(&lk_id).unwrap().name, "Carrier A");
    // The number the failed PATCH wanted was not kept claimed.
    let other = server.tenant("other@example.com").await;
    created(
        &server,
        &other,
        &json!({"name": "o", "numbers": ["+15550100005"]}),
    )
    .await;

    lk.fail_next("unavailable", "sip not connected");
    let (status, json) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 503, "{json}");
    let (status, after) = server.get(&path, &key).await;
    assert_eq!(status, 200);
    assert_eq!(before, after);
    assert!(lk.inbound_trunk(&lk_id).is_some());

    // And really down: the double stops listening.
    let url = lk.url();
    let handle = lk.clone();
    lk.shutdown().await;
    let (status, json) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 503, "{json}");
    assert!(json["message"].as_str().unwrap().contains(&url), "{json}");
    let (status, after) = server.get(&path, &key).await;
    assert_eq!(status, 200);
    assert_eq!(before, after);
    assert!(handle.inbound_trunk(&lk_id).is_some());
    server.stop().await;
}

#[tokio::test]
async fn livekit_refusals_keep_nothing() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    lk.fail_next(
        "invalid_argument",
        "for security, one of the fields must be set",
    );
    let (status, json) = create(
        &server,
        &key,
        &json!({"name": "t", "numbers": ["+15550100000"]}),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("for security"),
        "{json}"
    );
    assert!(lk.inbound_trunks().is_empty());
    // The number was released with the refused trunk.
    created(
        &server,
        &key,
        &json!({"name": "t", "numbers": ["+15550100000"]}),
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn without_livekit_trunks_are_stored_unprovisioned() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, json) = server
        .send(
            "POST",
            "/sip/inbound-trunks",
            Some(&key),
            Some(SEED_002_TRUNK),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["provisioning"]["status"], "unprovisioned");
    assert_eq!(json["data"]["livekit_trunk_id"], Value::Null);
    let id = json["data"]["trunk_id"].as_str().unwrap().to_owned();
    // Conflicts hold without LiveKit too.
    let (status, _) = server
        .send(
            "POST",
            "/sip/inbound-trunks",
            Some(&key),
            Some(SEED_002_TRUNK),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn unknown_ids_and_missing_keys() {
    let Env {
        lk: _lk,
        server,
        key,
        _db,
    } = env().await;
    for id in ["ST_0123456789abcdef0123456789abcdef", "nope", "%FF"] {
        let (status, json) = server.get(&format!("/sip/inbound-trunks/{id}"), &key).await;
        assert_eq!(status, 404, "{id}: {json}");
        assert_eq!(json["success"], false);
    }
    let (status, _) = server.send("GET", "/sip/inbound-trunks", None, None).await;
    assert_eq!(status, 401);
    // An outbound trunk is not an inbound one.
    let outbound = server.create(&key, &seed_twilio()).await;
    let (status, _) = server
        .get(&format!("/sip/inbound-trunks/{outbound}"), &key)
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}
