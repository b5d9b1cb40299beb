//! Two instances of the API on one PostgreSQL database, as deployments with several instances
//! run it: what one instance acknowledged, the other shows on the very next request, however
//! the reads are cached. Needs `TRUNKLINE_TEST_POSTGRES` (SQLite serves a single instance).

mod support;
use serde_json::json;
use std::time::Duration;
use support::*;
use trunkline_core::tenants::KeyCache;

/// A long auth cache on both instances: exactness must not depend on it being off.
async fn instance(db: &TestDb) -> TestServer {
    TestServer::start_custom(db, LiveKit::None, None, |state| {
        state.tenants = std::sync::Arc::new(KeyCache::new(Duration::from_secs(600)));
    })
    .await
}

async fn rename(server: &TestServer, key: &str, id: &str) -> (u16, serde_json::Value) {
    let body = json!({"trunk_name": "Renamed"}).to_string();
    let path = format!("/sip/trunks/{id}");
    server.send("PATCH", &path, Some(key), Some(&body)).await
}

#[tokio::test]
async fn trunk_writes_acknowledged_by_one_instance_are_listed_by_the_other_at_once() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let (a, b) = (instance(&db).await, instance(&db).await);
    let key = a.tenant("t@example.com").await;
    let other = a.tenant("other@example.com").await;
    let first = a.create(&key, &seed_twilio()).await;
    for _ in 0..3 {
        // Several reads, so B surely holds the list in memory.
        assert_eq!(b.list_ids(&key).await, vec![first.clone()]);
    }
    let from_memory = b.store.keys_answered_from_memory();
    assert!(from_memory >= 2, "B never answered from memory");
    for round in 0..20 {
        let id = a.create(&key, &seed_twilio()).await;
        let ids = b.list_ids(&key).await;
        assert_eq!(ids.last(), Some(&id), "round {round}: B misses A's create");
        assert_eq!(ids.len(), round + 2);
    }
    // A rename and a delete through A, read through B.
    let (status, json) = rename(&a, &key, &first).await;
    assert_eq!(status, 200, "{json}");
    let (_, listed) = b.get("/sip/list", &key).await;
    assert_eq!(listed["data"][0]["trunk_name"], "Renamed");
    let (status, _) = a
        .send("DELETE", &format!("/sip/trunks/{first}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let listed = b.list_ids(&key).await;
    assert!(!listed.contains(&first));
    // After a write B reads the database once, then answers from memory again.
    assert_eq!(b.list_ids(&key).await, listed);
    assert!(b.store.keys_answered_from_memory() > from_memory);
    // Tenants still see only their own, on either instance.
    assert!(b.list_ids(&other).await.is_empty());
    assert!(a.list_ids(&other).await.is_empty());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_every_instance_on_the_next_request() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let (a, b) = (instance(&db).await, instance(&db).await);
    let key = a.tenant("t@example.com").await;
    for server in [&a, &b] {
        let (status, _) = server.get("/sip/list", &key).await;
        assert_eq!(status, 200);
    }
    let keys = a.store.list_api_keys().await.unwrap();
    assert!(a.store.revoke_api_key(&keys[0].id).await.unwrap());
    for server in [&b, &a] {
        let (status, json) = server.get("/sip/list", &key).await;
        assert_eq!(status, 401, "{json}");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn concurrent_requests_share_key_checks_and_each_gets_its_own_answer() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let (a, b) = (instance(&db).await, instance(&db).await);
    let mut keys = Vec::new();
    for i in 0..8 {
        let key = a.tenant(&format!("t{i}@example.com")).await;
        let id = a.create(&key, &seed_twilio()).await;
        keys.push((key, id));
    }
    // Many requests at once on B, from every tenant: batched checks must not mix tenants up.
    let mut tasks = Vec::new();
    for round in 0..10 {
        for (key, id) in &keys {
            let (b_url, http) = (b.url.clone(), b.http.clone());
            let (key, id) = (key.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let key = if round % 3 == 0 {
                    "tlk_not_a_key".to_owned()
                } else {
                    key
                };
                let resp = http
                    .get(format!("{b_url}/sip/list"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap();
                if key == "tlk_not_a_key" {
                    assert_eq!(status, 401);
                } else {
                    assert_eq!(status, 200, "{body}");
                    let data = body["data"].as_array().unwrap();
                    assert_eq!(data.len(), 1);
                    assert_eq!(data[0]["trunk_id"], id.as_str());
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    a.stop().await;
    b.stop().await;
}

/// The crash window between a trunk write and its generation bump: an instance that wrote the
/// one and died before the other would leave every other instance serving its old list for
/// good. A bump that cannot be made (here a constraint refuses it, as a crash would cut it
/// short) must take the write with it.
#[tokio::test]
async fn a_trunk_write_commits_only_together_with_its_generation_bump() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let (a, b) = (instance(&db).await, instance(&db).await);
    let key = a.tenant("t@example.com").await;
    let id = a.create(&key, &seed_twilio()).await;
    for _ in 0..3 {
        assert_eq!(b.list_ids(&key).await, vec![id.clone()]);
    }
    let (_, me) = a.get("/me", &key).await;
    let tenant = me["data"]["tenant_id"].as_str().unwrap().to_owned();
    let sql = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (generation,): (i64,) = sqlx::query_as("SELECT list_generation FROM tenants WHERE id = $1")
        .bind(&tenant)
        .fetch_one(&sql)
        .await
        .unwrap();
    sqlx::query(&format!(
        "ALTER TABLE tenants ADD CONSTRAINT generation_frozen \
         CHECK (id <> '{tenant}' OR list_generation <= {generation})"
    ))
    .execute(&sql)
    .await
    .unwrap();
    let (status, json) = rename(&a, &key, &id).await;
    assert!(
        status >= 500,
        "the write went through without its bump: {status} {json}"
    );
    let (status, json) = a
        .send("DELETE", &format!("/sip/trunks/{id}"), Some(&key), None)
        .await;
    assert!(
        status >= 500,
        "the delete went through without its bump: {status} {json}"
    );
    sqlx::query("ALTER TABLE tenants DROP CONSTRAINT generation_frozen")
        .execute(&sql)
        .await
        .unwrap();
    // What the database holds is what B serves from memory: nothing changed.
    let (stored,): (String,) =
        sqlx::query_as("SELECT name FROM trunks WHERE id = $1 AND deleted_at IS NULL")
            .bind(&id)
            .fetch_one(&sql)
            .await
            .unwrap();
    assert_eq!(stored, "Twilio Production");
    let (_, listed) = b.get("/sip/list", &key).await;
    assert_eq!(listed["data"][0]["trunk_name"], stored.as_str(), "{listed}");
    // And once bumps can be made again, writes and lists move together.
    let (status, json) = rename(&a, &key, &id).await;
    assert_eq!(status, 200, "{json}");
    let (_, listed) = b.get("/sip/list", &key).await;
    assert_eq!(listed["data"][0]["trunk_name"], "Renamed");
    sql.close().await;
    a.stop().await;
    b.stop().await;
}

/// The listener that tells an instance of other instances' writes dies (its connection is
/// cut, as a network failure or a connection reaper would): what was missed meanwhile is never
/// served from memory, on the next request or later.
#[tokio::test]
async fn an_instance_whose_listener_is_cut_never_answers_from_stale_memory() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let (a, b) = (instance(&db).await, instance(&db).await);
    let key = a.tenant("t@example.com").await;
    let sql = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for round in 0..5 {
        let first = b.list_ids(&key).await;
        for _ in 0..3 {
            assert_eq!(b.list_ids(&key).await, first, "round {round}");
        }
        // Every listener on this database (A's and B's) is cut.
        let (cut,): (i64,) = sqlx::query_as(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        .fetch_one(&sql)
        .await
        .unwrap();
        assert!(cut >= 2, "round {round}: {cut} listeners found");
        let id = a.create(&key, &seed_twilio()).await;
        let ids = b.list_ids(&key).await;
        assert_eq!(ids.last(), Some(&id), "round {round}: B misses A's create");
        assert_eq!(ids.len(), first.len() + 1);
        // And once the listeners are back (the next heartbeat heard), memory serves again and
        // stays exact.
        let before = b.store.keys_answered_from_memory();
        eventually("B answers from memory again", || async {
            assert_eq!(b.list_ids(&key).await, ids, "round {round}");
            (b.store.keys_answered_from_memory() > before).then_some(())
        })
        .await;
    }
    sql.close().await;
    a.stop().await;
    b.stop().await;
}

/// An instance that holds a lease but has stopped answering (here a lease row nobody renews
/// nor acknowledges from) delays writes until its lease runs out, never longer, and never
/// loses them.
#[tokio::test]
async fn a_silent_instance_delays_writes_until_its_lease_runs_out() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let a = instance(&db).await;
    let key = a.tenant("t@example.com").await;
    let sql = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let started = std::time::Instant::now();
    a.create(&key, &seed_twilio()).await;
    let alone = started.elapsed();
    sqlx::query(
        "INSERT INTO serving_instances (id, until_micros, seen) VALUES \
         ('silent', CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT) + 700000, 0)",
    )
    .execute(&sql)
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let id = a.create(&key, &seed_twilio()).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "the write was acknowledged before the silent instance's lease ran out ({waited:?})"
    );
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert!(a.list_ids(&key).await.contains(&id));
    // Its lease gone, writes are as quick as before.
    let started = std::time::Instant::now();
    a.create(&key, &seed_twilio()).await;
    assert!(
        started.elapsed() < alone + Duration::from_millis(400),
        "{:?} vs {alone:?}",
        started.elapsed()
    );
    sql.close().await;
    a.stop().await;
}
