//! The reconciler over inbound trunks and dispatch rules, against the LiveKit double: what
//! goes missing or drifts out of band is put back, rules follow their trunks, objects naming
//! deleted rows are removed, objects trunkline did not make are left alone, and interrupted
//! creates are retired with their number claims released.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use trunkline_core::provisioning::{dispatch, inbound};
use trunkline_livekit::proto;
use trunkline_store::NumberClaim;

const PASSWORD: &str = "inbound-reconcile-Pa55";

fn trunk_body(number: &str) -> Value {
    json!({"name": format!("line {number}"), "numbers": [number],
           "auth_username": "carrier", "auth_password": PASSWORD})
}

/// Creates an inbound trunk; answers (trunkline id, LiveKit id).
async fn trunk(server: &TestServer, key: &str, number: &str) -> (String, String) {
    let (status, json) = server
        .post("/sip/inbound-trunks", key, &trunk_body(number))
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    (
        d["trunk_id"].as_str().unwrap().to_owned(),
        d["livekit_trunk_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Creates a dispatch rule; answers its details.
async fn rule(server: &TestServer, key: &str, body: Value) -> Value {
    let (status, json) = server.post("/sip/dispatch-rules", key, &body).await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

async fn trunk_details(server: &TestServer, key: &str, id: &str) -> Value {
    let (status, json) = server.get(&format!("/sip/inbound-trunks/{id}"), key).await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

async fn rule_details(server: &TestServer, key: &str, id: &str) -> Value {
    let (status, json) = server.get(&format!("/sip/dispatch-rules/{id}"), key).await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

fn str_of(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A LiveKit dispatch rule made outside the API, marked with `owner` if given. Each gets
/// its own (made-up) trunk id so LiveKit's duplicate check lets it in.
fn stray_rule(owner: Option<&str>, trunk: &str) -> proto::SipDispatchRuleInfo {
    use proto::sip_dispatch_rule::Rule;
    proto::SipDispatchRuleInfo {
        name: "stray".into(),
        trunk_ids: vec![trunk.into()],
        rule: Some(proto::SipDispatchRule {
            rule: Some(Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
                room_name: "stray".into(),
                pin: String::new(),
            })),
        }),
        attributes: owner
            .map(|o| [(dispatch::OWNER_ATTRIBUTE.to_owned(), o.to_owned())].into())
            .unwrap_or_default(),
        ..Default::default()
    }
}

fn stray_trunk(metadata: String, number: &str) -> proto::SipInboundTrunkInfo {
    proto::SipInboundTrunkInfo {
        name: "stray".into(),
        numbers: vec![number.into()],
        metadata,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_inbound_trunk_deleted_out_of_band_is_recreated_and_its_rules_follow() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let (t, old) = trunk(&server, &key, "+15550100000").await;
    // One rule naming the trunk, one on every trunk of the account.
    let named = rule(
        &server,
        &key,
        json!({"name": "named", "rule": {"type": "individual", "room_prefix": "a-"},
               "trunk_ids": [t], "dialed_numbers": ["+15550100000"]}),
    )
    .await;
    let every = rule(
        &server,
        &key,
        json!({"name": "every", "rule": {"type": "individual", "room_prefix": "b-"}}),
    )
    .await;
    assert!(lk.delete_out_of_band(&old));

    let report = server.reconcile().await;
    assert_eq!(report.inbound.recreated, 1, "{report:?}");
    assert_eq!(report.rules.repaired, 2, "both rules follow: {report:?}");
    let d = trunk_details(&server, &key, &t).await;
    let new = str_of(&d["livekit_trunk_id"]);
    assert_ne!(new, old);
    assert_eq!(d["provisioning"]["status"], "provisioned");
    let lt = lk.inbound_trunk(&new).expect("recreated in LiveKit");
    assert_eq!(lt.numbers, ["+15550100000"]);
    assert_eq!(
        lt.auth_password, PASSWORD,
        "recreated from the sealed secret"
    );
    for r in [&named, &every] {
        let lr = lk
            .dispatch_rule(r["livekit_rule_id"].as_str().unwrap())
            .expect("the rule stays in LiveKit");
        assert_eq!(
            lr.trunk_ids,
            std::slice::from_ref(&new),
            "{} follows the trunk",
            r["name"]
        );
    }
    assert_eq!(
        server.reconcile().await,
        Default::default(),
        "a converged state needs nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_rule_deleted_out_of_band_is_recreated() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let (t, lk_trunk) = trunk(&server, &key, "+15550100000").await;
    let r = rule(
        &server,
        &key,
        json!({"name": "support", "rule": {"type": "direct", "room_name": "lobby"},
               "trunk_ids": [t], "pin": "2468"}),
    )
    .await;
    let id = str_of(&r["rule_id"]);
    let old = str_of(&r["livekit_rule_id"]);
    assert!(lk.delete_dispatch_rule_out_of_band(&old));

    let report = server.reconcile().await;
    assert_eq!(report.rules.recreated, 1, "{report:?}");
    let d = rule_details(&server, &key, &id).await;
    let new = str_of(&d["livekit_rule_id"]);
    assert_ne!(new, old);
    assert_eq!(d["provisioning"]["status"], "provisioned");
    let lr = lk.dispatch_rule(&new).expect("recreated in LiveKit");
    assert_eq!(lr.name, "support");
    assert_eq!(lr.trunk_ids, [lk_trunk]);
    assert_eq!(dispatch::owner(&lr).as_deref(), Some(id.as_str()));
    assert_eq!(lk.dispatch_rules().len(), 1);
    assert_eq!(server.reconcile().await, Default::default());
    server.stop().await;
}

#[tokio::test]
async fn drift_of_an_inbound_trunk_and_of_a_rule_is_repaired() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let (t, lk_trunk) = trunk(&server, &key, "+15550100000").await;
    let r = rule(
        &server,
        &key,
        json!({"name": "support", "rule": {"type": "individual", "room_prefix": "call-"},
               "trunk_ids": [t]}),
    )
    .await;
    let lk_rule = str_of(&r["livekit_rule_id"]);
    // Someone edits both with `lk` behind our back.
    let c = livekit_client(&lk);
    let mut edited = lk.inbound_trunk(&lk_trunk).unwrap();
    edited.sip_trunk_id.clear();
    edited.numbers = vec!["+19990000000".into()];
    edited.auth_password = "guessed".into();
    c.replace_inbound_trunk(&lk_trunk, edited).await.unwrap();
    let mut edited = lk.dispatch_rule(&lk_rule).unwrap();
    edited.sip_dispatch_rule_id.clear();
    edited.name = "hijacked".into();
    edited.trunk_ids = vec!["ST_somewhere_else".into()];
    c.replace_dispatch_rule(&lk_rule, edited).await.unwrap();

    let report = server.reconcile().await;
    assert_eq!(report.inbound.repaired, 1, "{report:?}");
    assert_eq!(report.rules.repaired, 1, "{report:?}");
    let lt = lk.inbound_trunk(&lk_trunk).unwrap();
    assert_eq!(lt.numbers, ["+15550100000"]);
    assert_eq!(lt.auth_password, PASSWORD);
    let lr = lk.dispatch_rule(&lk_rule).unwrap();
    assert_eq!(lr.name, "support");
    assert_eq!(lr.trunk_ids, [lk_trunk]);
    assert_eq!(server.reconcile().await, Default::default());
    server.stop().await;
}

#[tokio::test]
async fn trunks_and_rules_stored_without_livekit_are_provisioned() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (t, _) = trunk(&server, &key, "+15550100000").await;
    let r = rule(
        &server,
        &key,
        json!({"name": "every", "rule": {"type": "individual", "room_prefix": "call-"}}),
    )
    .await;
    assert_eq!(r["provisioning"]["status"], "unprovisioned");
    server.stop().await;

    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let report = server.reconcile().await;
    assert_eq!(report.inbound.provisioned, 1, "{report:?}");
    assert_eq!(report.rules.provisioned, 1, "{report:?}");
    let lk_trunk = str_of(&trunk_details(&server, &key, &t).await["livekit_trunk_id"]);
    let d = rule_details(&server, &key, r["rule_id"].as_str().unwrap()).await;
    assert_eq!(d["provisioning"]["status"], "provisioned");
    let lr = lk
        .dispatch_rule(d["livekit_rule_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        lr.trunk_ids,
        [lk_trunk],
        "a rule on every trunk names the account's trunks, never none"
    );
    assert_eq!(server.reconcile().await, Default::default());
    server.stop().await;
}

#[tokio::test]
async fn objects_naming_deleted_rows_and_duplicates_are_removed_and_foreign_ones_left_alone() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let (t, lk_trunk) = trunk(&server, &key, "+15550100000").await;
    let r = rule(
        &server,
        &key,
        json!({"name": "keep", "rule": {"type": "individual", "room_prefix": "call-"},
               "trunk_ids": [t]}),
    )
    .await;
    let (rule_id, lk_rule) = (str_of(&r["rule_id"]), str_of(&r["livekit_rule_id"]));
    // A trunk and a rule the tenant deleted, whose LiveKit copies turn up late.
    let (gone_trunk, _) = trunk(&server, &key, "+15550100001").await;
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{gone_trunk}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let gone_rule = rule(
        &server,
        &key,
        json!({"name": "gone", "rule": {"type": "individual", "room_prefix": "x-"},
               "trunk_ids": [t], "pin": "1357"}),
    )
    .await;
    let gone_rule = str_of(&gone_rule["rule_id"]);
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/dispatch-rules/{gone_rule}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let meta = livekit_info_metadata;
    let late_trunk = lk.insert_inbound_out_of_band(stray_trunk(meta(&gone_trunk), "+15550100001"));
    let dup_trunk = lk.insert_inbound_out_of_band(stray_trunk(meta(&t), "+15550100002"));
    let foreign_trunk = lk.insert_inbound_out_of_band(stray_trunk(String::new(), "+15550100003"));
    let other_deployment_trunk = lk.insert_inbound_out_of_band(stray_trunk(
        meta(trunkline_domain::TrunkId::generate().as_str()),
        "+15550100004",
    ));
    let c = livekit_client(&lk);
    let mut made = Vec::new();
    for (owner, fake_trunk) in [
        (Some(gone_rule.as_str()), "ST_fake1"),
        (Some(rule_id.as_str()), "ST_fake2"),
        (None, "ST_fake3"),
        (Some("SDR_of_another_deployment_000000000"), "ST_fake4"),
    ] {
        let created = c
            .create_dispatch_rule(stray_rule(owner, fake_trunk))
            .await
            .unwrap();
        made.push(created.sip_dispatch_rule_id);
    }
    let [late_rule, dup_rule, foreign_rule, other_deployment_rule] = made.try_into().unwrap();

    let report = server.reconcile().await;
    assert_eq!(report.inbound.removed, 2, "{report:?}");
    assert_eq!(report.rules.removed, 2, "{report:?}");
    assert!(
        lk.inbound_trunk(&late_trunk).is_none(),
        "late trunk of a deleted row"
    );
    assert!(lk.inbound_trunk(&dup_trunk).is_none(), "duplicate trunk");
    assert!(
        lk.dispatch_rule(&late_rule).is_none(),
        "late rule of a deleted row"
    );
    assert!(lk.dispatch_rule(&dup_rule).is_none(), "duplicate rule");
    assert!(
        lk.inbound_trunk(&lk_trunk).is_some(),
        "the trunk the row points at stays"
    );
    assert!(
        lk.dispatch_rule(&lk_rule).is_some(),
        "the rule the row points at stays"
    );
    assert!(
        lk.inbound_trunk(&foreign_trunk).is_some(),
        "a trunk made by hand stays"
    );
    assert!(lk.inbound_trunk(&other_deployment_trunk).is_some());
    assert!(
        lk.dispatch_rule(&foreign_rule).is_some(),
        "a rule made by hand stays"
    );
    assert!(lk.dispatch_rule(&other_deployment_rule).is_some());
    assert_eq!(
        sorted(
            lk.inbound_trunks()
                .into_iter()
                .map(|t| t.sip_trunk_id)
                .collect()
        ),
        sorted(vec![lk_trunk, foreign_trunk, other_deployment_trunk])
    );
    assert_eq!(server.reconcile().await, Default::default());
    server.stop().await;
}

fn livekit_info_metadata(id: &str) -> String {
    trunkline_core::provisioning::livekit_info::metadata(id)
}

/// What a crash between LiveKit's create and our commit leaves: a pending row holding its
/// number claim, and a LiveKit trunk naming it. Returns (row id, LiveKit id).
async fn interrupted_inbound_create(
    server: &TestServer,
    lk: &LiveKitDouble,
    number: &str,
) -> (String, String) {
    let mut row = server
        .store
        .inbound_trunks()
        .all_live()
        .await
        .unwrap()
        .remove(0);
    row.id = trunkline_domain::TrunkId::generate().to_string();
    row.status = trunkline_store::Status::Pending;
    row.livekit_trunk_id = None;
    let mut config: Value = serde_json::from_str(&row.config).unwrap();
    config["numbers"] = json!([number]);
    row.config = config.to_string();
    let claim = NumberClaim {
        number: number.into(),
        caller: String::new(),
    };
    server
        .store
        .insert_claiming(&row, &[claim][..])
        .await
        .unwrap()
        .expect("the number is free");
    let lk_id = lk.insert_inbound_out_of_band(stray_trunk(livekit_info_metadata(&row.id), number));
    (row.id, lk_id)
}

#[tokio::test]
async fn a_pending_inbound_trunk_past_its_grace_is_retired_and_its_number_freed() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let other = server.tenant("b@example.com").await;
    let (keep, lk_keep) = trunk(&server, &key, "+15550100000").await;
    let (pending, orphan) = interrupted_inbound_create(&server, &lk, "+15550100009").await;
    let (status, json) = server
        .post("/sip/inbound-trunks", &other, &trunk_body("+15550100009"))
        .await;
    assert_eq!(status, 409, "the pending create holds the number: {json}");

    // Within its grace period a pending create may still be completing: left alone.
    let report = server
        .state
        .provisioner
        .clone()
        .with_pending_grace(Duration::from_secs(3600))
        .reconcile_once()
        .await
        .unwrap();
    assert_eq!(report.inbound.abandoned, 0, "{report:?}");
    assert!(lk.inbound_trunk(&orphan).is_some());

    let report = server.reconcile().await; // grace zero
    assert_eq!(report.inbound.abandoned, 1, "{report:?}");
    assert!(
        lk.inbound_trunk(&orphan).is_none(),
        "its LiveKit trunk is removed"
    );
    assert!(lk.inbound_trunk(&lk_keep).is_some());
    assert!(server
        .store
        .inbound_trunks()
        .live(&pending)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        trunk_details(&server, &key, &keep).await["provisioning"]["status"],
        "provisioned"
    );

    // The claim went with the row: another account may now take the number.
    let (_, lk_new) = trunk(&server, &other, "+15550100009").await;
    assert_eq!(lk.inbound_trunk(&lk_new).unwrap().numbers, ["+15550100009"]);
    server.stop().await;
}

#[tokio::test]
async fn a_pending_rule_past_its_grace_is_retired_and_its_keys_freed() {
    let Env {
        lk,
        _db,
        server,
        key,
    } = env().await;
    let (t, _) = trunk(&server, &key, "+15550100000").await;
    let body = json!({"name": "r", "rule": {"type": "individual", "room_prefix": "call-"},
                      "trunk_ids": [t]});
    let live = rule(&server, &key, body.clone()).await;
    // Copy the live rule into a pending one: retire the live one first, keeping its keys
    // for the copy, as a crash mid-create would leave them.
    let mut row = server
        .store
        .dispatch_rules()
        .all_live()
        .await
        .unwrap()
        .remove(0);
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/dispatch-rules/{}", live["rule_id"].as_str().unwrap()),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    row.id = trunkline_domain::ids::DispatchRuleId::generate().to_string();
    row.status = trunkline_store::Status::Pending;
    row.livekit_rule_id = None;
    let config = dispatch::open(&row).unwrap();
    let keys = dispatch::keys(&config).unwrap();
    server
        .store
        .insert_claiming(
            &row,
            &trunkline_store::RuleClaims {
                trunk_ids: std::slice::from_ref(&t),
                keys: &keys,
            },
        )
        .await
        .unwrap()
        .expect("no conflict");
    let orphan = livekit_client(&lk)
        .create_dispatch_rule(stray_rule(Some(&row.id), "ST_fake"))
        .await
        .unwrap()
        .sip_dispatch_rule_id;
    let (status, json) = server.post("/sip/dispatch-rules", &key, &body).await;
    assert_eq!(status, 409, "the pending create holds the keys: {json}");

    let report = server.reconcile().await;
    assert_eq!(report.rules.abandoned, 1, "{report:?}");
    assert!(lk.dispatch_rule(&orphan).is_none());
    let again = rule(&server, &key, body).await;
    assert_eq!(again["provisioning"]["status"], "provisioned");
    server.stop().await;
}

#[tokio::test]
async fn the_background_loop_recreates_an_inbound_trunk_deleted_out_of_band() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    // The real background loop, at a short interval: no manual pass in this test.
    let server =
        TestServer::start_with(&db, LiveKit::Double(&lk), Some(Duration::from_millis(100))).await;
    let key = server.tenant("a@example.com").await;
    let (t, old) = trunk(&server, &key, "+15550100000").await;
    assert!(lk.delete_out_of_band(&old));
    let new = eventually("inbound trunk recreated", || async {
        let d = trunk_details(&server, &key, &t).await;
        let id = d["livekit_trunk_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (id != old && !id.is_empty()).then_some(id)
    })
    .await;
    assert!(lk.inbound_trunk(&new).is_some());
    // The inbound module's marker is what the reconciler reads back.
    assert_eq!(
        inbound::owner(&lk.inbound_trunk(&new).unwrap()).as_deref(),
        Some(t.as_str())
    );
    server.stop().await;
}

#[tokio::test]
async fn retiring_a_create_that_completed_meanwhile_keeps_its_claims() {
    let Env {
        lk: _lk,
        _db,
        server,
        key,
    } = env().await;
    let other = server.tenant("b@example.com").await;
    let (t, _) = trunk(&server, &key, "+15550100000").await;
    let body = json!({"name": "r", "rule": {"type": "individual", "room_prefix": "call-"},
                      "trunk_ids": [t]});
    let r = rule(&server, &key, body.clone()).await;
    let tenant = server
        .store
        .inbound_trunks()
        .live(&t)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    // What a reconciler that read both rows as pending just before their creates were
    // confirmed does next: the retire finds nothing pending and must release nothing.
    assert!(!server
        .store
        .inbound_trunks()
        .abandon_pending(&tenant, &t)
        .await
        .unwrap());
    assert!(!server
        .store
        .dispatch_rules()
        .abandon_pending(&tenant, r["rule_id"].as_str().unwrap())
        .await
        .unwrap());
    let (status, json) = server
        .post("/sip/inbound-trunks", &other, &trunk_body("+15550100000"))
        .await;
    assert_eq!(status, 409, "the live trunk still owns its number: {json}");
    let (status, json) = server.post("/sip/dispatch-rules", &key, &body).await;
    assert_eq!(status, 409, "the live rule still holds its keys: {json}");
    server.stop().await;
}
