//! Dispatch rules across accounts and outages, against the LiveKit double: another
//! account's rule is a 404, two accounts' room and agent names never meet in LiveKit, LiveKit
//! down on PATCH or DELETE changes nothing, rules without LiveKit are stored unprovisioned,
//! and the OpenAPI document lists the paths.

mod support;
use serde_json::json;
use support::rule_fixture::*;
use support::*;
use trunkline_livekit::proto::sip_dispatch_rule::Rule;

#[tokio::test]
async fn another_accounts_rule_is_a_404() {
    let Env {
        lk: _lk,
        server,
        key,
        _db,
    } = env().await;
    let other = server.tenant("other@example.com").await;
    let (o1, _) = trunk(&server, &other, "+15550300000").await;
    let d = created(
        &server,
        &other,
        &json!({"name": "Theirs", "rule": {"type": "direct", "room_name": "x"}, "trunk_ids": [o1]}),
    )
    .await;
    let path = format!("/sip/dispatch-rules/{}", d["rule_id"].as_str().unwrap());
    for method in ["GET", "PATCH", "DELETE"] {
        let (status, json) = server
            .send(method, &path, Some(&key), Some(r#"{"name": "mine"}"#))
            .await;
        assert_eq!(status, 404, "{method}: {json}");
        assert!(!json.to_string().contains("Theirs"));
    }
    let (_, json) = server.get("/sip/dispatch-rules", &key).await;
    assert_eq!(json["data"]["rules"], json!([]));
    let (_, json) = server.get(&path, &other).await;
    assert_eq!(json["data"]["name"], "Theirs");
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
    let (t1, _) = trunk(&server, &key, "+15550100000").await;
    let d = created(
        &server,
        &key,
        &json!({"name": "R", "rule": {"type": "individual", "room_prefix": "call-"},
                "trunk_ids": [t1], "pin": "1234"}),
    )
    .await;
    let lk_id = d["livekit_rule_id"].as_str().unwrap().to_owned();
    let path = format!("/sip/dispatch-rules/{}", d["rule_id"].as_str().unwrap());
    let (_, before) = server.get(&path, &key).await;

    lk.fail_next("unavailable", "sip not connected");
    let (status, json) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"name": "x", "pin": "5678"}"#),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    let (_, after) = server.get(&path, &key).await;
    assert_eq!(before, after);
    assert_eq!(lk.dispatch_rule(&lk_id).unwrap().name, "R");
    // The keys the failed PATCH reserved were released: another rule may use pin 5678.
    created(
        &server,
        &key,
        &json!({"name": "S", "rule": {"type": "individual", "room_prefix": "c-"},
                "trunk_ids": [t1], "pin": "5678"}),
    )
    .await;

    lk.fail_next("unavailable", "sip not connected");
    let (status, json) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 503, "{json}");
    let (status, after) = server.get(&path, &key).await;
    assert_eq!(status, 200);
    assert_eq!(before, after);
    assert!(lk.dispatch_rule(&lk_id).is_some());

    let handle = lk.clone();
    lk.shutdown().await;
    let (status, _) = server
        .send("PATCH", &path, Some(&key), Some(r#"{"name": "y"}"#))
        .await;
    assert_eq!(status, 503);
    let (status, _) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 503);
    let (_, after) = server.get(&path, &key).await;
    assert_eq!(before, after);
    assert_eq!(handle.dispatch_rule(&lk_id).unwrap().name, "R");
    server.stop().await;
}

#[tokio::test]
async fn without_livekit_rules_are_stored_unprovisioned() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, json) = server
        .send(
            "POST",
            "/sip/dispatch-rules",
            Some(&key),
            Some(SEED_002_DISPATCH),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"]["provisioning"]["status"], "unprovisioned");
    let (status, _) = server
        .send(
            "POST",
            "/sip/dispatch-rules",
            Some(&key),
            Some(SEED_002_DISPATCH),
        )
        .await;
    assert_eq!(status, 409, "the same catch-all twice");
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_new_paths() {
    let Env {
        lk: _lk,
        server,
        _db,
        ..
    } = env().await;
    let (status, json) = server.send("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    for p in [
        "/sip/inbound-trunks",
        "/sip/inbound-trunks/{trunk_id}",
        "/sip/dispatch-rules",
        "/sip/dispatch-rules/{rule_id}",
    ] {
        assert!(json["paths"].get(p).is_some(), "{p}");
    }
    assert!(json["components"]["schemas"]
        .get("DispatchRuleDetails")
        .is_some());
    server.stop().await;
}

/// All tenants share one LiveKit project: the same room and agent names given by two
/// tenants must be different rooms and agents there, while each tenant sees its own names.
#[tokio::test]
async fn two_tenants_same_room_and_agent_names_are_different_in_livekit() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let other = server.tenant("b@example.com").await;
    let body = json!({"name": "Support", "rule": {"type": "direct", "room_name": "support"},
                      "room_config": {"agents": [{"agent_name": "helper"}]}});
    let mut lk_rooms = vec![];
    let mut lk_agents = vec![];
    for (k, number) in [(&key, "+15550100000"), (&other, "+15550100001")] {
        trunk(&server, k, number).await;
        let d = created(&server, k, &body).await;
        let (status, json) = server
            .get(
                &format!("/sip/dispatch-rules/{}", d["rule_id"].as_str().unwrap()),
                k,
            )
            .await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["data"]["rule"]["room_name"], "support", "{json}");
        assert_eq!(
            json["data"]["room_config"]["agents"][0]["agent_name"],
            "helper"
        );
        let r = lk_rule(&lk, &d);
        match r.rule.and_then(|r| r.rule) {
            Some(Rule::DispatchRuleDirect(d)) => lk_rooms.push(d.room_name),
            other => panic!("{other:?}"),
        }
        lk_agents.push(r.room_config.unwrap().agents[0].agent_name.clone());
    }
    assert_ne!(lk_rooms[0], lk_rooms[1], "one room for both tenants");
    assert_ne!(lk_agents[0], lk_agents[1], "one agent for both tenants");
    for name in lk_rooms.iter() {
        assert_eq!(own(name), "support");
    }

    // Naming trunkline's call rooms is refused, by field.
    let (status, json) = create(
        &server,
        &key,
        &json!({"name": "Sneak", "rule": {"type": "direct", "room_name": "CL_0123456789abcdef0123456789abcdef"}}),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(
        json["data"]["errors"][0]["field"], "rule.room_name",
        "{json}"
    );
}
