//! `serve`'s metrics listener: where it is, that its text is valid Prometheus exposition, and
//! that its counters follow what the server does.

mod support;
use livekit_double::{CallOutcome, LiveKitDouble};
use std::time::{Duration, Instant};
use support::metrics::*;
use support::*;

#[tokio::test]
async fn the_metrics_listener_serves_process_metrics_in_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[("TRUNKLINE_METRICS_LISTEN", "127.0.0.1:0".to_owned())],
    );
    let url = metrics_url(&server.log.lock().unwrap());
    let samples = scrape(&url).await;
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(has(&samples, name), "{name} missing: {samples:?}");
    }
    // The API's listener does not serve the metrics: they are for the operator's network.
    let api = http()
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    server.stop();
}

#[test]
fn without_the_setting_there_is_no_metrics_listener() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let log = server.stop();
    assert!(!log.contains("metrics on"), "{log}");
}

#[test]
fn a_bad_metrics_address_is_refused_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let err = serve_refused(
        dir.path(),
        &[("TRUNKLINE_METRICS_LISTEN", "localhost:9464".to_owned())],
    );
    assert!(
        err.contains("TRUNKLINE_METRICS_LISTEN (--metrics-listen) must be ip:port"),
        "{err}"
    );
    let err = serve_refused(dir.path(), &[("TRUNKLINE_LOG_FORMAT", "xml".to_owned())]);
    assert!(err.contains("TRUNKLINE_LOG_FORMAT"), "{err}");
}

const LK_KEY: &str = "APImetrics";
const LK_SECRET: &str = "metrics-secret-0123456789abcdef0123";

async fn data(resp: reqwest::Response) -> serde_json::Value {
    let status = resp.status();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{status}: {v}");
    v["data"].clone()
}

/// An end-of-call webhook receiver that answers 204 and counts what it got.
async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let got = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_follow_a_scripted_busy_call() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    lk.set_call_outcome(CallOutcome::Busy);
    let (hook, hooked) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
        ("TRUNKLINE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    let metrics = metrics_url(&server.log.lock().unwrap());
    let key = create_key(dir.path(), "metrics@acme.test", &envs);
    let http = http();
    let before = scrape(&metrics).await;
    assert_eq!(value(&before, "trunkline_http_requests_total", &[]), 0.0);
    assert_eq!(
        value(&before, "trunkline_calls", &[("status", "queued")]),
        0.0
    );

    let trunk = data(
        http.post(format!("{}/sip/create-outbound-trunk", server.url))
            .bearer_auth(&key)
            .json(&seed_twilio())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let trunk = trunk["trunk_id"].as_str().unwrap().to_owned();
    data(
        http.get(format!("{}/sip/trunks/{trunk}", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let missing = http
        .get(format!("{}/no/such/{trunk}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let assistant = data(
        http.post(format!("{}/assistants", server.url))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({"name": "Metrics", "agent_name": "caller",
                                      "end_call_webhook_url": hook}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let assistant = assistant["assistant_id"].as_str().unwrap().to_owned();
    let call = data(
        http.post(format!("{}/call/outbound", server.url))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({"assistant_id": assistant, "trunk_id": trunk,
                                      "to_number": "+14155550123"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let call = call["call_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = data(
            http.get(format!("{}/call/{call}", server.url))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if v["status"] == "busy" && hooked.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{v}: {}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let text = http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No id ever becomes a label: not the trunk's, the call's or the tenant's key.
    for id in [&trunk, &call, &assistant] {
        assert!(!text.contains(id.as_str()), "{id} in the metrics:\n{text}");
    }
    let after = parse(&text);
    // Tenants are labels only where the operator opts in (`metrics_tenants.rs`).
    assert!(after.iter().all(|s| !s.labels.contains_key("tenant")));
    let requests = |route: &str, status: &str| {
        value(
            &after,
            "trunkline_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/sip/create-outbound-trunk", "200"), 1.0, "{text}");
    assert_eq!(requests("/sip/trunks/{trunk_id}", "200"), 1.0, "{text}");
    assert_eq!(requests("unmatched", "404"), 1.0, "{text}");
    assert!(requests("/call/{id}", "200") >= 1.0, "{text}");
    assert!(
        value(
            &after,
            "trunkline_http_request_duration_seconds_count",
            &[("route", "/call/outbound")]
        ) == 1.0,
        "{text}"
    );
    // The busy callee: one outcome, its SIP class, LiveKit's Twirp code for 486.
    assert_eq!(
        value(
            &after,
            "trunkline_call_outcomes_total",
            &[("status", "busy"), ("sip_class", "4xx")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(value(&after, "trunkline_call_outcomes_total", &[]), 1.0);
    assert_eq!(
        value(
            &after,
            "trunkline_livekit_rpcs_total",
            &[
                ("method", "CreateSIPParticipant"),
                ("outcome", "resource_exhausted")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            "trunkline_livekit_rpcs_total",
            &[("method", "CreateSIPOutboundTrunk"), ("outcome", "ok")]
        ),
        1.0,
        "{text}"
    );
    assert!(
        value(
            &after,
            "trunkline_livekit_rpc_duration_seconds_count",
            &[("method", "CreateSIPParticipant")]
        ) >= 1.0
    );
    assert_eq!(
        value(&after, "trunkline_dial_lag_seconds_count", &[]),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            "trunkline_webhook_deliveries_total",
            &[("outcome", "delivered")]
        ),
        1.0,
        "{text}"
    );
    // The queue is empty again, and nothing is in progress.
    for status in ["queued", "claimed", "dialing", "ringing", "answered"] {
        assert_eq!(
            value(&after, "trunkline_calls", &[("status", status)]),
            0.0,
            "{status}: {text}"
        );
    }
    server.stop();
}

/// Polls the metrics until `done` holds for them.
async fn metrics_until(url: &str, what: &str, done: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let samples = scrape(url).await;
        if done(&samples) {
            return samples;
        }
        assert!(Instant::now() < deadline, "{what}: {samples:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gauges_follow_an_answered_call_from_ringing_to_hang_up() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    lk.set_call_outcome(CallOutcome::AnswerAfter(Duration::from_secs(2)));
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    lk.set_webhook_url(Some(format!("{}/livekit/webhook", server.url)));
    let metrics = metrics_url(&server.log.lock().unwrap());
    let key = create_key(dir.path(), "gauges@acme.test", &envs);
    let http = http();
    let trunk = data(
        http.post(format!("{}/sip/create-outbound-trunk", server.url))
            .bearer_auth(&key)
            .json(&seed_twilio())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let assistant = data(
        http.post(format!("{}/assistants", server.url))
            .bearer_auth(&key)
            .json(&serde_json::json!({"name": "Gauges", "agent_name": "caller"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    data(
        http.post(format!("{}/call/outbound", server.url))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({"assistant_id": assistant["assistant_id"],
                                      "trunk_id": trunk["trunk_id"],
                                      "to_number": "+14155550199"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let in_progress = |s: &[Sample]| {
        value(s, "trunkline_calls", &[("status", "dialing")])
            + value(s, "trunkline_calls", &[("status", "ringing")])
    };
    // Ringing for two seconds: in progress, not answered, nothing ended.
    let ringing = metrics_until(&metrics, "the call in progress", |s| in_progress(s) == 1.0).await;
    assert_eq!(
        value(&ringing, "trunkline_calls", &[("status", "answered")]),
        0.0
    );
    assert_eq!(
        value(&ringing, "trunkline_calls", &[("status", "queued")]),
        0.0
    );
    assert_eq!(value(&ringing, "trunkline_call_outcomes_total", &[]), 0.0);
    let answered = metrics_until(&metrics, "the call answered", |s| {
        value(s, "trunkline_calls", &[("status", "answered")]) == 1.0
    })
    .await;
    assert_eq!(in_progress(&answered), 0.0);
    assert_eq!(
        value(
            &answered,
            "trunkline_livekit_rpcs_total",
            &[("method", "CreateSIPParticipant"), ("outcome", "ok")]
        ),
        1.0
    );
    let dialed = lk.calls();
    assert!(lk.hangup(&dialed[0].sip_call_id));
    let ended = metrics_until(&metrics, "the call completed", |s| {
        value(s, "trunkline_call_outcomes_total", &[]) == 1.0
    })
    .await;
    assert_eq!(
        value(
            &ended,
            "trunkline_call_outcomes_total",
            &[("status", "completed"), ("sip_class", "2xx")]
        ),
        1.0,
        "{ended:#?}"
    );
    assert_eq!(value(&ended, "trunkline_calls", &[]), 0.0);
    // LiveKit's webhook reached the API and was counted under its route.
    assert!(
        value(
            &ended,
            "trunkline_http_requests_total",
            &[("route", "/livekit/webhook"), ("status", "200")]
        ) >= 1.0,
        "{ended:#?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_counts_its_passes_and_the_drift_it_repairs() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("TRUNKLINE_RECONCILE_INTERVAL", "0.2".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    let metrics = metrics_url(&server.log.lock().unwrap());
    let key = create_key(dir.path(), "drift@acme.test", &envs);
    data(
        http()
            .post(format!("{}/sip/create-outbound-trunk", server.url))
            .bearer_auth(&key)
            .json(&seed_twilio())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let recreated = [("kind", "outbound_trunk"), ("action", "recreated")];
    let drift = "trunkline_reconciler_drift_repaired_total";
    assert_eq!(value(&scrape(&metrics).await, drift, &recreated), 0.0);
    // LiveKit loses the trunk behind trunkline's back: the next pass puts it back.
    let lk_id = lk.outbound_trunks()[0].sip_trunk_id.clone();
    assert!(lk.delete_out_of_band(&lk_id));
    let deadline = Instant::now() + Duration::from_secs(20);
    let samples = loop {
        let samples = scrape(&metrics).await;
        if value(&samples, drift, &recreated) >= 1.0 || Instant::now() > deadline {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(value(&samples, drift, &recreated), 1.0, "{samples:?}");
    assert_eq!(lk.outbound_trunks().len(), 1);
    let passes = value(
        &samples,
        "trunkline_reconciler_passes_total",
        &[("outcome", "ok")],
    );
    assert!(passes >= 1.0, "{samples:?}");
    server.stop();
    lk.shutdown().await;
}
