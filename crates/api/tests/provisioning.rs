//! Provisioning against the LiveKit double: what LiveKit receives, how each LiveKit failure is
//! reported, that nothing is left half-created, and the reconciler's repairs.

mod support;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use trunkline_livekit::proto;

async fn details(server: &TestServer, key: &str, id: &str) -> Value {
    let (status, json) = server.get(&format!("/sip/trunks/{id}"), key).await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

/// A server on a fresh database with the LiveKit double, one tenant, and one provisioned
/// trunk (seed 000's Twilio example).
struct Provisioned {
    lk: livekit_double::LiveKitDouble,
    db: TestDb,
    server: TestServer,
    key: String,
    id: String,
    lk_id: String,
}

async fn provisioned() -> Provisioned {
    let Env {
        lk,
        _db: db,
        server,
        key,
    } = env().await;
    let id = server.create(&key, &seed_twilio()).await;
    let lk_id = details(&server, &key, &id).await["livekit_trunk_id"]
        .as_str()
        .unwrap()
        .to_owned();
    Provisioned {
        lk,
        db,
        server,
        key,
        id,
        lk_id,
    }
}

#[tokio::test]
async fn create_provisions_livekit_over_protobuf_with_the_admin_grant() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let mut body = seed_twilio();
    body["trunk_config"]["address"] = json!("sip:example.pstn.twilio.com:5061");
    body["trunk_config"]["transport"] = json!("tls");
    body["trunk_config"]["media_encryption"] = json!("allowed");
    let (status, json) = server.post("/sip/create-outbound-trunk", &key, &body).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["status"], "provisioned");
    let id = json["data"]["trunk_id"].as_str().unwrap();
    let lk_id = json["data"]["livekit_trunk_id"].as_str().unwrap();

    let t = lk.outbound_trunk(lk_id).expect("LiveKit holds the trunk");
    assert_eq!(t.name, "Twilio Production");
    assert_eq!(
        t.address, "example.pstn.twilio.com:5061",
        "sip: is normalized away"
    );
    assert_eq!(t.numbers, vec!["+15550100000"]);
    assert_eq!(t.auth_username, "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_eq!(t.auth_password, "your_auth_token_here");
    assert_eq!(t.transport, proto::SipTransport::Tls as i32);
    assert_eq!(
        t.media.as_ref().and_then(|m| m.encryption),
        Some(proto::SipMediaEncryption::SipMediaEncryptAllow as i32)
    );
    assert!(
        t.metadata.contains(id),
        "metadata names our trunk: {}",
        t.metadata
    );

    let create = lk
        .requests()
        .into_iter()
        .find(|r| r.method == "CreateSIPOutboundTrunk")
        .unwrap();
    assert_eq!(create.content_type, "application/protobuf");
    assert!(create.grants.as_ref().unwrap().sip_admin());
    assert!(create.ok());

    let d = details(&server, &key, id).await;
    assert_eq!(d["livekit_trunk_id"], lk_id);
    assert_eq!(d["provisioning"]["status"], "provisioned");
    assert_eq!(d["provisioning"]["in_sync"], true);
    server.stop().await;
}

#[tokio::test]
async fn livekit_invalid_argument_is_a_400_with_livekits_message_and_nothing_stored() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    lk.fail_next(
        "invalid_argument",
        "trunk address should be a hostname or IP, not SIP URI",
    );
    let (status, json) = server
        .post("/sip/create-outbound-trunk", &key, &seed_twilio())
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(
        json["message"],
        "LiveKit rejected the trunk: trunk address should be a hostname or IP, not SIP URI"
    );
    assert!(server.list_ids(&key).await.is_empty());
    assert!(lk.outbound_trunks().is_empty());
    assert!(
        server
            .store
            .outbound_trunks()
            .all_live()
            .await
            .unwrap()
            .is_empty(),
        "no row left behind"
    );
    server.stop().await;
}

#[tokio::test]
async fn livekit_unreachable_is_a_503_naming_it_and_nothing_stored() {
    let lk = livekit_double::LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let url = lk.url();
    lk.shutdown().await;
    let db = TestDb::fresh().await;
    let server = TestServer::start(
        &db,
        LiveKit::At {
            url: url.clone(),
            key: LK_KEY.into(),
            secret: LK_SECRET.into(),
        },
    )
    .await;
    let key = server.tenant("a@example.com").await;
    let started = std::time::Instant::now();
    let (status, json) = server
        .post("/sip/create-outbound-trunk", &key, &seed_twilio())
        .await;
    assert_eq!(status, 503, "{json}");
    let msg = json["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!("LiveKit unreachable at {url}")),
        "{msg}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a refused connection is reported at once"
    );
    assert!(server.list_ids(&key).await.is_empty());
    assert!(server
        .store
        .outbound_trunks()
        .all_live()
        .await
        .unwrap()
        .is_empty());
    let (status, json) = server.send("GET", "/ready", None, None).await;
    assert_eq!(status, 503, "{json}");
    assert!(
        json["data"]["livekit"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{json}"
    );
    server.stop().await;
}

#[tokio::test]
async fn livekit_rejecting_our_key_is_a_502_saying_so() {
    let lk = livekit_double::LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    for (key_id, secret) in [(LK_KEY, "wrong-secret"), ("APIunknown", LK_SECRET)] {
        let server = TestServer::start(
            &db,
            LiveKit::At {
                url: lk.url(),
                key: key_id.into(),
                secret: secret.into(),
            },
        )
        .await;
        let key = server.tenant("a@example.com").await;
        let (status, json) = server
            .post("/sip/create-outbound-trunk", &key, &seed_twilio())
            .await;
        assert_eq!(status, 502, "{json}");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("LIVEKIT_API_KEY"),
            "{json}"
        );
        assert!(!json.to_string().contains(secret));
        assert!(server.list_ids(&key).await.is_empty());
        server.stop().await;
    }
    assert!(lk.outbound_trunks().is_empty());
}

#[tokio::test]
async fn a_timed_out_create_leaves_no_trunk_behind_once_reconciled() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    lk.set_latency(Duration::from_millis(2500)); // beyond the client's 2 s timeout
    let (status, json) = server
        .post("/sip/create-outbound-trunk", &key, &seed_twilio())
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("did not answer"),
        "{json}"
    );
    assert!(
        server.list_ids(&key).await.is_empty(),
        "an unacknowledged trunk is never listed"
    );
    lk.set_latency(Duration::ZERO);
    // LiveKit may have created the trunk before the timeout; the reconciler removes it.
    server.reconcile().await;
    assert!(
        lk.outbound_trunks().is_empty(),
        "{:?}",
        lk.outbound_trunks()
    );
    assert!(server
        .store
        .outbound_trunks()
        .all_live()
        .await
        .unwrap()
        .is_empty());
    server.stop().await;
}

#[tokio::test]
async fn patch_updates_livekit_in_place() {
    let Provisioned {
        lk,
        db: _db,
        server,
        key,
        id,
        lk_id,
    } = provisioned().await;
    let patch = json!({"trunk_name": "New", "trunk_config": {"numbers": ["+15550100001", "+15550100002"], "password": "rotated"}});
    let (status, json) = server
        .send(
            "PATCH",
            &format!("/sip/trunks/{id}"),
            Some(&key),
            Some(&patch.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["livekit_trunk_id"], lk_id.as_str());
    assert_eq!(json["data"]["provisioning"]["in_sync"], true);
    let t = lk.outbound_trunk(&lk_id).unwrap();
    assert_eq!(t.name, "New");
    assert_eq!(t.numbers, vec!["+15550100001", "+15550100002"]);
    assert_eq!(t.auth_password, "rotated");

    // LiveKit refusing the change leaves ours untouched.
    lk.fail_next("invalid_argument", "no");
    let (status, _) = server
        .send(
            "PATCH",
            &format!("/sip/trunks/{id}"),
            Some(&key),
            Some(r#"{"trunk_name":"X"}"#),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(details(&server, &key, &id).await["trunk_name"], "New");
    assert_eq!(lk.outbound_trunk(&lk_id).unwrap().name, "New");
    server.stop().await;
}

#[tokio::test]
async fn delete_removes_the_livekit_trunk_and_refuses_while_livekit_is_down() {
    let Provisioned {
        lk,
        db: _db,
        server,
        key,
        id,
        lk_id,
    } = provisioned().await;

    lk.fail_next("unavailable", "sip not connected");
    let (status, json) = server
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(
        server.list_ids(&key).await,
        vec![id.clone()],
        "nothing changed"
    );
    assert!(lk.outbound_trunk(&lk_id).is_some());

    let (status, _) = server
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    assert!(
        lk.outbound_trunk(&lk_id).is_none(),
        "LiveKit's trunk is gone too"
    );
    let (status, _) = server
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn the_reconciler_recreates_a_trunk_deleted_out_of_band() {
    let lk = livekit_double::LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    // The real background loop, at a short interval: no manual pass in this test.
    let server =
        TestServer::start_with(&db, LiveKit::Double(&lk), Some(Duration::from_millis(100))).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await;
    let old = details(&server, &key, &id).await["livekit_trunk_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(lk.delete_out_of_band(&old));
    let new = eventually("trunk recreated", || async {
        let d = details(&server, &key, &id).await;
        let lk_id = d["livekit_trunk_id"].as_str().unwrap().to_owned();
        (lk_id != old && d["provisioning"]["status"] == "provisioned").then_some(lk_id)
    })
    .await;
    let t = lk.outbound_trunk(&new).expect("recreated in LiveKit");
    assert_eq!(t.numbers, vec!["+15550100000"]);
    assert_eq!(
        t.auth_password, "your_auth_token_here",
        "recreated from the sealed secret"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_reconciler_repairs_drift_and_provisions_trunks_stored_without_livekit() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await;
    let exotel = server.create(&key, &seed_exotel()).await;
    server.stop().await;

    let lk = livekit_double::LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let report = server.reconcile().await;
    assert_eq!(report.outbound.provisioned, 1, "{report:?}");
    let d = details(&server, &key, &id).await;
    assert_eq!(d["provisioning"]["status"], "provisioned");
    let lk_id = d["livekit_trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(lk.outbound_trunks().len(), 1, "exotel waits for the bridge");
    assert_eq!(
        details(&server, &key, &exotel).await["provisioning"]["status"],
        "awaiting_bridge"
    );

    // Someone edits the trunk with `lk` behind our back: the next pass puts ours back.
    let client = livekit_client(&lk);
    let mut edited = lk.outbound_trunk(&lk_id).unwrap();
    edited.numbers = vec!["+19990000000".into()];
    edited.sip_trunk_id.clear();
    client.replace_outbound_trunk(&lk_id, edited).await.unwrap();
    let report = server.reconcile().await;
    assert_eq!(report.outbound.repaired, 1, "{report:?}");
    assert_eq!(
        lk.outbound_trunk(&lk_id).unwrap().numbers,
        vec!["+15550100000"]
    );
    let report = server.reconcile().await;
    assert_eq!(
        report,
        Default::default(),
        "a converged state needs nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_interrupted_create_is_cleaned_up_by_the_reconciler() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let keep = server.create(&key, &seed_twilio()).await;
    // What a crash between LiveKit's create and our commit leaves: a pending row, and a
    // LiveKit trunk whose metadata names it.
    let mut row = server
        .store
        .outbound_trunks()
        .all_live()
        .await
        .unwrap()
        .remove(0);
    row.id = trunkline_domain::TrunkId::generate().to_string();
    row.status = trunkline_store::Status::Pending;
    row.livekit_trunk_id = None;
    server.store.outbound_trunks().insert(&row).await.unwrap();
    let orphan = lk.insert_out_of_band(proto::SipOutboundTrunkInfo {
        name: "orphan".into(),
        address: "example.pstn.twilio.com".into(),
        numbers: vec!["+15550100000".into()],
        metadata: trunkline_core::provisioning::livekit_info::metadata(&row.id),
        ..Default::default()
    });
    assert_eq!(
        server.list_ids(&key).await,
        vec![keep.clone()],
        "pending rows are invisible"
    );
    let report = server.reconcile().await;
    assert_eq!(report.outbound.abandoned, 1, "{report:?}");
    assert!(lk.outbound_trunk(&orphan).is_none());
    assert_eq!(lk.outbound_trunks().len(), 1);
    assert_eq!(
        server
            .store
            .outbound_trunks()
            .all_live()
            .await
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn the_reconciler_removes_duplicates_and_never_touches_trunks_it_does_not_own() {
    let Provisioned {
        lk,
        db: _db,
        server,
        key,
        id,
        lk_id,
    } = provisioned().await;
    let trunk = |metadata: String| proto::SipOutboundTrunkInfo {
        name: "other".into(),
        address: "pbx.example.com".into(),
        numbers: vec!["+15550100000".into()],
        metadata,
        ..Default::default()
    };
    let duplicate = lk.insert_out_of_band(trunk(
        trunkline_core::provisioning::livekit_info::metadata(&id),
    ));
    let foreign = lk.insert_out_of_band(trunk(String::new()));
    let other_deployment =
        lk.insert_out_of_band(trunk(trunkline_core::provisioning::livekit_info::metadata(
            trunkline_domain::TrunkId::generate().as_str(),
        )));
    // A trunk for a row the tenant deleted, turning up late (a create racing the delete).
    let gone = server.create(&key, &seed_twilio()).await;
    let (status, _) = server
        .send("DELETE", &format!("/sip/trunks/{gone}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let late = lk.insert_out_of_band(trunk(trunkline_core::provisioning::livekit_info::metadata(
        &gone,
    )));
    let report = server.reconcile().await;
    assert_eq!(report.outbound.removed, 2, "{report:?}");
    assert!(
        lk.outbound_trunk(&duplicate).is_none(),
        "the duplicate is gone"
    );
    assert!(
        lk.outbound_trunk(&late).is_none(),
        "the late trunk of a deleted row is gone"
    );
    assert!(
        lk.outbound_trunk(&lk_id).is_some(),
        "the trunk the row points at stays"
    );
    assert!(
        lk.outbound_trunk(&foreign).is_some(),
        "a trunk made outside trunkline is left alone"
    );
    assert!(
        lk.outbound_trunk(&other_deployment).is_some(),
        "another deployment's trunk is left alone"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_delete_during_a_reconcile_pass_leaves_nothing_in_livekit() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await; // unprovisioned
    server.stop().await;

    let lk = livekit_double::LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    // Every LiveKit answer takes 500 ms: the pass lists (0–0.5 s), then creates (0.5–1 s).
    lk.set_latency(Duration::from_millis(500));
    let provisioner = server.state.provisioner.clone();
    let pass = tokio::spawn(async move { provisioner.reconcile_once().await });
    tokio::time::sleep(Duration::from_millis(750)).await;
    // The row has no LiveKit id yet, so this delete does not call LiveKit and lands mid-create.
    let (status, _) = server
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let report = pass.await.unwrap().unwrap();
    assert_eq!(
        report.outbound.provisioned, 1,
        "the pass did create: {report:?}"
    );
    assert!(
        lk.outbound_trunks().is_empty(),
        "the pass removed what it created for a deleted trunk"
    );
    assert!(server.list_ids(&key).await.is_empty());
    server.stop().await;
}
