//! The counts the metrics scrape reads from the database (`Store::open_calls_by_status`,
//! `Store::checked_trunks_by_state`), on SQLite and, with TRUNKLINE_TEST_POSTGRES, PostgreSQL.

mod support;
use serde_json::json;
use support::call_fixture::*;

#[tokio::test]
async fn the_scrape_counts_calls_by_open_status_and_checked_trunks_by_state() {
    let f = fixture().await;
    let store = &f.srv.store;
    assert!(store.open_calls_by_status().await.unwrap().is_empty());
    assert!(store.checked_trunks_by_state().await.unwrap().is_empty());

    let id = f.call("+14155550100").await;
    f.wait_status(&id, "answered").await;
    assert_eq!(
        store.open_calls_by_status().await.unwrap(),
        vec![("answered".to_owned(), 1)]
    );
    assert!(f.lk.hangup(&f.dialed(&id)[0].sip_call_id));
    f.wait_status(&id, "completed").await;
    assert!(store.open_calls_by_status().await.unwrap().is_empty());

    let path = format!("/sip/trunks/{}/health-check", f.trunk);
    let (st, b) = f
        .srv
        .send(
            "PUT",
            &path,
            Some(&f.key),
            Some(&json!({"interval_seconds": 3600, "down_after": 2}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let counts = store.checked_trunks_by_state().await.unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 1, "{counts:?}");
    let (st, b) = f
        .srv
        .send(
            "PUT",
            &path,
            Some(&f.key),
            Some(&json!({"enabled": false}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert!(store.checked_trunks_by_state().await.unwrap().is_empty());
}
