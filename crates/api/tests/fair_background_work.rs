//! Background work every tenant shares is fair: one tenant whose trunks never answer their
//! health checks, or whose webhook receiver never answers, holds at most its own share of the
//! workers, and another tenant's check or delivery runs at once.

mod support;

use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::call_fixture::fixture;
use support::sip_peers::{answer_options, SilentPeer};
use support::*;
use trunkline_core::quotas::QuotaLimits;

async fn health_checked_trunk(srv: &TestServer, key: &str, port: u16, n: usize) -> String {
    let mut body = seed_twilio();
    body["trunk_name"] = format!("Trunk {n}").into();
    body["trunk_config"]["address"] = format!("127.0.0.1:{port}").into();
    body["trunk_config"]["transport"] = "tcp".into();
    let trunk = srv.create(key, &body).await;
    let (st, b) = srv
        .send(
            "PUT",
            &format!("/sip/trunks/{trunk}/health-check"),
            Some(key),
            Some(&json!({"interval_seconds": 10, "down_after": 3}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    trunk
}

#[tokio::test]
async fn a_tenant_with_a_hundred_silent_trunks_does_not_delay_another_tenants_check() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start_custom(&db, LiveKit::None, None, |s| {
        s.allow_private_targets = true;
        s.quotas = QuotaLimits {
            outbound_trunks: 200,
            ..s.quotas
        };
    })
    .await;
    let silent = SilentPeer::default();
    let silent_port = silent.start().await;
    let noisy = srv.tenant("noisy@example.com").await;
    for n in 0..100 {
        health_checked_trunk(&srv, &noisy, silent_port, n).await;
    }
    // The noisy tenant's checks are running: each waits for its OPTIONS transaction to time out.
    eventually("the noisy tenant's checks started", || async {
        (silent.accepted.load(Ordering::SeqCst) >= 8).then_some(())
    })
    .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(answer_options(listener));
    let quiet = srv.tenant("quiet@example.com").await;
    let started = Instant::now();
    let trunk = health_checked_trunk(&srv, &quiet, port, 0).await;
    loop {
        let (_, b) = srv.get(&format!("/sip/trunks/{trunk}"), &quiet).await;
        if b["data"]["health"]["state"] == "up" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the quiet tenant's trunk was not checked within 4 s while another tenant's 100 \
             silent trunks were being checked: {b}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Never more than one tenant's share of checks at once.
    let most = silent.most_open.load(Ordering::SeqCst);
    assert!(
        most <= trunkline_core::health_checks::LIMITS.per_tenant,
        "{most} checks of one tenant ran at once"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_tenant_whose_receiver_never_answers_does_not_delay_another_tenants_webhooks() {
    let f = fixture().await;
    // The noisy tenant: its end-of-call receiver accepts and never answers.
    let silent = SilentPeer::default();
    let silent_port = silent.start().await;
    let noisy = f.srv.tenant("noisy@example.com").await;
    let trunk = f.srv.create(&noisy, &seed_twilio()).await;
    let (st, b) = f
        .srv
        .post(
            "/assistants",
            &noisy,
            &json!({"name": "Noisy", "agent_name": "noisy-agent",
                    "end_call_webhook_url": format!("http://127.0.0.1:{silent_port}/hook")}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let assistant = b["data"]["assistant_id"].as_str().unwrap().to_owned();
    for n in 0..20 {
        f.lk.push_call_outcome(livekit_double::CallOutcome::Busy);
        let (st, b) = f
            .srv
            .post(
                "/call/outbound",
                &noisy,
                &json!({"assistant_id": assistant, "trunk_id": trunk,
                        "to_number": format!("+141555503{n:02}")}),
            )
            .await;
        assert_eq!(st, 202, "{b}");
    }
    eventually(
        "the noisy tenant's deliveries are waiting on its receiver",
        || async { (silent.open.load(Ordering::SeqCst) >= 10).then_some(()) },
    )
    .await;

    f.lk.push_call_outcome(livekit_double::CallOutcome::Busy);
    let id = f.call("+14155550999").await;
    f.wait_status(&id, "busy").await;
    let ended = Instant::now();
    loop {
        if !f.sink.received.lock().unwrap().is_empty() {
            break;
        }
        assert!(
            ended.elapsed() < Duration::from_secs(4),
            "the quiet tenant's end-of-call webhook was not delivered within 4 s while another \
             tenant's deliveries hung"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let most = silent.most_open.load(Ordering::SeqCst);
    assert!(
        most <= trunkline_core::calls::webhooks_out::LIMITS.per_tenant,
        "{most} deliveries of one tenant ran at once"
    );
}
