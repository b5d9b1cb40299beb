//! The operator backup at the store level, on this run's database (PostgreSQL with
//! TRUNKLINE_TEST_POSTGRES): a backup restored into an empty database backs up the same, and
//! a database holding configuration refuses a restore.

mod support;
use serde_json::{json, Value};
use support::*;

fn tables(backup: &Value) -> Value {
    backup["tables"].clone()
}

#[tokio::test]
async fn a_backup_restores_row_for_row_and_only_into_an_empty_database() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let trunk = server.create(&key, &seed_twilio()).await;
    let (st, j) = server
        .send(
            "PUT",
            &format!("/sip/trunks/{trunk}/call-limits"),
            Some(&key),
            Some(&json!({"calls_per_second": 2.5}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let (st, j) = server
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "l", "numbers": ["+15550100500"]}),
        )
        .await;
    assert_eq!(st, 200, "{j}");
    let backup = server.store.backup().await.unwrap();
    assert_eq!(backup["tables"]["trunks"].as_array().unwrap().len(), 1);
    assert_eq!(
        backup["tables"]["audit_records"].as_array().unwrap().len(),
        3
    );
    assert!(!backup.to_string().contains("your_auth_token_here"));

    // Refused where configuration exists, naming the table; nothing written.
    let refused = server.store.restore(&backup).await.unwrap_err().to_string();
    assert!(
        refused.contains("not empty") && refused.contains("tenants"),
        "{refused}"
    );
    let mut foreign = backup.clone();
    foreign["format"] = json!("something-else");
    let target = TestDb::fresh().await;
    let store = trunkline_store::Store::open(&target.url).await.unwrap();
    let refused = store.restore(&foreign).await.unwrap_err().to_string();
    assert!(refused.contains("not a trunkline backup"), "{refused}");

    let rows = store.restore(&backup).await.unwrap();
    assert!(rows >= 6, "{rows}");
    let again = store.backup().await.unwrap();
    // Row for row, except that the restored rows are to be provisioned again.
    let mut expected = tables(&backup);
    for table in [
        "trunks",
        "inbound_trunks",
        "dispatch_rules",
        "provider_trunks",
    ] {
        for row in expected[table].as_array_mut().unwrap() {
            row["synced_version"] = json!(0);
        }
    }
    assert_eq!(tables(&again), expected);
    store.close().await;
    server.stop().await;
}
