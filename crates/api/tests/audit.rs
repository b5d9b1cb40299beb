//! The audit of configuration changes (`GET /audit`): every change recorded with its key,
//! version and before/after without secrets; failed writes and the reconciler's own writes
//! record nothing; tenants see only their own records.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::*;

const PASSWORD: &str = "your_auth_token_here";
const NEW_PASSWORD: &str = "a-new-s3cret-token";

async fn key_id(server: &TestServer, key: &str) -> String {
    let (status, json) = server.get("/keys", key).await;
    assert_eq!(status, 200, "{json}");
    json["data"][0]["key_id"].as_str().unwrap().to_owned()
}

/// Every record of the tenant, following `next_cursor` pages of `limit`.
async fn all_records(server: &TestServer, key: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/audit?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, json) = server.get(&path, key).await;
        assert_eq!(status, 200, "{json}");
        out.extend(json["data"]["records"].as_array().unwrap().iter().cloned());
        match json["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn config_version(server: &TestServer, key: &str) -> i64 {
    let (status, json) = server.get("/audit?limit=1", key).await;
    assert_eq!(status, 200, "{json}");
    json["data"]["config_version"].as_i64().unwrap()
}

fn summary(records: &[Value]) -> Vec<(i64, String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["version"].as_i64().unwrap(),
                r["object_kind"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_trunks_life_is_recorded_with_key_versions_and_secret_markers() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = server.tenant("a@example.com").await;
    let kid = key_id(&server, &key).await;
    assert_eq!(config_version(&server, &key).await, 0);

    let id = server.create(&key, &seed_twilio()).await;
    let path = format!("/sip/trunks/{id}");
    for patch in [
        json!({"trunk_config": {"numbers": ["+15550100009"]}}),
        json!({"trunk_config": {"password": NEW_PASSWORD}}),
        // The same values again: nothing changes, nothing is recorded.
        json!({"trunk_config": {"password": NEW_PASSWORD}}),
    ] {
        let (st, j) = server
            .send("PATCH", &path, Some(&key), Some(&patch.to_string()))
            .await;
        assert_eq!(st, 200, "{j}");
    }
    let (st, j) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(st, 200, "{j}");

    let records = all_records(&server, &key, "", 2).await;
    let kinds = |a: &str| (0, "outbound_trunk".to_owned(), a.to_owned());
    let expected: Vec<_> = ["create", "update", "update", "delete"]
        .iter()
        .enumerate()
        .map(|(i, a)| (i as i64 + 1, kinds(a).1, kinds(a).2))
        .collect();
    assert_eq!(summary(&records), expected);
    assert_eq!(config_version(&server, &key).await, 4);
    for r in &records {
        assert_eq!(r["key_id"], kid.as_str(), "{r}");
        assert_eq!(r["object_id"], id.as_str());
        assert!(r["at"].as_str().unwrap().starts_with("20"), "{r}");
    }
    let (create, numbers, password, delete) = (&records[0], &records[1], &records[2], &records[3]);
    assert_eq!(create["before"], Value::Null);
    assert_eq!(create["after"]["name"], "Twilio Production");
    assert_eq!(create["after"]["secrets"]["password"], "set");
    assert_eq!(
        numbers["before"]["config"]["numbers"],
        json!(["+15550100000"])
    );
    assert_eq!(
        numbers["after"]["config"]["numbers"],
        json!(["+15550100009"])
    );
    assert_eq!(numbers["after"]["secrets"]["password"], "kept");
    assert_eq!(password["after"]["secrets"]["password"], "changed");
    assert_eq!(delete["after"], Value::Null);
    assert_eq!(
        delete["before"]["config"]["numbers"],
        json!(["+15550100009"])
    );

    let (_, raw) = server.get("/audit", &key).await;
    let text = raw.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains(NEW_PASSWORD));
    server.stop().await;
    lk.shutdown().await;
}

#[tokio::test]
async fn every_kind_of_configuration_is_recorded_and_filterable() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let trunk = server.create(&key, &seed_twilio()).await;
    let (st, j) = server
        .send(
            "PUT",
            &format!("/sip/trunks/{trunk}/call-limits"),
            Some(&key),
            Some(&json!({"calls_per_second": 2.5, "max_concurrent_calls": 7}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let (st, j) = server
        .send(
            "PUT",
            &format!("/sip/trunks/{trunk}/health-check"),
            Some(&key),
            Some(&json!({"enabled": true, "interval_seconds": 30}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let (st, j) = server
        .post(
            "/assistants",
            &key,
            &json!({"name": "Sales", "agent_name": "outbound-caller"}),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let assistant = j["data"]["assistant_id"].as_str().unwrap().to_owned();
    let (st, j) = server
        .send(
            "PATCH",
            &format!("/assistants/{assistant}"),
            Some(&key),
            Some(&json!({"name": "Sales EU"}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let inbound = server
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "line", "numbers": ["+15550100111"], "auth_username": "u", "auth_password": "inbound-pw-1234"}),
        )
        .await;
    assert_eq!(inbound.0, 200, "{}", inbound.1);
    let inbound_id = inbound.1["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (st, j) = server
        .post(
            "/sip/dispatch-rules",
            &key,
            &json!({"name": "r", "trunk_ids": [inbound_id], "rule": {"type": "individual", "room_prefix": "call-"}}),
        )
        .await;
    assert_eq!(st, 200, "{j}");

    let records = all_records(&server, &key, "", 50).await;
    let kinds: Vec<(String, String)> = summary(&records)
        .into_iter()
        .map(|(_, k, a)| (k, a))
        .collect();
    let pair = |k: &str, a: &str| (k.to_owned(), a.to_owned());
    assert_eq!(
        kinds,
        [
            pair("outbound_trunk", "create"),
            pair("call_limits", "update"),
            pair("health_check", "create"),
            pair("assistant", "create"),
            pair("assistant", "update"),
            pair("inbound_trunk", "create"),
            pair("dispatch_rule", "create"),
        ]
    );
    let versions: Vec<i64> = summary(&records).iter().map(|r| r.0).collect();
    assert_eq!(versions, (1..=7).collect::<Vec<_>>());
    assert_eq!(records[1]["after"]["calls_per_second"], 2.5);
    assert_eq!(records[1]["before"]["max_concurrent_calls"], Value::Null);
    assert_eq!(records[2]["after"]["interval_secs"], 30);
    assert_eq!(records[5]["after"]["secrets"]["auth_password"], "set");
    assert!(!json!(records).to_string().contains("inbound-pw-1234"));

    // By kind, by object, by both.
    let only = all_records(&server, &key, "&object_kind=assistant", 50).await;
    assert_eq!(only.len(), 2);
    assert!(only.iter().all(|r| r["object_id"] == assistant.as_str()));
    let by_id = all_records(&server, &key, &format!("&object_id={trunk}"), 50).await;
    let by_id_kinds: Vec<_> = by_id.iter().map(|r| r["object_kind"].clone()).collect();
    assert_eq!(
        by_id_kinds,
        [
            json!("outbound_trunk"),
            json!("call_limits"),
            json!("health_check")
        ]
    );
    let both = all_records(
        &server,
        &key,
        &format!("&object_id={trunk}&object_kind=call_limits"),
        1,
    )
    .await;
    assert_eq!(both.len(), 1);

    // A filter no record could match is refused, naming the parameter.
    let (st, j) = server.get("/audit?object_kind=trunk", &key).await;
    assert_eq!(st, 400, "{j}");
    assert_eq!(j["data"]["errors"][0]["field"], "object_kind", "{j}");
    let (st, j) = server.get("/audit?limit=0", &key).await;
    assert_eq!(st, 400, "{j}");
    server.stop().await;
}

#[tokio::test]
async fn failed_writes_leave_no_record_and_no_new_version() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = server.tenant("a@example.com").await;
    let id = server.create(&key, &seed_twilio()).await;
    let path = format!("/sip/trunks/{id}");

    // Invalid input.
    let (st, j) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(&json!({"trunk_config": {"numbers": []}}).to_string()),
        )
        .await;
    assert_eq!(st, 400, "{j}");
    // A claim conflict: a second inbound trunk for a number already held.
    let body = json!({"name": "line", "numbers": ["+15550100222"]});
    let (st, j) = server.post("/sip/inbound-trunks", &key, &body).await;
    assert_eq!(st, 200, "{j}");
    let (st, j) = server.post("/sip/inbound-trunks", &key, &body).await;
    assert_eq!(st, 409, "{j}");
    assert_eq!(config_version(&server, &key).await, 2);

    // LiveKit unreachable: the create and the change fail, the delete too.
    lk.shutdown().await;
    let (st, j) = server
        .post("/sip/create-outbound-trunk", &key, &seed_twilio())
        .await;
    assert!(st >= 500, "{st} {j}");
    let (st, j) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(&json!({"trunk_name": "Renamed"}).to_string()),
        )
        .await;
    assert!(st >= 500, "{st} {j}");
    let (st, j) = server.send("DELETE", &path, Some(&key), None).await;
    assert!(st >= 500, "{st} {j}");

    let records = all_records(&server, &key, "", 50).await;
    assert_eq!(
        summary(&records),
        [
            (1, "outbound_trunk".to_owned(), "create".to_owned()),
            (2, "inbound_trunk".to_owned(), "create".to_owned())
        ]
    );
    assert_eq!(config_version(&server, &key).await, 2);
    server.stop().await;
}

#[tokio::test]
async fn the_reconcilers_repairs_are_not_configuration_changes() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = server.tenant("a@example.com").await;
    server.create(&key, &seed_twilio()).await;
    let lk_id = lk.outbound_trunks()[0].sip_trunk_id.clone();
    assert!(lk.delete_out_of_band(&lk_id));
    server.reconcile().await;
    assert_eq!(lk.outbound_trunks().len(), 1, "the reconciler repaired it");
    assert_eq!(all_records(&server, &key, "", 50).await.len(), 1);
    assert_eq!(config_version(&server, &key).await, 1);
    server.stop().await;
    lk.shutdown().await;
}

#[tokio::test]
async fn tenants_see_only_their_own_records() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let a = server.tenant("a@example.com").await;
    let b = server.tenant("b@example.com").await;
    let id = server.create(&a, &seed_twilio()).await;
    assert_eq!(all_records(&server, &a, "", 50).await.len(), 1);
    assert!(all_records(&server, &b, "", 50).await.is_empty());
    assert!(all_records(&server, &b, &format!("&object_id={id}"), 50)
        .await
        .is_empty());
    assert_eq!(config_version(&server, &b).await, 0);
    // B's change to A's trunk is a 404 and records nothing anywhere.
    let (st, _) = server
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&b), None)
        .await;
    assert_eq!(st, 404);
    assert_eq!(config_version(&server, &a).await, 1);
    assert_eq!(config_version(&server, &b).await, 0);
    let (st, _) = server.send("GET", "/audit", None, None).await;
    assert_eq!(st, 401);
    server.stop().await;
}
