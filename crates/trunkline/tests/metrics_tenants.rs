//! `TRUNKLINE_METRICS_TENANT_LABELS=true`: the per-tenant series (HTTP requests, call
//! outcomes, calls in progress) carry a `tenant` label, read through the reference
//! Prometheus parser; a request without a key is `none`; other series stay without it.

mod support;
use livekit_double::{CallOutcome, LiveKitDouble};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::metrics::*;
use support::*;

const LK_KEY: &str = "APImetricstenants";
const LK_SECRET: &str = "metrics-tenants-secret-0123456789abcdef";

async fn call(method: reqwest::Method, url: String, key: &str, body: Option<Value>) -> Value {
    let mut req = http().request(method, url).bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{status}: {v}");
    v["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tenant_series_carry_the_tenant_when_asked() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    lk.set_call_outcome(CallOutcome::Answer);
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("TRUNKLINE_METRICS_TENANT_LABELS", "true".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    let metrics = metrics_url(&server.log.lock().unwrap());
    let a = create_key(dir.path(), "a@acme.test", &envs);
    let b = create_key(dir.path(), "b@acme.test", &envs);
    let url = &server.url;
    use reqwest::Method;
    let tenant_a = call(Method::GET, format!("{url}/me"), &a, None).await["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tenant_b = call(Method::GET, format!("{url}/me"), &b, None).await["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let trunk = call(
        Method::POST,
        format!("{url}/sip/create-outbound-trunk"),
        &a,
        Some(seed_twilio()),
    )
    .await["trunk_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assistant = call(
        Method::POST,
        format!("{url}/assistants"),
        &a,
        Some(json!({"name": "M", "agent_name": "caller"})),
    )
    .await["assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(Method::GET, format!("{url}/sip/list"), &b, None).await;
    let anonymous = http().get(format!("{url}/sip/list")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let placed = call(
        Method::POST,
        format!("{url}/call/outbound"),
        &a,
        Some(json!({"assistant_id": assistant, "trunk_id": trunk, "to_number": "+14155550123"})),
    )
    .await;
    let id = placed["call_id"].as_str().unwrap().to_owned();
    let wait_for = |status: &'static str| {
        let (id, a, url) = (id.clone(), a.clone(), url.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let v = call(Method::GET, format!("{url}/call/{id}"), &a, None).await;
                if v["status"] == status {
                    return;
                }
                assert!(Instant::now() < deadline, "{v}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_for("answered").await;

    let samples = scrape(&metrics).await;
    let requests = |tenant: &str, route: &str| {
        value(
            &samples,
            "trunkline_http_requests_total",
            &[("tenant", tenant), ("route", route)],
        )
    };
    assert_eq!(requests(&tenant_a, "/sip/create-outbound-trunk"), 1.0);
    assert_eq!(requests(&tenant_b, "/sip/list"), 1.0);
    assert_eq!(requests("none", "/sip/list"), 1.0);
    assert_eq!(requests(&tenant_b, "/sip/create-outbound-trunk"), 0.0);
    let open = |samples: &[Sample], tenant: &str, status: &str| {
        value(
            samples,
            "trunkline_calls",
            &[("tenant", tenant), ("status", status)],
        )
    };
    assert_eq!(open(&samples, &tenant_a, "answered"), 1.0);
    // Every request and calls series names its tenant; the others name none.
    for s in &samples {
        let per_tenant =
            ["trunkline_http_requests_total", "trunkline_calls"].contains(&s.name.as_str());
        assert_eq!(s.labels.contains_key("tenant"), per_tenant, "{s:?}");
    }

    // Ended: the outcome is the tenant's, and its calls gauge falls to zero (kept).
    call(Method::POST, format!("{url}/call/{id}/cancel"), &a, None).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let samples = loop {
        let samples = scrape(&metrics).await;
        if value(
            &samples,
            "trunkline_call_outcomes_total",
            &[("tenant", &tenant_a)],
        ) == 1.0
        {
            break samples;
        }
        assert!(Instant::now() < deadline, "{samples:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        value(
            &samples,
            "trunkline_call_outcomes_total",
            &[("tenant", &tenant_b)]
        ),
        0.0
    );
    assert!(samples
        .iter()
        .filter(|s| s.name == "trunkline_call_outcomes_total")
        .all(|s| s.labels.get("tenant") == Some(&tenant_a)));
    assert_eq!(open(&samples, &tenant_a, "answered"), 0.0);
    assert!(has(&samples, "trunkline_calls"));
    server.stop();
}
