//! A dispatch rule stored before `CL_` room names were reserved (for trunkline's call rooms)
//! keeps working: it reads, reconciles, and takes changes that leave its room alone; a new
//! room is checked as on create.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_rule_stored_with_a_call_room_name_still_reads_reconciles_and_takes_changes() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = srv.tenant("legacy@example.com").await;
    let (st, t) = srv
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "main line", "numbers": ["+14155550170"]}),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    let (st, r) = srv
        .post(
            "/sip/dispatch-rules",
            &key,
            &json!({"name": "Support", "rule": {"type": "direct", "room_name": "support"}}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let id = r["data"]["rule_id"].as_str().unwrap().to_owned();

    // What an older release stored: the same rule with a room trunkline now reserves.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let changed = sqlx::query(
        "UPDATE dispatch_rules SET config = REPLACE(config, '\"support\"', '\"CL_support\"') \
         WHERE id = $1",
    )
    .bind(id.clone())
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(changed.rows_affected(), 1);

    let path = format!("/sip/dispatch-rules/{id}");
    let (st, got) = srv.get(&path, &key).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["data"]["rule"]["room_name"], "CL_support", "{got}");

    // A change that leaves the room alone is taken.
    let (st, b) = srv
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(&json!({"pin": "4321"}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["pin"], "4321", "{b}");
    assert_eq!(b["data"]["rule"]["room_name"], "CL_support", "{b}");

    // The reconciler repairs it like any other rule rather than failing on it.
    let report = srv.reconcile().await;
    let (st, got) = srv.get(&path, &key).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(
        got["data"]["provisioning"]["status"], "provisioned",
        "{got} after {report:?}"
    );

    // A new room is checked as on create: 400 naming the field, and nothing changes.
    let (st, b) = srv
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(&json!({"rule": {"type": "direct", "room_name": "CL_other"}}).to_string()),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    assert!(b.to_string().contains("rule.room_name"), "{b}");
    let (_, got) = srv.get(&path, &key).await;
    assert_eq!(got["data"]["rule"]["room_name"], "CL_support", "{got}");
    assert_eq!(got["data"]["pin"], "4321", "{got}");
}
