//! `GET /config/export` and `POST /config/import`: one document without secrets; a dry run
//! changes nothing; an import converges the tenant (and LiveKit) to the document and a second
//! import changes nothing; another tenant's document imports as a copy.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::*;

const TRUNK_PASSWORD: &str = "your_auth_token_here";
const INBOUND_PASSWORD: &str = "inbound-s3cret-Pa55";

/// A tenant with one of everything: (outbound trunk, inbound trunk, rule, assistant).
async fn furnish(server: &TestServer, key: &str, number: &str) -> (String, String, String, String) {
    let trunk = server.create(key, &seed_twilio()).await;
    let put = |path: String, body: Value| async move {
        let (st, j) = server
            .send("PUT", &path, Some(key), Some(&body.to_string()))
            .await;
        assert_eq!(st, 200, "{j}");
    };
    put(
        format!("/sip/trunks/{trunk}/call-limits"),
        json!({"calls_per_second": 2.5}),
    )
    .await;
    put(
        format!("/sip/trunks/{trunk}/health-check"),
        json!({"enabled": true, "interval_seconds": 30}),
    )
    .await;
    let (st, j) = server
        .post(
            "/sip/inbound-trunks",
            key,
            &json!({"name": "line", "numbers": [number], "auth_username": "carrier",
                    "auth_password": INBOUND_PASSWORD}),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let inbound = j["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (st, j) = server
        .post(
            "/sip/dispatch-rules",
            key,
            &json!({"name": "r", "trunk_ids": [inbound], "rule": {"type": "individual", "room_prefix": "call-"}}),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let rule = j["data"]["rule_id"].as_str().unwrap().to_owned();
    let (st, j) = server
        .post(
            "/assistants",
            key,
            &json!({"name": "Sales", "agent_name": "outbound-caller"}),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let assistant = j["data"]["assistant_id"].as_str().unwrap().to_owned();
    (trunk, inbound, rule, assistant)
}

async fn export(server: &TestServer, key: &str) -> Value {
    let (st, j) = server.get("/config/export", key).await;
    assert_eq!(st, 200, "{j}");
    j["data"].clone()
}

async fn import(server: &TestServer, key: &str, doc: &Value, dry: bool) -> (u16, Value) {
    let path = format!("/config/import?dry_run={dry}");
    server
        .send("POST", &path, Some(key), Some(&doc.to_string()))
        .await
}

fn plan(answer: &Value) -> Vec<(String, String, Vec<String>)> {
    answer["data"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_owned(),
                s["object_kind"].as_str().unwrap().to_owned(),
                s["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// What LiveKit holds, without ids: what a tenant's configuration provisions there.
fn livekit_state(lk: &LiveKitDouble) -> Value {
    let mut out: Vec<(String, i32, Vec<String>, String)> = lk
        .outbound_trunks()
        .into_iter()
        .map(|t| ("outbound".to_owned(), t.transport, t.numbers, t.address))
        .chain(
            lk.inbound_trunks()
                .into_iter()
                .map(|t| ("inbound".to_owned(), 0, t.numbers, t.auth_username)),
        )
        .collect();
    out.sort();
    let mut rules: Vec<String> = lk
        .dispatch_rules()
        .into_iter()
        .map(|r| format!("{:?}", r.rule))
        .collect();
    rules.sort();
    json!({"trunks": format!("{out:?}"), "rules": rules})
}

async fn version(server: &TestServer, key: &str) -> i64 {
    let (_, j) = server.get("/audit?limit=1", key).await;
    j["data"]["config_version"].as_i64().unwrap()
}

#[tokio::test]
async fn the_export_holds_everything_but_secrets() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (trunk, inbound, rule, assistant) = furnish(&server, &key, "+15550100300").await;
    let doc = export(&server, &key).await;
    assert_eq!(doc["format"], "trunkline-config");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["config_version"], version(&server, &key).await);
    let o = &doc["outbound_trunks"][0];
    assert_eq!(o["id"], trunk.as_str());
    assert_eq!(o["trunk_config"]["password"], json!({"kept": true}));
    assert_eq!(o["trunk_config"]["numbers"], json!(["+15550100000"]));
    assert_eq!(o["call_limits"]["calls_per_second"], 2.5);
    assert_eq!(o["health_check"]["interval_seconds"], 30);
    assert_eq!(doc["inbound_trunks"][0]["id"], inbound.as_str());
    assert_eq!(
        doc["inbound_trunks"][0]["auth_password"],
        json!({"kept": true})
    );
    assert_eq!(doc["dispatch_rules"][0]["id"], rule.as_str());
    assert_eq!(doc["dispatch_rules"][0]["trunk_ids"], json!([inbound]));
    assert_eq!(doc["assistants"][0]["id"], assistant.as_str());
    let text = doc.to_string();
    assert!(
        !text.contains(TRUNK_PASSWORD) && !text.contains(INBOUND_PASSWORD),
        "{text}"
    );

    // Another tenant's export holds none of it.
    let other = server.tenant("b@example.com").await;
    let theirs = export(&server, &other).await;
    for kind in [
        "outbound_trunks",
        "inbound_trunks",
        "dispatch_rules",
        "assistants",
    ] {
        assert_eq!(theirs[kind], json!([]), "{kind}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_an_import_converges_once() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = server.tenant("a@example.com").await;
    let (trunk, _, _, assistant) = furnish(&server, &key, "+15550100301").await;
    let doc = export(&server, &key).await;
    let exported_lk = livekit_state(&lk);

    // The own export back: nothing to do.
    let (st, j) = import(&server, &key, &doc, false).await;
    assert_eq!(st, 200, "{j}");
    assert_eq!(plan(&j), vec![], "{j}");
    assert_eq!(j["data"]["copy"], false);
    let v0 = version(&server, &key).await;

    // Changes after the export: a trunk's numbers and limits, an assistant gone, a new
    // inbound trunk.
    let (st, j) = server
        .send(
            "PATCH",
            &format!("/sip/trunks/{trunk}"),
            Some(&key),
            Some(&json!({"trunk_config": {"numbers": ["+15550100999"]}}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let (st, j) = server
        .send(
            "PUT",
            &format!("/sip/trunks/{trunk}/call-limits"),
            Some(&key),
            Some("{}"),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let (st, _) = server
        .send(
            "DELETE",
            &format!("/assistants/{assistant}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(st, 200);
    let (st, j) = server
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "later", "numbers": ["+15550100302"]}),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let changed_version = version(&server, &key).await;
    assert_eq!(changed_version, v0 + 4);
    let changed_lk = livekit_state(&lk);
    assert_ne!(changed_lk, exported_lk);

    let (st, dry) = import(&server, &key, &doc, true).await;
    assert_eq!(st, 200, "{dry}");
    let s = |a: &str, k: &str, f: &[&str]| {
        (
            a.to_owned(),
            k.to_owned(),
            f.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        plan(&dry),
        vec![
            s("delete", "inbound_trunk", &[]),
            s("create", "assistant", &["agent_name", "name"]),
            s(
                "update",
                "outbound_trunk",
                &["trunk_config.numbers", "call_limits"]
            ),
        ],
        "{dry}"
    );
    assert_eq!(dry["data"]["dry_run"], true);
    // Nothing changed: not the version, not the objects, not LiveKit.
    assert_eq!(version(&server, &key).await, changed_version);
    assert_eq!(livekit_state(&lk), changed_lk);
    let (_, list) = server.get("/sip/inbound-trunks", &key).await;
    assert_eq!(list["data"]["trunks"].as_array().unwrap().len(), 2);

    let (st, done) = import(&server, &key, &doc, false).await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(plan(&done), plan(&dry));
    assert_eq!(version(&server, &key).await, changed_version + 4);
    assert_eq!(livekit_state(&lk), exported_lk);
    let again = export(&server, &key).await;
    assert_eq!(again["outbound_trunks"], doc["outbound_trunks"]);
    assert_eq!(again["inbound_trunks"], doc["inbound_trunks"]);

    // The same document again: nothing.
    let (st, twice) = import(&server, &key, &doc, false).await;
    assert_eq!(st, 200, "{twice}");
    assert_eq!(plan(&twice), vec![]);
    assert_eq!(version(&server, &key).await, changed_version + 4);
    server.stop().await;
    lk.shutdown().await;
}

#[tokio::test]
async fn another_tenants_document_imports_as_a_copy_naming_the_secrets_it_lacks() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let a = server.tenant("a@example.com").await;
    let (trunk, inbound, rule, _) = furnish(&server, &a, "+15550100303").await;
    let doc = export(&server, &a).await;
    // A gives up its inbound number so the copy can claim it.
    for path in [
        format!("/sip/dispatch-rules/{rule}"),
        format!("/sip/inbound-trunks/{inbound}"),
    ] {
        let (st, j) = server.send("DELETE", &path, Some(&a), None).await;
        assert_eq!(st, 200, "{j}");
    }

    let b = server.tenant("b@example.com").await;
    // The dry run names the secrets B lacks; the import refuses until the document holds them.
    let (st, dry) = import(&server, &b, &doc, true).await;
    assert_eq!(st, 200, "{dry}");
    assert_eq!(dry["data"]["copy"], true);
    let creates: Vec<_> = plan(&dry).into_iter().map(|(a, k, _)| (a, k)).collect();
    assert_eq!(creates.len(), 4, "{dry}");
    assert!(creates.iter().all(|(a, _)| a == "create"));
    let mut missing: Vec<String> = dry["data"]["missing_secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["source_id"].as_str().unwrap(),
                m["field"].as_str().unwrap()
            )
        })
        .collect();
    missing.sort();
    let mut expected = vec![
        format!("{trunk} trunk_config.password"),
        format!("{inbound} auth_password"),
    ];
    expected.sort();
    assert_eq!(missing, expected);
    let (st, j) = import(&server, &b, &doc, false).await;
    assert_eq!(st, 400, "{j}");
    let mut fields: Vec<String> = j["data"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    let mut expected = vec![
        format!("outbound_trunks[{trunk}].trunk_config.password"),
        format!("inbound_trunks[{inbound}].auth_password"),
    ];
    expected.sort();
    assert_eq!(fields, expected, "{j}");
    assert_eq!(version(&server, &b).await, 0);
    assert!(!j.to_string().contains(TRUNK_PASSWORD));

    let mut doc = doc.clone();
    doc["outbound_trunks"][0]["trunk_config"]["password"] = json!("b-own-trunk-secret");
    doc["inbound_trunks"][0]["auth_password"] = json!("b-own-inbound-secret");
    let (st, j) = import(&server, &b, &doc, false).await;
    assert_eq!(st, 200, "{j}");
    assert_eq!(j["data"]["missing_secrets"], json!([]));
    assert_eq!(plan(&j).len(), 4, "{j}");
    assert!(!j.to_string().contains("b-own-trunk-secret"));
    let copy = export(&server, &b).await;
    let new_trunk = copy["outbound_trunks"][0]["id"].as_str().unwrap();
    let new_inbound = copy["inbound_trunks"][0]["id"].as_str().unwrap();
    assert_ne!(new_trunk, trunk);
    assert_ne!(new_inbound, inbound);
    assert_eq!(copy["dispatch_rules"][0]["trunk_ids"], json!([new_inbound]));
    assert_eq!(
        copy["outbound_trunks"][0]["call_limits"]["calls_per_second"],
        2.5
    );
    assert_eq!(
        copy["outbound_trunks"][0]["trunk_config"]["password"],
        json!({"kept": true})
    );
    assert_eq!(lk.outbound_trunks().len(), 2, "A's trunk and B's copy");
    // A's own trunk is untouched and still A's.
    assert_eq!(
        export(&server, &a).await["outbound_trunks"][0]["id"],
        trunk.as_str()
    );

    let v = version(&server, &b).await;
    let (st, twice) = import(&server, &b, &doc, false).await;
    assert_eq!(st, 200, "{twice}");
    assert_eq!(plan(&twice), vec![], "{twice}");
    assert_eq!(version(&server, &b).await, v);
    server.stop().await;
    lk.shutdown().await;
}

#[tokio::test]
async fn a_bad_document_or_object_is_refused_naming_the_field() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    furnish(&server, &key, "+15550100304").await;
    let doc = export(&server, &key).await;
    let v = version(&server, &key).await;

    let mut wrong = doc.clone();
    wrong["format_version"] = json!(7);
    wrong.as_object_mut().unwrap().remove("assistants");
    let (st, j) = import(&server, &key, &wrong, false).await;
    assert_eq!(st, 400, "{j}");
    let fields: Vec<_> = j["data"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, [json!("format_version"), json!("assistants")]);

    // An object the API refuses: named within the document, nothing applied.
    let mut bad = doc.clone();
    let id = bad["outbound_trunks"][0]["id"].as_str().unwrap().to_owned();
    bad["outbound_trunks"][0]["trunk_config"]["numbers"] = json!(["not-a-number"]);
    let (st, j) = import(&server, &key, &bad, false).await;
    assert_eq!(st, 400, "{j}");
    assert_eq!(
        j["data"]["errors"][0]["field"].as_str().unwrap(),
        format!("outbound_trunks[{id}].trunk_config.numbers[0]"),
        "{j}"
    );
    let (st, j) = import(&server, &key, &json!({"dry_run": "x"}), true).await;
    assert_eq!(st, 400, "{j}");
    let (st, j) = server
        .send(
            "POST",
            "/config/import?dry_run=maybe",
            Some(&key),
            Some(&doc.to_string()),
        )
        .await;
    assert_eq!(st, 400, "{j}");
    assert_eq!(j["data"]["errors"][0]["field"], "dry_run");
    assert_eq!(version(&server, &key).await, v);
    assert_eq!(
        export(&server, &key).await["outbound_trunks"],
        doc["outbound_trunks"]
    );
    server.stop().await;
}

#[tokio::test]
async fn an_import_that_fails_part_way_changes_nothing() {
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = server.tenant("a@example.com").await;
    let (_, inbound, rule, _) = furnish(&server, &key, "+15550100305").await;
    let before = export(&server, &key).await;
    let lk_before = livekit_state(&lk);
    let v = version(&server, &key).await;
    let (_, audit_before) = server.get("/audit?limit=200", &key).await;

    // Four steps that succeed (the rule deleted, an assistant created, the trunk changed, a
    // second trunk created), then an inbound trunk the API refuses.
    let mut doc = before.clone();
    doc["dispatch_rules"] = json!([]);
    doc["assistants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "AS_doc_new", "name": "New", "agent_name": "new-agent"}));
    let mut second = doc["outbound_trunks"][0].clone();
    doc["outbound_trunks"][0]["trunk_name"] = json!("Renamed");
    doc["outbound_trunks"][0]["trunk_config"]["numbers"] = json!(["+15550100777"]);
    doc["outbound_trunks"][0]["call_limits"]["calls_per_second"] = json!(7);
    second["id"] = json!("ST_doc_new");
    second["trunk_name"] = json!("Second");
    second["trunk_config"]["numbers"] = json!(["+15550100778"]);
    second["trunk_config"]["password"] = json!("another-password");
    doc["outbound_trunks"].as_array_mut().unwrap().push(second);
    doc["inbound_trunks"][0]["numbers"] = json!(["12345"]);

    for _ in 0..2 {
        let (st, j) = import(&server, &key, &doc, false).await;
        assert_eq!(st, 400, "{j}");
        assert_eq!(
            j["data"]["errors"][0]["field"].as_str().unwrap(),
            format!("inbound_trunks[{inbound}].numbers[0]"),
            "{j}"
        );
        let message = j["message"].as_str().unwrap();
        assert!(
            message.contains(
                "Nothing was changed: the 4 of 5 steps carried out before it were undone"
            ),
            "{message}"
        );
        // The store: every object, the version and the audit as they were.
        let after = export(&server, &key).await;
        for part in [
            "assistants",
            "outbound_trunks",
            "inbound_trunks",
            "dispatch_rules",
            "config_version",
        ] {
            assert_eq!(after[part], before[part], "{part}");
        }
        assert_eq!(version(&server, &key).await, v);
        let (_, audit) = server.get("/audit?limit=200", &key).await;
        assert_eq!(audit["data"], audit_before["data"]);
        // LiveKit: the trunk's numbers back, the second trunk gone, the rule made again.
        assert_eq!(livekit_state(&lk), lk_before);
        let (st, j) = server
            .get(&format!("/sip/dispatch-rules/{rule}"), &key)
            .await;
        assert_eq!(st, 200, "{j}");
        assert_eq!(j["data"]["provisioning"]["status"], "provisioned", "{j}");
    }

    // Fixed, the same document applies whole.
    doc["inbound_trunks"][0]["numbers"] = json!(["+15550100306"]);
    let (st, j) = import(&server, &key, &doc, false).await;
    assert_eq!(st, 200, "{j}");
    let after = export(&server, &key).await;
    assert_eq!(after["outbound_trunks"].as_array().unwrap().len(), 2);
    assert_eq!(after["assistants"].as_array().unwrap().len(), 2);
    assert_eq!(after["dispatch_rules"], json!([]));
    assert_eq!(lk.outbound_trunks().len(), 2);
    assert!(lk.dispatch_rules().is_empty());
    server.stop().await;
}
