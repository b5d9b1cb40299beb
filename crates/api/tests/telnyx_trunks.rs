//! `POST /sip/create-outbound-trunk` with a Telnyx provider account: the Telnyx side (an
//! outbound voice profile, a credential connection with a generated credential linked to it,
//! the numbers routed to it) made in the Telnyx double, then LiveKit's outbound trunk to
//! sip.telnyx.com with that credential in the LiveKit double; a PATCH of the numbers goes to
//! Telnyx first; a delete removes exactly what was made; an outage or a failure part-way on
//! either side leaves nothing made.

mod support;

use livekit_double::LiveKitDouble;
use provider_doubles::Fault;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::telnyx_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

#[tokio::test]
async fn both_sides_are_made_changed_and_deleted_exactly() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let n1 = e.telnyx.add_number("+13125550101");
    // A connection trunkline did not make, to be left alone.
    let (status, theirs) = e
        .telnyx_call(
            "POST",
            "/v2/credential_connections",
            Some(json!({"connection_name": "theirs", "user_name": "theirs01", "password": "their-password"})),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    let theirs = s(&theirs["data"]["id"]);

    let d = e.automated_trunk(&["+13125550100"]).await;
    assert_eq!(d["status"], "provisioned", "{d}");
    let p = &d["provider"];
    assert_eq!(p["provider"], "telnyx", "{d}");
    assert_eq!(p["connection_type"], "credential", "{d}");
    assert_eq!(p["sip_address"], "sip.telnyx.com", "{d}");
    assert!(p.get("twilio_trunk_sid").is_none(), "{d}");
    let trunk_id = s(&d["trunk_id"]);
    let conn_id = s(&p["telnyx_connection_id"]);
    let ovp_id = s(&p["outbound_voice_profile_id"]);
    let pt = s(&p["provider_trunk_id"]);

    // Telnyx: the profile and the connection, both marked, linked; the number routed to it.
    let conn = e.object("credential_connections", &conn_id).unwrap();
    assert_eq!(conn["connection_name"], format!("trunkline {pt}"));
    assert_eq!(
        conn["outbound"]["outbound_voice_profile_id"],
        ovp_id.as_str()
    );
    let ovp = e.object("outbound_voice_profiles", &ovp_id).unwrap();
    assert_eq!(ovp["name"], format!("trunkline {pt}"));
    let user = s(&conn["user_name"]);
    let password = s(&conn["password"]);
    assert!((4..=32).contains(&user.len()) && user.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(e.number_connection(&n0), json!(conn_id));
    assert_eq!(e.number_connection(&n1), Value::Null);
    assert!(!d.to_string().contains(&password), "{d}");

    // LiveKit: the outbound trunk dials Telnyx with that credential.
    let lk_id = s(&d["livekit_trunk_id"]);
    let lk_trunk = lk.outbound_trunk(&lk_id).unwrap();
    assert_eq!(lk_trunk.address, "sip.telnyx.com");
    assert_eq!(lk_trunk.auth_username, user);
    assert_eq!(lk_trunk.auth_password, password);
    assert_eq!(lk_trunk.numbers, ["+13125550100"]);

    // GET shows the provider side with Telnyx's ids, never the password.
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["provider"]["telnyx_connection_id"], conn_id.as_str());
    assert_eq!(
        shown["provider"]["outbound_voice_profile_id"],
        ovp_id.as_str()
    );
    assert_eq!(shown["provider"]["status"], "provisioned");
    assert!(!shown.to_string().contains(&password), "{shown}");

    // PATCH the numbers: routed at Telnyx first, then LiveKit.
    let path = format!("/sip/trunks/{trunk_id}");
    let patch = json!({"trunk_config": {"numbers": ["+13125550101"]}});
    let (status, json) = e.send("PATCH", &path, Some(patch)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(e.number_connection(&n0), Value::Null);
    assert_eq!(e.number_connection(&n1), json!(conn_id));
    assert_eq!(lk.outbound_trunk(&lk_id).unwrap().numbers, ["+13125550101"]);
    // The address and credential are trunkline's.
    let patch = json!({"trunk_config": {"address": "sip.example.com"}});
    let (status, json) = e.send("PATCH", &path, Some(patch)).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "trunk_config.address");

    // The account cannot go while the trunk uses it.
    let account_path = format!("/provider-accounts/{}", e.account);
    let (status, json) = e.send("DELETE", &account_path, None).await;
    assert_eq!(status, 409, "{json}");

    let (status, json) = e.send("DELETE", &path, None).await;
    assert_eq!(status, 200, "{json}");
    let left: Vec<Value> = e.telnyx.objects("credential_connections");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], theirs.as_str());
    assert!(e.telnyx.objects("outbound_voice_profiles").is_empty());
    assert_eq!(e.number_connection(&n1), Value::Null);
    assert!(lk.outbound_trunk(&lk_id).is_none());
    let (status, json) = e.send("DELETE", &account_path, None).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_livekit_outage_undoes_the_telnyx_side() {
    let e = telnyx_env(LiveKit::At {
        url: "http://127.0.0.1:9".into(),
        key: LK_KEY.into(),
        secret: LK_SECRET.into(),
    })
    .await;
    let n0 = e.telnyx.add_number("+13125550100");
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &telnyx_trunk_body(&e.account, json!(["+13125550100"])),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    // Made at Telnyx, then removed: nothing is left on either side.
    let made = e
        .telnyx
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && (r.status == 201 || r.status == 200))
        .count();
    assert_eq!(made, 2, "a profile and a connection were made");
    assert!(e.made().is_empty(), "{:?}", e.made());
    assert_eq!(e.number_connection(&n0), Value::Null);
    assert!(e.server.list_ids(&e.key).await.is_empty());
    let path = format!("/provider-accounts/{}", e.account);
    let (status, json) = e.send("DELETE", &path, None).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_telnyx_outage_or_a_failure_part_way_leaves_nothing() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let body = telnyx_trunk_body(&e.account, json!(["+13125550100"]));

    e.telnyx.outage().await;
    let (status, json) = e
        .server
        .post("/sip/create-outbound-trunk", &e.key, &body)
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(s(&json["message"]).contains("Telnyx"), "{json}");
    e.telnyx.resume().await;

    // The profile is made, then the connection's create fails; then, on another try, the
    // number's routing fails after both were made.
    e.telnyx
        .fail_next("POST", "/v2/credential_connections", Fault::Status(500));
    let (status, json) = e
        .server
        .post("/sip/create-outbound-trunk", &e.key, &body)
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(e.made().is_empty(), "{:?}", e.made());
    e.telnyx.fail_next(
        "PATCH",
        &format!("/v2/phone_numbers/{n0}"),
        Fault::Status(503),
    );
    let (status, json) = e
        .server
        .post("/sip/create-outbound-trunk", &e.key, &body)
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(e.made().is_empty(), "{:?}", e.made());
    assert_eq!(e.number_connection(&n0), Value::Null);
    assert!(lk.outbound_trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());

    // Telnyx back: the same request makes it.
    let (status, json) = e
        .server
        .post("/sip/create-outbound-trunk", &e.key, &body)
        .await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn refusals_name_the_field_and_make_nothing() {
    let e = telnyx_env(LiveKit::None).await;
    e.telnyx.add_number("+13125550100");
    let taken = e.telnyx.add_number("+13125550102");
    let (status, other) = e
        .telnyx_call(
            "POST",
            "/v2/fqdn_connections",
            Some(json!({"connection_name": "theirs"})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other = s(&other["data"]["id"]);
    let (status, _) = e
        .telnyx_call(
            "PATCH",
            &format!("/v2/phone_numbers/{taken}"),
            Some(json!({"connection_id": other})),
        )
        .await;
    assert_eq!(status, 200);
    let tw = account(&e.server, &e.key, &twilio_body()).await;
    let cases = [
        (
            telnyx_trunk_body(&e.account, json!(["+13125559999"])),
            400,
            "trunk_config.numbers[0]",
        ),
        (
            telnyx_trunk_body(&e.account, json!(["+13125550102"])),
            409,
            "",
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "twilio", "trunk_config": {
                "provider_account_id": e.account, "numbers": ["+13125550100"]}}),
            400,
            "trunk_type",
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "telnyx", "trunk_config": {
                "provider_account_id": tw, "numbers": ["+13125550100"]}}),
            400,
            "trunk_type",
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "telnyx", "trunk_config": {
                "provider_account_id": e.account, "numbers": ["+13125550100"],
                "password": "mine-mine-mine"}}),
            400,
            "trunk_config.password",
        ),
    ];
    for (b, status_wanted, field) in cases {
        let (status, json) = e
            .server
            .post("/sip/create-outbound-trunk", &e.key, &b)
            .await;
        assert_eq!(status, status_wanted, "{b}: {json}");
        if !field.is_empty() {
            assert_eq!(json["data"]["errors"][0]["field"], field, "{json}");
        } else {
            assert!(s(&json["message"]).contains(&other), "{json}");
        }
        assert_no_secret("a refusal", &json.to_string());
    }
    assert!(e.made().len() == 1, "only theirs: {:?}", e.made());
    assert!(e.server.list_ids(&e.key).await.is_empty());
    assert_eq!(e.number_connection(&taken), json!(other));
}
