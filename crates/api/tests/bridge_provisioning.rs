//! Exotel trunks through trunkline's SIP bridge: with a bridge address configured, each
//! Exotel trunk gets a LiveKit outbound trunk to the bridge, with the trunk id as digest user
//! and a generated password of its own, sealed and never shown.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::json;
use support::*;
use trunkline_core::provisioning::livekit_info::BridgeTarget;
use trunkline_domain::Transport;

fn bridge() -> BridgeTarget {
    BridgeTarget {
        address: "bridge.example.net:5080".into(),
        transport: Transport::Tcp,
    }
}

fn with_bridge(s: &mut trunkline_api::AppState) {
    s.provisioner = s.provisioner.clone().with_bridge(Some(bridge()));
}

#[tokio::test]
async fn an_exotel_trunk_is_provisioned_to_the_bridge_with_its_own_credentials() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let srv = TestServer::start_custom(&db, LiveKit::Double(&lk), None, with_bridge).await;
    let key = srv.tenant("exotel@example.com").await;
    let (st, a) = srv
        .post("/sip/create-outbound-trunk", &key, &seed_exotel())
        .await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["data"]["status"], "provisioned");
    let id_a = a["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (_, b) = srv
        .post("/sip/create-outbound-trunk", &key, &seed_exotel())
        .await;
    let id_b = b["data"]["trunk_id"].as_str().unwrap().to_owned();

    let lk_a = lk
        .outbound_trunk(a["data"]["livekit_trunk_id"].as_str().unwrap())
        .unwrap();
    let lk_b = lk
        .outbound_trunk(b["data"]["livekit_trunk_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(lk_a.address, "bridge.example.net:5080");
    assert_eq!(lk_a.numbers, vec!["+918044319240".to_owned()]);
    assert_eq!(lk_a.auth_username, id_a);
    assert_eq!(lk_b.auth_username, id_b);
    assert!(lk_a.auth_password.len() >= 40);
    assert_ne!(
        lk_a.auth_password, lk_b.auth_password,
        "no shared credential"
    );

    // The password is never shown, and survives an edit of the trunk.
    let (_, details) = srv.get(&format!("/sip/trunks/{id_a}"), &key).await;
    assert!(!details.to_string().contains(&lk_a.auth_password));
    let (st, patched) = srv
        .send(
            "PATCH",
            &format!("/sip/trunks/{id_a}"),
            Some(&key),
            Some(&json!({"trunk_name": "Exotel Mumbai"}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{patched}");
    assert!(!patched.to_string().contains(&lk_a.auth_password));
    let after = lk.outbound_trunk(&lk_a.sip_trunk_id).unwrap();
    assert_eq!(after.name, "Exotel Mumbai");
    assert_eq!(after.auth_password, lk_a.auth_password);
    if let Some(file) = db.sqlite_file() {
        let raw = std::fs::read(file).unwrap();
        let needle = lk_a.auth_password.as_bytes();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "sealed at rest"
        );
    }

    // Calls through a provisioned Exotel trunk are accepted and dialed through its LiveKit trunk.
    let (st, asst) = srv
        .post(
            "/assistants",
            &key,
            &json!({"name": "a", "agent_name": "agent"}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, call) = srv
        .post(
            "/call/outbound",
            &key,
            &json!({"assistant_id": asst["data"]["assistant_id"],
              "trunk_id": id_a, "to_number": "+919876543210"}),
        )
        .await;
    assert_eq!(st, 202, "{call}");
    let dialed = eventually("dialed", || async { lk.calls().into_iter().next() }).await;
    assert_eq!(dialed.request.sip_trunk_id, lk_a.sip_trunk_id);
    assert_eq!(dialed.request.sip_number, "+918044319240");
}

#[tokio::test]
async fn exotel_trunks_stored_before_the_bridge_are_provisioned_once_it_is_configured() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let before = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = before.tenant("later@example.com").await;
    let (_, t) = before
        .post("/sip/create-outbound-trunk", &key, &seed_exotel())
        .await;
    assert_eq!(t["data"]["status"], "awaiting_bridge");
    let id = t["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (st, call) = before
        .post(
            "/call/outbound",
            &key,
            &json!({"assistant_id": "AS_x", "trunk_id": id,
              "to_number": "+919876543210"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(
        call.to_string().contains("TRUNKLINE_BRIDGE_SIP_ADDRESS"),
        "{call}"
    );
    before.stop().await;
    assert!(lk.outbound_trunks().is_empty());

    let after = TestServer::start_custom(&db, LiveKit::Double(&lk), None, with_bridge).await;
    // First pass gives it a bridge password, the next provisions it.
    after.reconcile().await;
    after.reconcile().await;
    let (_, d) = after.get(&format!("/sip/trunks/{id}"), &key).await;
    assert_eq!(d["data"]["provisioning"]["status"], "provisioned", "{d}");
    let remote = lk.outbound_trunks();
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].auth_username, id);
    assert_eq!(remote[0].address, "bridge.example.net:5080");
}

/// The bridge's directory for calls Exotel delivers: every inbound trunk's numbers in E.164,
/// with the trunk's credentials for LiveKit's challenge; a deleted trunk's numbers are gone
/// at the next refresh.
#[tokio::test]
async fn the_bridge_finds_inbound_trunks_by_number_with_their_credentials() {
    use trunkline_core::bridge_directory::StoreDirectory;
    use trunkline_sip::bridge::TrunkDirectory;
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let srv = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = srv.tenant("inbound@example.com").await;
    let (st, with_auth) = srv
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "Exotel in", "numbers": ["+918047000000", "+918047000001"],
                    "auth_username": "in_user", "auth_password": "in-secret-77"}),
        )
        .await;
    assert_eq!(st, 200, "{with_auth}");
    let (st, open) = srv
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "open", "numbers": ["+14155550100"]}),
        )
        .await;
    assert_eq!(st, 200, "{open}");

    let dir = StoreDirectory::default();
    dir.refresh(&srv.store, &srv.state.keyring).await.unwrap();
    assert_eq!(dir.inbound_count(), 3);
    let t = dir.inbound_by_number("+918047000001").expect("held");
    assert_eq!(t.trunk_id, with_auth["data"]["trunk_id"].as_str().unwrap());
    let creds = t.credentials.expect("the trunk's credentials");
    assert_eq!(creds.username, "in_user");
    assert_eq!(creds.password.expose(), "in-secret-77");
    let o = dir.inbound_by_number("+14155550100").expect("held");
    assert!(o.credentials.is_none());
    assert!(dir.inbound_by_number("+918047000009").is_none());

    let id = open["data"]["trunk_id"].as_str().unwrap();
    let (st, body) = srv
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(st, 200, "{body}");
    dir.refresh(&srv.store, &srv.state.keyring).await.unwrap();
    assert!(dir.inbound_by_number("+14155550100").is_none());
    assert_eq!(dir.inbound_count(), 2);
}
