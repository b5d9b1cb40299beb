//! `kill -9` while a queue of calls is being dialed: after a restart every accepted call is
//! still there and gets dialed, and no call is dialed twice.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::*;

const LK_KEY: &str = "APIcrashcalls";
const LK_SECRET: &str = "crash-calls-secret-0123456789abcdef";
const CALLS: usize = 60;

async fn status_of(http: &reqwest::Client, url: &str, key: &str, id: &str) -> String {
    let v: Value = http
        .get(format!("{url}/call/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["status"].as_str().unwrap_or("missing").to_owned()
}

fn dials_per_room(lk: &LiveKitDouble) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for c in lk.calls() {
        // Call rooms are namespaced per tenant in LiveKit: count by the call's own name.
        let (_, own) = trunkline_core::rooms::split(&c.room_name).expect("a tenant's room");
        *m.entry(own.to_owned()).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_queue_of_calls_loses_none_and_dials_none_twice() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        // 20 calls a second: the queue takes 3 s to drain, so the kill lands mid-queue.
        ("TRUNKLINE_TRUNK_CPS", "20".to_owned()),
        ("TRUNKLINE_TRUNK_MAX_CONCURRENT_CALLS", "1000".to_owned()),
        ("TRUNKLINE_TENANT_MAX_CONCURRENT_CALLS", "1000".to_owned()),
        // Claims of the killed process come back after a second, not a minute.
        ("TRUNKLINE_CLAIM_TIMEOUT", "1".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    let key = create_key(dir.path(), "queue@acme.test", &envs);
    let http = http();
    let trunk: Value = http
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .bearer_auth(&key)
        .json(&seed_twilio())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trunk = trunk["data"]["trunk_id"].as_str().unwrap().to_owned();
    let assistant: Value = http
        .post(format!("{}/assistants", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "Queue", "agent_name": "caller"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let assistant = assistant["data"]["assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..CALLS {
        let resp = http
            .post(format!("{}/call/outbound", server.url))
            .bearer_auth(&key)
            .json(&json!({"assistant_id": assistant, "trunk_id": trunk,
                          "to_number": format!("+1415555{i:04}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let v: Value = resp.json().await.unwrap();
        ids.push(v["data"]["call_id"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while lk.calls().len() < 15 {
        assert!(Instant::now() < deadline, "{}", server.log.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    let dialed_before = lk.calls().len();
    assert!(
        dialed_before < CALLS,
        "the kill came after the queue drained"
    );

    let server = serve(dir.path(), &envs);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut pending = 0;
        for id in &ids {
            let s = status_of(&http, &server.url, &key, id).await;
            assert_ne!(s, "missing", "accepted call {id} lost");
            // A call killed between its INVITE and LiveKit's answer stays `dialing` until
            // LiveKit reports or the sweeper gives up on it; it must not be dialed again.
            if s == "queued" {
                pending += 1;
            }
        }
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} calls still queued: {}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let per_room = dials_per_room(&lk);
    for id in &ids {
        let n = per_room.get(id).copied().unwrap_or(0);
        assert_eq!(n, 1, "call {id} dialed {n} times");
    }
    println!(
        "{dialed_before} of {CALLS} calls dialed before kill -9; all {CALLS} dialed exactly once after the restart"
    );
    server.stop();
}
