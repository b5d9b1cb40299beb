//! Approval of claimed numbers (`TRUNKLINE_NUMBER_APPROVAL=required`) through the provisioning
//! paths: create, PATCH and the reconciler, with the dispatch rules that follow the trunks.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::*;

async fn inbound(srv: &TestServer, key: &str, id: &str) -> Value {
    let (st, b) = srv.get(&format!("/sip/inbound-trunks/{id}"), key).await;
    assert_eq!(st, 200, "{b}");
    b["data"].clone()
}

#[tokio::test]
async fn a_trunk_waits_for_its_numbers_and_its_rule_follows_it_into_livekit() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    let srv = TestServer::start_custom(&db, LiveKit::Double(&lk), None, |s| {
        s.provisioner = s.provisioner.clone().with_number_approval(true);
    })
    .await;
    let key = srv.tenant("approve@example.com").await;
    let (st, b) = srv
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "main", "numbers": ["+14155550190"]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let trunk = b["data"]["trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(
        b["data"]["provisioning"]["status"], "awaiting_approval",
        "{b}"
    );
    let (st, r) = srv
        .post(
            "/sip/dispatch-rules",
            &key,
            &json!({"name": "to agent", "trunk_ids": [trunk],
                    "rule": {"type": "individual", "room_prefix": "call"}}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let rule = r["data"]["rule_id"].as_str().unwrap().to_owned();
    assert_eq!(r["data"]["provisioning"]["status"], "awaiting_trunk", "{r}");
    srv.reconcile().await;
    assert!(
        lk.inbound_trunks().is_empty(),
        "nothing reaches LiveKit unapproved"
    );
    assert!(lk.dispatch_rules().is_empty());

    // Approved: the next pass provisions the trunk, then the rule naming it.
    assert_eq!(
        srv.store
            .approve_number("approve@example.com", "+14155550190", 1)
            .await
            .unwrap(),
        trunkline_store::Approval::Approved
    );
    srv.reconcile().await;
    let t = inbound(&srv, &key, &trunk).await;
    assert_eq!(t["provisioning"]["status"], "provisioned", "{t}");
    assert_eq!(lk.inbound_trunks().len(), 1);
    let (_, r) = srv.get(&format!("/sip/dispatch-rules/{rule}"), &key).await;
    assert_eq!(r["data"]["provisioning"]["status"], "provisioned", "{r}");

    // A PATCH adding an unapproved number: the trunk waits again, out of LiveKit at once.
    let path = format!("/sip/inbound-trunks/{trunk}");
    let (st, b) = srv
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(&json!({"numbers": ["+14155550190", "+14155550191"]}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b["data"]["provisioning"]["status"], "awaiting_approval",
        "{b}"
    );
    assert_eq!(
        b["data"]["numbers"],
        json!(["+14155550190", "+14155550191"])
    );
    assert!(lk.inbound_trunks().is_empty(), "{:?}", lk.inbound_trunks());
    srv.reconcile().await;
    let (_, r) = srv.get(&format!("/sip/dispatch-rules/{rule}"), &key).await;
    assert_eq!(r["data"]["provisioning"]["status"], "awaiting_trunk", "{r}");

    // Approving the new number too brings both back.
    srv.store
        .approve_number("approve@example.com", "+14155550191", 2)
        .await
        .unwrap();
    srv.reconcile().await;
    let t = inbound(&srv, &key, &trunk).await;
    assert_eq!(t["provisioning"]["status"], "provisioned", "{t}");
    assert_eq!(lk.inbound_trunks()[0].numbers.len(), 2);
    let (_, r) = srv.get(&format!("/sip/dispatch-rules/{rule}"), &key).await;
    assert_eq!(r["data"]["provisioning"]["status"], "provisioned", "{r}");
}

#[tokio::test]
async fn without_the_setting_a_trunk_is_provisioned_at_once() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = srv.tenant("open@example.com").await;
    let (st, b) = srv
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "main", "numbers": ["+14155550192"]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["provisioning"]["status"], "provisioned", "{b}");
    assert_eq!(lk.inbound_trunks().len(), 1);
}
