//! Dispatch rules against the LiveKit double: both input shapes, validation by field, the
//! translation of trunkline trunk ids to LiveKit's, account isolation (a rule never reaches
//! another account's trunks), conflicts, and PATCH/DELETE through LiveKit.

mod support;
use serde_json::{json, Value};
use support::rule_fixture::*;
use support::*;
use trunkline_livekit::proto::sip_dispatch_rule::Rule;

#[tokio::test]
async fn snake_case_create_translates_trunk_ids_and_number_filters() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (t1, lk1) = trunk(&server, &key, "+15550100000").await;
    let d = created(
        &server,
        &key,
        &json!({
            "name": "Support",
            "rule": {"type": "callee", "room_prefix": "support-", "randomize": true},
            "pin": "12345",
            "trunk_ids": [t1],
            "dialed_numbers": ["+15550100000"],
            "caller_numbers": ["+15550199999"],
            "room_config": {"agents": [{"agent_name": "support-agent", "metadata": "{\"tier\":1}"}]},
            "metadata": "m"
        }),
    )
    .await;
    let id = d["rule_id"].as_str().unwrap();
    assert!(id.starts_with("SDR_") && id.len() == 36, "{id}");
    assert_eq!(d["provisioning"]["status"], "provisioned");
    assert_eq!(d["trunk_ids"], json!([t1]), "our ids, not LiveKit's");
    assert_eq!(d["dialed_numbers"], json!(["+15550100000"]));
    assert_eq!(d["caller_numbers"], json!(["+15550199999"]));
    assert_eq!(
        d["rule"],
        json!({"type": "callee", "room_prefix": "support-", "randomize": true})
    );
    let r = lk_rule(&lk, &d);
    assert_eq!(r.trunk_ids, [lk1]);
    assert_eq!(r.numbers, ["+15550100000"], "dialed = LiveKit numbers");
    assert_eq!(
        r.inbound_numbers,
        ["+15550199999"],
        "callers = LiveKit inbound_numbers"
    );
    assert_eq!(r.name, "Support");
    assert_eq!(r.metadata, "m");
    assert_eq!(
        r.attributes.get("trunkline_rule_id").map(String::as_str),
        Some(id)
    );
    match r.rule.and_then(|r| r.rule) {
        Some(Rule::DispatchRuleCallee(c)) => {
            assert_eq!(own(&c.room_prefix), "support-");
            assert_eq!(c.pin, "12345");
            assert!(c.randomize);
        }
        other => panic!("{other:?}"),
    }
    let agents = r.room_config.unwrap().agents;
    assert_eq!(agents.len(), 1);
    assert_eq!(own(&agents[0].agent_name), "support-agent");
    assert_eq!(agents[0].metadata, "{\"tier\":1}");

    // The direct kind.
    let d = created(
        &server,
        &key,
        &json!({"name": "Conf", "rule": {"type": "direct", "room_name": "conference"},
                "trunk_ids": [t1], "pin": "9999"}),
    )
    .await;
    match lk_rule(&lk, &d).rule.and_then(|r| r.rule) {
        Some(Rule::DispatchRuleDirect(r)) => {
            assert_eq!((own(&r.room_name), r.pin.as_str()), ("conference", "9999"))
        }
        other => panic!("{other:?}"),
    }
    let (status, json) = server.get("/sip/dispatch-rules", &key).await;
    assert_eq!(status, 200);
    assert_eq!(json["data"]["rules"].as_array().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn seed_002_dispatch_json_verbatim_applies_to_the_accounts_trunks_only() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let other = server.tenant("other@example.com").await;
    let (_, their_lk) = trunk(&server, &other, "+15550300000").await;

    // Before the account has an inbound trunk, LiveKit gets nothing (a rule without trunks
    // would take every account's calls).
    let (status, json) = server
        .send(
            "POST",
            "/sip/dispatch-rules",
            Some(&key),
            Some(SEED_002_DISPATCH),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    assert_eq!(d["name"], "Twilio Individual Room Dispatch");
    assert_eq!(d["provisioning"]["status"], "awaiting_trunk");
    assert_eq!(d["livekit_rule_id"], Value::Null);
    assert_eq!(d["trunk_ids"], json!([]));
    assert_eq!(
        d["room_config"]["agents"],
        json!([{"agent_name": "voice-agent", "metadata": "Twilio inbound call handler"}])
    );
    assert!(lk.dispatch_rules().is_empty());
    let path = format!("/sip/dispatch-rules/{}", d["rule_id"].as_str().unwrap());

    // Seed 002's order: the trunk, and the rule follows it into LiveKit.
    let (_, lk1) = trunk(&server, &key, "+13074606119").await;
    let (_, json) = server.get(&path, &key).await;
    assert_eq!(
        json["data"]["provisioning"]["status"], "provisioned",
        "{json}"
    );
    let r = lk_rule(&lk, &json["data"]);
    assert_eq!(r.trunk_ids, std::slice::from_ref(&lk1));
    assert!(!r.trunk_ids.contains(&their_lk));
    match r.rule.and_then(|r| r.rule) {
        Some(Rule::DispatchRuleIndividual(i)) => {
            assert_eq!(own(&i.room_prefix), "call-");
            assert!(!i.no_randomness);
        }
        other => panic!("{other:?}"),
    }
    let agents = r.room_config.unwrap().agents;
    assert_eq!(own(&agents[0].agent_name), "voice-agent");
    assert_eq!(agents[0].metadata, "Twilio inbound call handler");

    // A second trunk joins the rule; deleting it leaves it again.
    let (t2, lk2) = trunk(&server, &key, "+13074606120").await;
    let mut ids = lk_rule(&lk, &json["data"]).trunk_ids;
    ids.sort();
    let mut want = vec![lk1.clone(), lk2];
    want.sort();
    assert_eq!(ids, want);
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{t2}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(lk_rule(&lk, &json["data"]).trunk_ids, [lk1]);
    assert!(lk
        .dispatch_rules()
        .iter()
        .all(|r| !r.trunk_ids.is_empty() && !r.trunk_ids.contains(&their_lk)));
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
    let (t1, _) = trunk(&server, &key, "+15550100000").await;
    let ok_rule = json!({"type": "individual", "room_prefix": "call-"});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"rule": ok_rule}), "name"),
        (json!({"name": "r"}), "rule"),
        (json!({"name": "r", "rule": {}}), "rule.type"),
        (
            json!({"name": "r", "rule": {"type": "round-robin"}}),
            "rule.type",
        ),
        (
            json!({"name": "r", "rule": {"type": "individual", "room_prefix": "bad prefix!"}}),
            "rule.room_prefix",
        ),
        (
            json!({"name": "r", "rule": {"type": "direct"}}),
            "rule.room_name",
        ),
        (
            json!({"name": "r", "rule": {"type": "callee", "room_name": "x"}}),
            "rule.room_name",
        ),
        (json!({"name": "r", "rule": ok_rule, "pin": "12"}), "pin"),
        (json!({"name": "r", "rule": ok_rule, "pin": "12ab"}), "pin"),
        (
            json!({"name": "r", "rule": ok_rule, "trunk_ids": ["ST_nope"]}),
            "trunk_ids[0]",
        ),
        (
            json!({"name": "r", "rule": ok_rule, "trunk_ids": [t1, "ST_0123456789abcdef0123456789abcdef"]}),
            "trunk_ids[1]",
        ),
        (
            json!({"name": "r", "rule": ok_rule, "dialed_numbers": ["555"]}),
            "dialed_numbers[0]",
        ),
        (
            json!({"name": "r", "rule": ok_rule, "caller_numbers": ["+1", "x"]}),
            "caller_numbers[0]",
        ),
        (
            json!({"name": "r", "rule": ok_rule, "room_config": {"agents": [{"metadata": "m"}]}}),
            "room_config.agents[0].agent_name",
        ),
        (
            json!({"name": "r", "rule": ok_rule, "room_config": {"agents": [{"agent_name": "has space"}]}}),
            "room_config.agents[0].agent_name",
        ),
        (
            json!({"name": "r", "rule": ok_rule, "inbound_numbers": ["+15550100000"]}),
            "inbound_numbers",
        ),
        (
            json!({"dispatch_rule": {"name": "r", "rule": {"dispatchRuleDirect": {}}}}),
            "dispatch_rule.rule.room_name",
        ),
        (
            json!({"dispatch_rule": {"name": "r", "rule": {"dispatchRuleDirect": {"roomName": "a"},
                   "dispatchRuleIndividual": {}}}}),
            "dispatch_rule.rule",
        ),
        (json!("text"), "body"),
    ];
    for (body, field) in cases {
        let (status, json) = create(&server, &key, &body).await;
        assert_eq!(status, 400, "{body}: {json}");
        let fields: Vec<&str> = json["data"]["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}: {json}"))
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: want {field}, got {json}");
    }
    let (_, json) = server.get("/sip/dispatch-rules", &key).await;
    assert_eq!(json["data"]["rules"], json!([]));
    assert!(lk.dispatch_rules().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn trunk_ids_must_be_the_accounts_own_inbound_trunks() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let other = server.tenant("other@example.com").await;
    let (theirs, _) = trunk(&server, &other, "+15550300000").await;
    let outbound = server.create(&key, &seed_twilio()).await;
    for t in [theirs.as_str(), outbound.as_str()] {
        let (status, json) = create(
            &server,
            &key,
            &json!({"name": "r", "rule": {"type": "direct", "room_name": "x"}, "trunk_ids": [t]}),
        )
        .await;
        assert_eq!(status, 400, "{json}");
        assert_eq!(json["data"]["errors"][0]["field"], "trunk_ids[0]", "{json}");
    }
    assert!(lk.dispatch_rules().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_same_trunk_numbers_and_pin_twice_is_a_409() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (t1, _) = trunk(&server, &key, "+15550100000").await;
    let (t2, _) = trunk(&server, &key, "+15550100001").await;
    let body = |name: &str, trunks: Value, pin: Option<&str>| {
        let mut b = json!({"name": name, "rule": {"type": "individual", "room_prefix": "call-"},
                           "trunk_ids": trunks, "dialed_numbers": ["+15550100000"]});
        if let Some(p) = pin {
            b["pin"] = json!(p);
        }
        b
    };
    let first = created(&server, &key, &body("First", json!([t1]), None)).await;
    let first_id = first["rule_id"].as_str().unwrap();
    let (status, json) = create(&server, &key, &body("Again", json!([t2, t1]), None)).await;
    assert_eq!(status, 409, "{json}");
    let msg = json["message"].as_str().unwrap();
    assert!(msg.contains(first_id) && msg.contains("First"), "{msg}");
    // A rule without trunk_ids covers t1 too.
    let (status, _) = create(&server, &key, &body("All", json!([]), None)).await;
    assert_eq!(status, 409);
    // Another pin, or other trunks, are different rules.
    created(&server, &key, &body("With pin", json!([t1]), Some("4321"))).await;
    created(&server, &key, &body("Other trunk", json!([t2]), None)).await;
    assert_eq!(lk.dispatch_rules().len(), 3);
    // Another account's identical rule on its own trunk is no conflict of ours.
    let other = server.tenant("other@example.com").await;
    let (o1, _) = trunk(&server, &other, "+15550300000").await;
    created(&server, &other, &body("First", json!([o1]), None)).await;
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
    let (t1, lk1) = trunk(&server, &key, "+15550100000").await;
    let (t2, lk2) = trunk(&server, &key, "+15550100001").await;
    let d = created(
        &server,
        &key,
        &json!({"name": "R", "rule": {"type": "individual", "room_prefix": "call-"}, "trunk_ids": [t1]}),
    )
    .await;
    let lk_id = d["livekit_rule_id"].as_str().unwrap().to_owned();
    let path = format!("/sip/dispatch-rules/{}", d["rule_id"].as_str().unwrap());

    // The trunk a rule names cannot be deleted from under it.
    let (status, json) = server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{t1}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 409, "{json}");
    assert!(json["message"]
        .as_str()
        .unwrap()
        .contains(d["rule_id"].as_str().unwrap()));
    assert!(lk.inbound_trunk(&lk1).is_some());

    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(
                &json!({"name": "R2", "trunk_ids": [t2], "pin": "2468",
                          "rule": {"type": "direct", "room_name": "lobby"},
                          "room_config": {"agents": [{"agent_name": "a2"}]}})
                .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["trunk_ids"], json!([t2]));
    assert_eq!(json["data"]["livekit_rule_id"], lk_id.as_str());
    let r = lk.dispatch_rule(&lk_id).unwrap();
    assert_eq!(r.name, "R2");
    assert_eq!(r.trunk_ids, [lk2]);
    assert!(
        matches!(r.rule.and_then(|r| r.rule), Some(Rule::DispatchRuleDirect(d)) if own(&d.room_name) == "lobby" && d.pin == "2468")
    );
    assert_eq!(own(&r.room_config.unwrap().agents[0].agent_name), "a2");
    // t1 is free now.
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{t1}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let (status, json) = server
        .send("PATCH", &path, Some(&key), Some(r#"{"pin": null}"#))
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["pin"], Value::Null);
    let (status, json) = server
        .send("PATCH", &path, Some(&key), Some(r#"{"pin": "1"}"#))
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "pin");

    let (status, json) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 200, "{json}");
    assert!(lk.dispatch_rule(&lk_id).is_none());
    assert!(lk.dispatch_rules().is_empty());
    let (status, _) = server.get(&path, &key).await;
    assert_eq!(status, 404);
    let (status, _) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 404);
    // Another account never sees it, nor could change it.
    server.stop().await;
}
