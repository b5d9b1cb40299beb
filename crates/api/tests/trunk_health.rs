//! Periodic OPTIONS health checks: a trunk whose provider answers is `up`; after `down_after`
//! failed checks in a row it is `down`; when the provider answers again it is `up` on its own.

mod support;

use serde_json::json;
use support::sip_peers::answer_options;
use support::*;
use tokio::net::TcpListener;

#[tokio::test]
async fn a_trunk_goes_down_after_missed_checks_and_comes_back_up_on_its_own() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start_custom(&db, LiveKit::None, None, |s| {
        s.allow_private_targets = true;
    })
    .await;
    let key = srv.tenant("health@example.com").await;
    // Below the ephemeral range: once the provider goes away, nothing else (another test's
    // outgoing connection) may sit on this port, so a connect there is refused.
    let listener = {
        use rand::Rng;
        loop {
            let port = rand::rng().random_range(20_000..30_000);
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
                break l;
            }
        }
    };
    let port = listener.local_addr().unwrap().port();
    let provider = tokio::spawn(answer_options(listener));
    let mut body = seed_twilio();
    body["trunk_config"]["address"] = format!("127.0.0.1:{port}").into();
    body["trunk_config"]["transport"] = "tcp".into();
    let trunk = srv.create(&key, &body).await;
    let path = format!("/sip/trunks/{trunk}/health-check");

    let (st, b) = srv.get(&path, &key).await;
    assert_eq!(
        (st, b["data"]["enabled"].clone()),
        (200, json!(false)),
        "{b}"
    );
    for (bad, field) in [
        (json!({"interval_seconds": 5}), "interval_seconds"),
        (json!({"down_after": 0}), "down_after"),
        (json!({"every": 5}), "every"),
    ] {
        let (st, b) = srv
            .send("PUT", &path, Some(&key), Some(&bad.to_string()))
            .await;
        assert_eq!(st, 400, "{b}");
        assert!(b.to_string().contains(field), "{b}");
    }
    let (st, b) = srv
        .send(
            "PUT",
            &path,
            Some(&key),
            Some(&json!({"interval_seconds": 10, "down_after": 2}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["state"], "unknown");

    // The first check runs at once (the background loop, within a second).
    let up = eventually("first check", || async {
        let (_, b) = srv.get(&format!("/sip/trunks/{trunk}"), &key).await;
        (b["data"]["health"]["state"] == "up").then_some(b)
    })
    .await;
    assert_eq!(up["data"]["health"]["last_diagnosis"], "reachable", "{up}");
    assert!(up["data"]["health"]["last_rtt_ms"].as_f64().unwrap() >= 0.0);

    // The provider goes away: one miss is not yet down, two are.
    provider.abort();
    let _ = provider.await;
    let t0 = trunkline_store::now_micros();
    let step = |n: i64| t0 + n * 11_000_000;
    assert_eq!(
        trunkline_core::health_checks::pass_at(&srv.state, step(1))
            .await
            .unwrap(),
        1
    );
    let (_, b) = srv.get(&path, &key).await;
    assert_eq!(b["data"]["state"], "up", "{b}");
    assert_eq!(b["data"]["consecutive_failures"], 1);
    assert_eq!(b["data"]["last_diagnosis"], "port_closed");
    assert_eq!(
        trunkline_core::health_checks::pass_at(&srv.state, step(2))
            .await
            .unwrap(),
        1
    );
    let (_, b) = srv.get(&path, &key).await;
    assert_eq!(b["data"]["state"], "down", "{b}");

    // Back on the same port: up again at the next check, with no one asking.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(answer_options(listener));
    assert_eq!(
        trunkline_core::health_checks::pass_at(&srv.state, step(3))
            .await
            .unwrap(),
        1
    );
    let (_, b) = srv.get(&path, &key).await;
    assert_eq!(b["data"]["state"], "up", "{b}");
    assert_eq!(b["data"]["consecutive_failures"], 0);

    // Another tenant sees nothing of it.
    let other = srv.tenant("other@example.com").await;
    let (st, _) = srv.get(&path, &other).await;
    assert_eq!(st, 404);
    // Turned off: no more checks are due.
    let (st, _) = srv
        .send(
            "PUT",
            &path,
            Some(&key),
            Some(&json!({"enabled": false}).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        trunkline_core::health_checks::pass_at(&srv.state, step(10))
            .await
            .unwrap(),
        0
    );
}
