//! Per-tenant quotas: a create beyond one gets 429 with the envelope naming the quota, its
//! limit and the current count, and nothing is created; under the limit, creates work, and
//! another tenant's objects do not count.

mod support;

use serde_json::{json, Value};
use support::call_fixture::*;
use support::*;
use trunkline_core::quotas::QuotaLimits;

fn assert_quota_hit(status: u16, body: &Value, quota: &str, limit: i64) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["data"]["quota"], quota, "{body}");
    assert_eq!(body["data"]["limit"], limit, "{body}");
    assert_eq!(body["data"]["current"], limit, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(quota), "{message}");
    assert!(message.contains(&format!("at most {limit}")), "{message}");
    assert!(message.contains("TRUNKLINE_QUOTA_"), "{message}");
}

#[tokio::test]
async fn each_object_quota_refuses_the_create_past_it_and_creates_nothing() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start_custom(&db, LiveKit::None, None, |s| {
        s.quotas = QuotaLimits {
            outbound_trunks: 2,
            inbound_trunks: 1,
            dispatch_rules: 1,
            assistants: 1,
            queued_calls: 1,
        }
    })
    .await;
    let key = srv.tenant("quota@example.com").await;
    let other = srv.tenant("other@example.com").await;

    // Outbound trunks, seed-000 create: two fit, the third is refused.
    srv.create(&key, &seed_twilio()).await;
    srv.create(&key, &seed_exotel()).await;
    let (status, body) = srv
        .post("/sip/create-outbound-trunk", &key, &seed_twilio())
        .await;
    assert_quota_hit(status, &body, "outbound_trunks", 2);
    // The REST create counts against the same quota.
    let (status, body) = srv.post("/sip/outbound-trunks", &key, &seed_twilio()).await;
    assert_quota_hit(status, &body, "outbound_trunks", 2);
    assert_eq!(srv.list_ids(&key).await.len(), 2);
    // Another tenant's trunks are its own count.
    srv.create(&other, &seed_twilio()).await;

    // Inbound trunks.
    let inbound = |n: &str| json!({"name": format!("line {n}"), "numbers": [n]});
    let (status, body) = srv
        .post("/sip/inbound-trunks", &key, &inbound("+15550100000"))
        .await;
    assert_eq!(status, 200, "{body}");
    let inbound_id = body["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (status, body) = srv
        .post("/sip/inbound-trunks", &key, &inbound("+15550100001"))
        .await;
    assert_quota_hit(status, &body, "inbound_trunks", 1);
    let (_, list) = srv.get("/sip/inbound-trunks", &key).await;
    assert_eq!(
        list["data"]["trunks"].as_array().unwrap().len(),
        1,
        "{list}"
    );

    // Dispatch rules.
    let rule = |prefix: &str| {
        json!({"name": "Support", "trunk_ids": [inbound_id],
               "rule": {"type": "individual", "room_prefix": prefix}})
    };
    let (status, body) = srv.post("/sip/dispatch-rules", &key, &rule("a-")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = srv
        .post(
            "/sip/dispatch-rules",
            &key,
            &json!({"name": "Other", "trunk_ids": [inbound_id], "pin": "4321",
                    "rule": {"type": "individual", "room_prefix": "b-"}}),
        )
        .await;
    assert_quota_hit(status, &body, "dispatch_rules", 1);
    let (_, list) = srv.get("/sip/dispatch-rules", &key).await;
    assert_eq!(list["data"]["rules"].as_array().unwrap().len(), 1, "{list}");

    // Assistants.
    let assistant = json!({"name": "Sales", "agent_name": "outbound-caller"});
    let (status, body) = srv.post("/assistants", &key, &assistant).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = srv.post("/assistants", &key, &assistant).await;
    assert_quota_hit(status, &body, "assistants", 1);
    let (_, list) = srv.get("/assistants", &key).await;
    assert_eq!(
        list["data"]["assistants"].as_array().unwrap().len(),
        1,
        "{list}"
    );
    // The other tenant still has room.
    let (status, body) = srv.post("/assistants", &other, &assistant).await;
    assert_eq!(status, 200, "{body}");
    srv.stop().await;
}

#[tokio::test]
async fn queued_calls_past_the_quota_get_429_and_are_not_queued() {
    let f = fixture_with(|s| {
        fast(s);
        let mut calls = (*s.calls).clone();
        // One call per 100 s per trunk: the first is dialed at once, the next waits queued.
        calls.default_cps_milli = 10;
        s.calls = std::sync::Arc::new(calls);
        s.quotas.queued_calls = 1;
    })
    .await;
    let first = f.call("+15550100001").await;
    eventually("the first call leaves the queue", || async {
        (f.get(&first).await["status"] != "queued").then_some(())
    })
    .await;
    let second = f.call("+15550100002").await;
    assert_eq!(f.get(&second).await["status"], "queued");
    let (status, body) = f
        .srv
        .post(
            "/call/outbound",
            &f.key,
            &json!({"assistant_id": f.assistant, "trunk_id": f.trunk,
                    "to_number": "+15550100003"}),
        )
        .await;
    assert_quota_hit(status, &body, "queued_calls", 1);
    let (_, list) = f.srv.get("/calls", &f.key).await;
    assert_eq!(list["data"]["calls"].as_array().unwrap().len(), 2, "{list}");
}
