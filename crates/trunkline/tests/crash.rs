//! `kill -9` in the middle of a burst of creates: every acknowledged trunk is there after a
//! restart, and nothing half-created stays visible or lingers in LiveKit.

mod support;
use livekit_double::LiveKitDouble;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use support::*;

const LK_KEY: &str = "APIcrash";
const LK_SECRET: &str = "crash-test-secret-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_of_creates_loses_no_acknowledged_trunk() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        // Hundreds of creates from one tenant: this test is about durability, not quotas.
        ("TRUNKLINE_QUOTA_TRUNKS", "100000".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    let key = create_key(dir.path(), "burst@acme.test", &envs);
    let http = http();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (http, url, key, acked) =
            (http.clone(), server.url.clone(), key.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..1000 {
                let mut body = seed_twilio();
                body["trunk_name"] = format!("burst {worker}-{i}").into();
                let Ok(resp) = http
                    .post(format!("{url}/sip/create-outbound-trunk"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                else {
                    return; // the server is gone
                };
                if resp.status() != 200 {
                    return;
                }
                let Ok(json) = resp.json::<serde_json::Value>().await else {
                    return;
                };
                acked
                    .lock()
                    .unwrap()
                    .push(json["data"]["trunk_id"].as_str().unwrap().to_owned());
            }
        }));
    }
    // Kill once a good number are acknowledged, while requests are in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked.lock().unwrap().len() < 150 {
        assert!(
            std::time::Instant::now() < deadline,
            "creates stalled before the kill: {}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill9();
    for t in tasks {
        t.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();

    let server = serve(dir.path(), &envs);
    let resp: serde_json::Value = http
        .get(format!("{}/sip/list", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: HashSet<String> = resp["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trunk_id"].as_str().unwrap().to_owned())
        .collect();
    for id in &acked {
        assert!(listed.contains(id), "acknowledged trunk {id} lost");
    }
    for id in &listed {
        let d: serde_json::Value = http
            .get(format!("{}/sip/trunks/{id}", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["data"]["provisioning"]["status"], "provisioned", "{d}");
    }
    // Every listed trunk is provisioned, and LiveKit holds exactly one trunk per listed trunk
    // (plus, at most, the in-flight ones the reconciler will remove after its grace period).
    let lk_owners: Vec<String> = lk
        .outbound_trunks()
        .iter()
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t.metadata).ok())
        .filter_map(|m| m["trunkline_trunk_id"].as_str().map(str::to_owned))
        .collect();
    for id in &listed {
        assert_eq!(
            lk_owners.iter().filter(|o| *o == id).count(),
            1,
            "trunk {id} not exactly once in LiveKit"
        );
    }
    let unlisted = lk_owners.iter().filter(|o| !listed.contains(*o)).count();
    assert!(
        unlisted <= 8,
        "at most one in-flight create per client: {unlisted}"
    );
    println!(
        "acknowledged {} before kill -9; {} listed after restart; {unlisted} in flight",
        acked.len(),
        listed.len()
    );
    server.stop();
}
