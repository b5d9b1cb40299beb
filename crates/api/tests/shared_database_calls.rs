//! Two instances of the API on one PostgreSQL database: a call placed or changed through one is
//! shown by the other on the very next request, `GET /call/{id}` and `GET /calls` alike, also
//! while concurrent requests share their reads. Needs `TRUNKLINE_TEST_POSTGRES`.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::call_fixture::{fast, start_sink, Sink};
use support::*;
use trunkline_core::tenants::KeyCache;

async fn instance(db: &TestDb, lk: &LiveKitDouble) -> TestServer {
    TestServer::start_custom(db, LiveKit::Double(lk), None, |state| {
        fast(state);
        // A long auth cache: exactness must not depend on it being off.
        state.tenants = Arc::new(KeyCache::new(Duration::from_secs(600)));
    })
    .await
}

fn call_ids(page: &Value) -> Vec<String> {
    page["data"]["calls"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|c| c["call_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn calls_placed_or_ended_through_one_instance_are_shown_by_the_other_at_once() {
    let Some(()) = shared_postgres() else { return };
    let db = TestDb::fresh().await;
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let (a, b) = (instance(&db, &lk).await, instance(&db, &lk).await);
    lk.set_webhook_url(Some(format!("{}/livekit/webhook", a.url)));
    let key = a.tenant("calls@example.com").await;
    let other = a.tenant("other@example.com").await;
    let trunk = a.create(&key, &seed_twilio()).await;
    let hook = start_sink(Sink::default()).await;
    let (status, body) = a
        .post(
            "/assistants",
            &key,
            &json!({"name": "Sales", "agent_name": "outbound-caller", "end_call_webhook_url": hook}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let assistant = body["data"]["assistant_id"].as_str().unwrap().to_owned();

    // Readers keep B's shared reads busy throughout, so the reads below join batches that
    // other requests started.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for path in [
        "/calls",
        "/calls?limit=5",
        "/call/CL_00000000000000000000000000000000",
    ] {
        let (url, http, key, stop) = (b.url.clone(), b.http.clone(), key.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let resp = http
                    .get(format!("{url}{path}"))
                    .bearer_auth(&key)
                    .send()
                    .await;
                assert!(resp.unwrap().status().as_u16() < 500);
                n += 1;
            }
            n
        }));
    }

    let mut placed = Vec::new();
    for round in 0..10 {
        let (status, body) = a
            .post(
                "/call/outbound",
                &key,
                &json!({"assistant_id": assistant, "trunk_id": trunk, "to_number": "+15550101234"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let id = body["data"]["call_id"].as_str().unwrap().to_owned();
        let (status, shown) = b.get(&format!("/call/{id}"), &key).await;
        assert_eq!(
            status, 200,
            "round {round}: B does not show {id}, placed through A: {shown}"
        );
        let (status, page) = b.get("/calls", &key).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            call_ids(&page).first(),
            Some(&id),
            "round {round}: B's newest call is not the one A just placed"
        );
        placed.push(id);
    }

    // Ended through B, read through A: the status B acknowledged, at once.
    for id in &placed[..3] {
        let (status, body) = b
            .post(&format!("/call/{id}/cancel"), &key, &json!({}))
            .await;
        assert!(status == 200 || status == 409, "{body}");
        let (_, acknowledged) = b.get(&format!("/call/{id}"), &key).await;
        let ended = acknowledged["data"]["status"].clone();
        assert!(
            acknowledged["data"]["ended_at"].is_string(),
            "cancel did not end {id}: {acknowledged}"
        );
        let (_, shown) = a.get(&format!("/call/{id}"), &key).await;
        assert_eq!(shown["data"]["status"], ended, "A shows {shown}");
        let (_, page) = a
            .get(&format!("/calls?status={}", ended.as_str().unwrap()), &key)
            .await;
        assert!(call_ids(&page).contains(id), "A's page misses {id}: {page}");
    }

    // Tenants never see each other's calls, on either instance.
    for server in [&a, &b] {
        let (status, _) = server.get(&format!("/call/{}", placed[0]), &other).await;
        assert_eq!(status, 404);
        let (_, page) = server.get("/calls", &other).await;
        assert!(call_ids(&page).is_empty(), "{page}");
    }

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.await.unwrap() > 0, "a reader made no request");
    }
    a.stop().await;
    b.stop().await;
}
