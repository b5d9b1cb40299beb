//! `POST /numbers` setups kept whole: a part cannot be deleted on its own (the setup would
//! show a trunk that is gone and `provider: null`), and a setup a crash left `creating` is
//! undone by the reconciler, parts and all.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};
use trunkline_store::NumberRow;

async fn assistant(e: &TwilioEnv) -> String {
    let (status, body) = e
        .server
        .post(
            "/assistants",
            &e.key,
            &json!({"name": "Support", "agent_name": "support-agent"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["assistant_id"].as_str().unwrap().to_owned()
}

async fn setup(e: &TwilioEnv, number: &str, direction: &str) -> Value {
    let a = assistant(e).await;
    let (status, json) = e
        .server
        .post(
            "/numbers",
            &e.key,
            &json!({"provider_account_id": e.account, "number": number,
                    "assistant_id": a, "direction": direction}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

/// An outbound-only setup showed `provider: null` once a configuration import had deleted
/// its trunk (an import deletes every object its document lacks, through the same routes):
/// the setup stayed `active` and named a trunk that was gone. The parts of a setup now
/// refuse a delete of their own.
#[tokio::test]
async fn a_part_of_a_setup_cannot_be_deleted_on_its_own() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    e.twilio.add_number("+15550100001");
    let d = setup(&e, "+15550100000", "outbound").await;
    assert_eq!(d["provider"]["provider"], "twilio", "{d}");
    let id = d["number_id"].as_str().unwrap().to_owned();
    let out = d["outbound_trunk_id"].as_str().unwrap().to_owned();

    for path in [
        format!("/sip/trunks/{out}"),
        format!("/sip/outbound-trunks/{out}"),
        format!("/sip/deactivate/{out}"),
    ] {
        let (status, json) = e.server.send("DELETE", &path, Some(&e.key), None).await;
        assert_eq!(status, 409, "{path}: {json}");
        assert!(json["message"].as_str().unwrap().contains(&id), "{json}");
    }
    // An import whose document lacks the trunk asks for the same delete, and is refused.
    let (status, doc) = e.server.get("/config/export", &e.key).await;
    assert_eq!(status, 200, "{doc}");
    let mut doc = doc["data"].clone();
    doc["outbound_trunks"] = json!([]);
    let (status, json) = e.server.post("/config/import", &e.key, &doc).await;
    assert_eq!(status, 409, "{json}");

    let (status, json) = e.server.get(&format!("/numbers/{id}"), &e.key).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["status"], "active");
    assert_eq!(json["data"]["provider"]["provider"], "twilio", "{json}");
    assert_eq!(e.twilio.trunks().len(), 1);

    // Inbound: the rule and the trunk are the setup's too.
    let d = setup(&e, "+15550100001", "inbound").await;
    let rule = d["dispatch_rule_id"].as_str().unwrap();
    let inb = d["inbound_trunk_id"].as_str().unwrap();
    for path in [
        format!("/sip/dispatch-rules/{rule}"),
        format!("/sip/inbound-trunks/{inb}"),
    ] {
        let (status, json) = e.server.send("DELETE", &path, Some(&e.key), None).await;
        assert_eq!(status, 409, "{path}: {json}");
    }
    // The setup's own delete removes them.
    let nb = d["number_id"].as_str().unwrap();
    let (status, json) = e
        .server
        .send("DELETE", &format!("/numbers/{nb}"), Some(&e.key), None)
        .await;
    assert_eq!(status, 200, "{json}");
    assert!(lk.dispatch_rules().is_empty());
}

/// What a process killed mid-setup leaves: the setup `creating` with the parts made so far
/// recorded. The reconciler's pass, once the setup is older than the grace period, removes
/// those parts (the Twilio side first) and the setup; a younger one is left to its request.
#[tokio::test]
async fn a_setup_interrupted_by_a_crash_is_undone_by_the_reconciler() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    e.twilio.add_number("+15550100001");
    let a = assistant(&e).await;
    // The outbound trunk the setup had made (both sides) before the crash.
    let t = e.automated_trunk(&["+15550100000"]).await;
    let store = &e.server.state.store;
    let tenant = store
        .find_provider_account(&e.account)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    let old = trunkline_store::now_micros() - 600_000_000;
    let row = |id: &str, number: &str, created_at: i64, trunk: Option<String>| NumberRow {
        id: id.into(),
        tenant_id: tenant.clone(),
        account_id: e.account.clone(),
        number: number.into(),
        assistant_id: a.clone(),
        direction: "both".into(),
        status: "creating".into(),
        outbound_trunk_id: trunk,
        inbound_trunk_id: None,
        dispatch_rule_id: None,
        created_at,
    };
    let crashed = row(
        "NB_0123456789abcdef0123456789abcdef",
        "+15550100000",
        old,
        Some(t.trunk_id.clone()),
    );
    store.insert_number(&crashed).await.unwrap();
    // Another setup, just begun: its request is still making it.
    let young = row(
        "NB_fedcba9876543210fedcba9876543210",
        "+15550100001",
        trunkline_store::now_micros(),
        None,
    );
    store.insert_number(&young).await.unwrap();

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.numbers_retired, r.numbers_failed), (1, 0), "{r:?}");
    assert!(e.twilio.trunks().is_empty(), "{:?}", e.twilio.trunks());
    assert!(e.twilio.credential_lists().is_empty());
    assert!(lk.outbound_trunks().is_empty());
    let (status, _) = e
        .server
        .get(&format!("/sip/trunks/{}", t.trunk_id), &e.key)
        .await;
    assert_eq!(status, 404);
    let (status, _) = e
        .server
        .get(&format!("/numbers/{}", crashed.id), &e.key)
        .await;
    assert_eq!(status, 404);
    let (status, json) = e
        .server
        .get(&format!("/numbers/{}", young.id), &e.key)
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["status"], "creating");
    // Nothing left to do on the next pass (the young one is within its grace).
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.numbers_retired, r.numbers_failed), (0, 0), "{r:?}");
}

/// A setup whose undo failed (Twilio down while it was being undone) is left `failed`; the
/// pass that reaches Twilio again finishes the undo.
#[tokio::test]
async fn a_failed_setup_is_finished_once_the_provider_is_back() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    let a = assistant(&e).await;
    let t = e.automated_trunk(&["+15550100000"]).await;
    let store = &e.server.state.store;
    let tenant = store
        .find_provider_account(&e.account)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    let row = NumberRow {
        id: "NB_00000000000000000000000000000001".into(),
        tenant_id: tenant,
        account_id: e.account.clone(),
        number: "+15550100000".into(),
        assistant_id: a,
        direction: "outbound".into(),
        status: "creating".into(),
        outbound_trunk_id: Some(t.trunk_id.clone()),
        inbound_trunk_id: None,
        dispatch_rule_id: None,
        created_at: trunkline_store::now_micros() - 600_000_000,
    };
    store.insert_number(&row).await.unwrap();
    e.twilio.outage().await;
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.numbers_retired, r.numbers_failed), (0, 1), "{r:?}");
    let (_, json) = e.server.get(&format!("/numbers/{}", row.id), &e.key).await;
    assert_eq!(json["data"]["status"], "failed", "{json}");
    e.twilio.resume().await;
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.numbers_retired, r.numbers_failed), (1, 0), "{r:?}");
    assert!(e.twilio.trunks().is_empty());
    assert!(lk.outbound_trunks().is_empty());
}
