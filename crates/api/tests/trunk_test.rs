//! `POST /sip/trunks/{trunk_id}/test` on the real server: the probe with the trunk's sealed
//! credentials (against SIPp when installed), the private-target policy, and the trunks that
//! cannot be probed.

mod support;

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

async fn server(db: &TestDb, allow_private: bool) -> TestServer {
    TestServer::start_custom(db, LiveKit::None, None, |s| {
        s.allow_private_targets = allow_private
    })
    .await
}

fn sip_trunk(address: &str, transport: &str) -> Value {
    json!({"trunk_name": "Probe me", "trunk_type": "sip", "trunk_config": {
        "address": address, "numbers": ["+15550100000"], "transport": transport,
        "username": "alice", "password": "s3cret-pw"}})
}

/// A TCP port nobody listens on, below Linux's ephemeral range, where no other test's
/// connection can be using it as its source port meanwhile.
fn closed_port() -> u16 {
    use rand::Rng;
    loop {
        let port = rand::rng().random_range(20_000..30_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[tokio::test]
async fn a_closed_port_is_diagnosed_in_the_envelope_at_once() {
    let db = TestDb::fresh().await;
    let srv = server(&db, true).await;
    let key = srv.tenant("probe@example.com").await;
    let id = srv
        .create(
            &key,
            &sip_trunk(&format!("127.0.0.1:{}", closed_port()), "tcp"),
        )
        .await;
    let started = Instant::now();
    let (status, body) = srv
        .send("POST", &format!("/sip/trunks/{id}/test"), Some(&key), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a refusal is reported at once"
    );
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["diagnosis"], "port_closed");
    assert_eq!(body["data"]["reachable"], false);
    assert_eq!(body["data"]["transport"], "tcp");
    // A JSON `null` body is no body (the document allows it), not a 400.
    let (status, body) = srv
        .send(
            "POST",
            &format!("/sip/trunks/{id}/test"),
            Some(&key),
            Some("null"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["diagnosis"], "port_closed");

    // A TLS trunk is probed over TLS: the same refusal, reported for TLS.
    let tls = srv
        .create(
            &key,
            &sip_trunk(&format!("127.0.0.1:{}", closed_port()), "tls"),
        )
        .await;
    let (status, body) = srv
        .send("POST", &format!("/sip/trunks/{tls}/test"), Some(&key), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["diagnosis"], "port_closed");
    assert_eq!(body["data"]["transport"], "tls");
    assert_eq!(body["message"], body["data"]["detail"]);
    assert!(!body.to_string().contains("s3cret-pw"));

    // Another tenant's trunk is a 404, like a missing one.
    let other = srv.tenant("other@example.com").await;
    let (status, _) = srv
        .send(
            "POST",
            &format!("/sip/trunks/{id}/test"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = srv
        .send("POST", "/sip/trunks/ST_nope/test", Some(&key), None)
        .await;
    assert_eq!(status, 404);
    // The body is validated.
    let (status, body) = srv
        .post(
            &format!("/sip/trunks/{id}/test"),
            &key,
            &json!({"test_number": "555-0100"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["data"]["errors"][0]["field"], "test_number");
    let (status, _) = srv
        .post(&format!("/sip/trunks/{id}/test"), &key, &json!({"nope": 1}))
        .await;
    assert_eq!(status, 400);
    srv.stop().await;
}

#[tokio::test]
async fn a_tenant_cannot_probe_the_operators_network() {
    let db = TestDb::fresh().await;
    // Stored while the operator allowed internal targets...
    let lab = server(&db, true).await;
    let key = lab.tenant("probe@example.com").await;
    let id = lab
        .create(
            &key,
            &sip_trunk(&format!("127.0.0.1:{}", closed_port()), "udp"),
        )
        .await;
    lab.stop().await;
    // ...then probed on a service that does not: refused before anything is sent.
    let srv = server(&db, false).await;
    let (status, body) = srv
        .send("POST", &format!("/sip/trunks/{id}/test"), Some(&key), None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["data"]["errors"][0]["field"], "trunk_config.address");
    srv.stop().await;
}

#[tokio::test]
async fn trunks_that_cannot_be_probed_get_a_400_that_says_why() {
    let db = TestDb::fresh().await;
    let srv = server(&db, true).await;
    let key = srv.tenant("probe@example.com").await;
    let exotel = srv
        .create(
            &key,
            &json!({"trunk_name": "Exotel", "trunk_type": "exotel",
            "trunk_config": {"exotel_number": "+919876543210"}}),
        )
        .await;
    let (status, body) = srv
        .send(
            "POST",
            &format!("/sip/trunks/{exotel}/test"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("sip_host"),
        "{body}"
    );
    srv.stop().await;
}

/// With SIPp as the provider: the trunk's sealed password answers SIPp's digest challenge
/// (checked by SIPp's `verifyauth`), over the trunk's TCP transport.
#[tokio::test]
async fn the_trunks_credentials_answer_a_real_challenge() {
    if Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: the sipp binary is missing (apt-get install sip-tester)");
        return;
    }
    let port = closed_port();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sip/tests/scenarios/options_auth.xml"
    );
    let mut sipp = Command::new("sipp")
        .args([
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "t1",
        ])
        .args(["-m", "1", "-timeout", "20s", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir(std::env::temp_dir())
        .spawn()
        .expect("spawn sipp");
    // Listening, read from /proc rather than by connecting (SIPp would count that).
    let hex = format!(":{port:04X}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[3] == "0A" && f[1].ends_with(&hex)
        })
    {
        assert!(Instant::now() < deadline, "sipp did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let db = TestDb::fresh().await;
    let srv = server(&db, true).await;
    let key = srv.tenant("probe@example.com").await;
    let id = srv
        .create(&key, &sip_trunk(&format!("127.0.0.1:{port}"), "tcp"))
        .await;
    let (status, body) = srv
        .send(
            "POST",
            &format!("/sip/trunks/{id}/test"),
            Some(&key),
            Some(""),
        )
        .await;
    let _ = sipp.kill();
    let _ = sipp.wait();
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["diagnosis"], "reachable", "{body}");
    assert_eq!(data["healthy"], true);
    let statuses: Vec<_> = data["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_u64().unwrap(),
                r["authenticated"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, vec![(401, false), (200, true)]);
    assert!(data["rtt_ms"].as_f64().unwrap() < 1000.0);
    assert!(!body.to_string().contains("s3cret-pw"));
    srv.stop().await;
}

#[tokio::test]
async fn the_endpoint_is_in_the_openapi_document() {
    let db = TestDb::fresh().await;
    let srv = server(&db, false).await;
    let resp = srv
        .http
        .get(format!("{}/openapi.json", srv.url))
        .send()
        .await
        .unwrap();
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["paths"]["/sip/trunks/{trunk_id}/test"]["post"].is_object());
    assert!(doc["components"]["schemas"]["TrunkTestResult"].is_object());
    srv.stop().await;
}

#[tokio::test]
async fn trunk_tests_past_the_tenants_rate_get_429_with_retry_after() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start_custom(&db, LiveKit::None, None, |s| {
        s.allow_private_targets = true;
        s.trunk_tests =
            std::sync::Arc::new(trunkline_api::trunk_test_limit::TrunkTestLimit::per_minute(
                std::num::NonZeroU32::new(2).unwrap(),
            ));
    })
    .await;
    let trunk = sip_trunk(&format!("127.0.0.1:{}", closed_port()), "tcp");
    let key = srv.tenant("rate@example.com").await;
    let id = srv.create(&key, &trunk).await;
    let test = |key: String, id: String| {
        let http = srv.http.clone();
        let url = format!("{}/sip/trunks/{id}/test", srv.url);
        async move {
            let resp = http
                .post(url)
                .header("Authorization", format!("Bearer {key}"))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = resp.json().await.unwrap();
            (status, retry_after, body)
        }
    };
    for _ in 0..2 {
        let (status, retry_after, body) = test(key.clone(), id.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(retry_after, None);
    }
    let (status, retry_after, body) = test(key.clone(), id.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["data"]["per_minute"], 2, "{body}");
    let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
    // Two a minute: a token comes back every 30 s.
    assert!((1..=30).contains(&secs), "Retry-After {secs}");
    assert!(
        body["message"].as_str().unwrap().contains("2 a minute"),
        "{body}"
    );

    // Another tenant has its own bucket.
    let other = srv.tenant("other-rate@example.com").await;
    let other_id = srv.create(&other, &trunk).await;
    let (status, _, body) = test(other, other_id).await;
    assert_eq!(status, 200, "{body}");
    srv.stop().await;
}
