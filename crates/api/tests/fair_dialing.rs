//! Fair dialing across tenants: a noisy tenant with hundreds of trunks whose queued calls
//! cannot be claimed (pacing far ahead, or its trunks at their concurrency limit) must not
//! hold back another tenant's call. Runs on SQLite, and on PostgreSQL when
//! `TRUNKLINE_TEST_POSTGRES` is set.

mod support;

use std::time::{Duration, Instant};
use support::call_fixture::*;
use support::*;
use trunkline_store::now_micros;

/// Trunks of the noisy tenant held back by their pacing (next dial slot an hour away).
const PACED_TRUNKS: usize = 600;
/// Trunks of the noisy tenant held back by their own concurrency limit (1, and one call up).
const FULL_TRUNKS: usize = 20;

async fn exec(conn: &mut sqlx::AnyConnection, sql: String) {
    sqlx::Executor::execute(conn, sql.as_str())
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Writes the noisy tenant's trunks and calls straight into the database: creating 600 trunks
/// through the API would test the provisioning, not the dialer. Ids sort before generated
/// ones, and the calls are older, so an oldest-first or id-ordered scan meets them first.
async fn add_noisy_tenant(db: &TestDb, srv: &TestServer) {
    srv.tenant("noisy@example.com").await;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let row = sqlx::query("SELECT id FROM tenants WHERE email = 'noisy@example.com'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let tenant: String = sqlx::Row::get(&row, "id");
    let now = now_micros();
    let old = now - 60_000_000;
    let far = now + 3_600_000_000;
    exec(&mut conn, "BEGIN".into()).await;
    for i in 0..PACED_TRUNKS + FULL_TRUNKS {
        let trunk = format!("ST_{i:032x}");
        exec(
            &mut conn,
            format!(
                "INSERT INTO trunks (id, tenant_id, name, trunk_type, config, secrets, status, \
                 livekit_trunk_id, desired_version, synced_version, created_at, updated_at) \
                 VALUES ('{trunk}', '{tenant}', 'noise {i}', 'twilio', '{{}}', '{{}}', \
                 'provisioned', 'ST_lk{i}', 1, 1, {old}, {old})"
            ),
        )
        .await;
        let (next_slot, max_concurrent) = if i < PACED_TRUNKS {
            (far, "NULL".to_owned())
        } else {
            (old, "1".to_owned())
        };
        exec(
            &mut conn,
            format!(
                "INSERT INTO trunk_dialing (trunk_id, tenant_id, cps_milli, max_concurrent, \
                 next_slot_at) VALUES ('{trunk}', '{tenant}', 10, {max_concurrent}, {next_slot})"
            ),
        )
        .await;
        let mut calls = vec![("queued", format!("CA_{i:032x}"))];
        if i >= PACED_TRUNKS {
            calls.push(("answered", format!("CA_up{i:030x}")));
        }
        for (status, id) in calls {
            exec(
                &mut conn,
                format!(
                    "INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, \
                     from_number, plan, request_hash, status, attempts, max_attempts, \
                     next_attempt_at, created_at, updated_at, answered_at) VALUES ('{id}', \
                     '{tenant}', 'AS_noise', '{trunk}', '+14155550199', '+15550100000', '{{}}', \
                     'h', '{status}', 0, 3, {old}, {old}, {now}, {now})"
                ),
            )
            .await;
        }
    }
    exec(&mut conn, "COMMIT".into()).await;
}

#[tokio::test]
async fn a_noisy_tenant_with_hundreds_of_blocked_trunks_does_not_hold_back_another_tenants_call() {
    let f = fixture().await;
    add_noisy_tenant(&f._db, &f.srv).await;
    // Let the dialer make passes over the noise first.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let id = f.call("+14155550100").await;
    let limit = Duration::from_secs(3);
    loop {
        let c = f.get(&id).await;
        if c["status"] != "queued" {
            break;
        }
        assert!(
            started.elapsed() < limit,
            "the other tenant's call is still queued after {limit:?}: {c}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    f.wait_status(&id, "answered").await;
    assert_eq!(f.dialed(&id).len(), 1);
    // The noise is still blocked: none of its queued calls was claimed.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&f._db.url)
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM calls WHERE assistant_id = 'AS_noise' AND status = 'queued'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let queued: i64 = sqlx::Row::get(&row, "n");
    assert_eq!(queued as usize, PACED_TRUNKS + FULL_TRUNKS);
}
