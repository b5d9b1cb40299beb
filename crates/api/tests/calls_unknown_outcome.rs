//! Outbound calls whose dial outcome nobody knows: LiveKit's answer lost behind a gateway,
//! a dial that times out, a retry racing the first attempt's report, and 503s until the
//! attempts run out. Runs on SQLite, and on PostgreSQL when `TRUNKLINE_TEST_POSTGRES` is set.

mod support;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::IntoResponse;
use livekit_double::{CallOutcome, CallState, LiveKitDouble};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::call_fixture::*;
use support::*;
use trunkline_store::{now_micros, CallRow};

/// What the sweeper writes when LiveKit never said how a call ended.
const LOST_TRACK: &str = "trunkline lost track of this call while it was dialing (restart or LiveKit outage); LiveKit never reported an outcome";

/// What the gateway does with the next `CreateSIPParticipant`.
#[derive(Debug, Clone, Copy)]
enum Dial {
    /// Passes LiveKit's answer on.
    Pass,
    /// LiveKit acts on the request and answers, but the gateway loses the answer and says
    /// 504 Gateway Timeout: the request left, and nothing came back.
    LoseAnswer,
}

/// A reverse proxy in front of the LiveKit double, as a load balancer in front of LiveKit.
/// LiveKit's webhooks about a dialed call reach trunkline before its answer does (so the
/// order the tests see is always the same).
#[derive(Clone)]
struct Gateway {
    lk: LiveKitDouble,
    http: reqwest::Client,
    dials: Arc<Mutex<VecDeque<Dial>>>,
}

impl Gateway {
    /// Starts the gateway; returns it and its URL.
    async fn start(lk: &LiveKitDouble) -> (Self, String) {
        let g = Gateway {
            lk: lk.clone(),
            http: http(),
            dials: Arc::default(),
        };
        let app = axum::Router::new().fallback(relay).with_state(g.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        (g, url)
    }

    fn push(&self, d: Dial) {
        self.dials.lock().unwrap().push_back(d);
    }
}

async fn relay(
    axum::extract::State(g): axum::extract::State<Gateway>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    let mut fwd = g
        .http
        .post(format!("{}{path}", g.lk.url()))
        .body(body.to_vec());
    for h in [CONTENT_TYPE, AUTHORIZATION] {
        if let Some(v) = parts.headers.get(&h) {
            fwd = fwd.header(h.as_str(), v.as_bytes());
        }
    }
    let resp = fwd.send().await.expect("the double answers");
    let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE.as_str())
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.bytes().await.unwrap();
    if path.ends_with("/CreateSIPParticipant") {
        assert!(g.lk.flush_webhooks(Duration::from_secs(5)).await);
        let dial = g.dials.lock().unwrap().pop_front().unwrap_or(Dial::Pass);
        if let Dial::LoseAnswer = dial {
            return (
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                [(CONTENT_TYPE, "text/html")],
                "<html><body><h1>504 Gateway Time-out</h1></body></html>",
            )
                .into_response();
        }
    }
    (status, [(CONTENT_TYPE, content_type)], bytes).into_response()
}

/// A fixture whose trunkline reaches the double through a [`Gateway`].
async fn behind_gateway() -> (Fixture, Gateway) {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let (gw, url) = Gateway::start(&lk).await;
    (fixture_on(lk, Some(url), fast).await, gw)
}

/// returns the row then: still dialing, no dialer awaiting it.
async fn released(f: &Fixture, id: &str, budget: Duration) -> CallRow {
    let c = within(&format!("{id} released by its dialer"), budget, || async {
        let c = row(f, id).await;
        let dialed = !matches!(c.status.as_str(), "queued" | "claimed");
        (dialed && (c.status != "dialing" || c.claimed_by.is_none())).then_some(c)
    })
    .await;
    assert_eq!(
        c.status, "dialing",
        "settled while its outcome is unknown: {c:?}"
    );
    c
}

async fn wait_status_within(f: &Fixture, id: &str, want: &str, budget: Duration) -> Value {
    within(&format!("{id} {want}"), budget, || async {
        let c = f.get(id).await;
        (c["status"] == want).then_some(c)
    })
    .await
}

#[tokio::test]
async fn an_unknown_dial_is_never_redialed_and_livekits_report_settles_it_at_once() {
    let (f, gw) = behind_gateway().await;
    gw.push(Dial::LoseAnswer);
    f.lk.push_call_outcome(CallOutcome::NoAnswer);
    let id = f.call("+14155550301").await;
    // LiveKit reported the unanswered leg while the dialer waited; once the dialer knows it
    // will never hear LiveKit's answer, that report settles the call.
    let c = f.wait_status(&id, "no_answer").await;
    assert_eq!(
        c["last_error"], "LiveKit reported the call ended unanswered (USER_UNAVAILABLE)",
        "{c}"
    );
    assert_eq!(c["attempts"], 1, "{c}");
    assert!(c["sip_status_code"].is_null(), "{c}");
    assert!(c["answered_at"].is_null(), "{c}");
    assert!(c["ended_at"].is_string(), "{c}");
    // Not the sweeper's doing: the dial deadline is still ringing time + 45 s away.
    let r = row(&f, &id).await;
    assert!(
        r.dial_deadline_at.unwrap() - now_micros() > 30_000_000,
        "{r:?}"
    );
    assert_eq!(f.dialed(&id).len(), 1);
    assert_eq!(create_sip_participants(&f), 1);
    // The tenant hears of it once, with the status LiveKit reported.
    let (headers, body) = eventually("end-of-call webhook", || async {
        f.sink.received.lock().unwrap().first().cloned()
    })
    .await;
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["data"]["status"], "no_answer");
    assert!(headers["webhook-id"].to_str().unwrap().starts_with("msg_"));
}

#[tokio::test]
async fn an_answered_call_whose_answer_was_lost_completes_when_livekit_reports_the_hangup() {
    let (f, gw) = behind_gateway().await;
    gw.push(Dial::LoseAnswer);
    let id = f.call("+14155550302").await;
    let r = released(&f, &id, Duration::from_secs(5)).await;
    assert_eq!(r.webhook_outcome, None);
    assert_eq!(r.attempts, 1);
    // The callee answered in LiveKit; trunkline cannot know, and does not redial.
    assert_eq!(f.get(&id).await["status"], "dialing");
    let dialed = f.dialed(&id);
    assert_eq!(dialed.len(), 1);
    assert_eq!(dialed[0].state, CallState::Active);
    assert!(f.lk.hangup(&dialed[0].sip_call_id));
    // LiveKit's participant_left settles it as it arrives, long before the deadline.
    let c = f.wait_status(&id, "completed").await;
    assert_eq!(c["end_reason"], "CLIENT_INITIATED", "{c}");
    assert!(c["last_error"].is_null(), "{c}");
    assert_eq!(c["attempts"], 1, "{c}");
    assert_eq!(f.dialed(&id).len(), 1);
    assert_eq!(create_sip_participants(&f), 1);
}

#[tokio::test]
async fn an_unknown_dial_livekit_never_reports_is_failed_by_the_sweeper_at_its_deadline() {
    let (f, gw) = behind_gateway().await;
    // LiveKit's webhooks do not reach trunkline.
    f.lk.set_webhook_url(None);
    gw.push(Dial::LoseAnswer);
    f.lk.push_call_outcome(CallOutcome::NoAnswer);
    let id = f.call("+14155550303").await;
    let r = released(&f, &id, Duration::from_secs(5)).await;
    assert_eq!(r.webhook_outcome, None);
    // Ten dialer ticks: the call waits, it is not dialed again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(f.get(&id).await["status"], "dialing");
    assert_eq!(f.dialed(&id).len(), 1);
    // The deadline (ringing time + 45 s) passes: moved rather than waited for.
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&f._db.url)
        .await
        .unwrap();
    let moved = sqlx::query("UPDATE calls SET dial_deadline_at = $1 WHERE id = $2")
        .bind(now_micros() - 1)
        .bind(id.clone())
        .execute(&mut db)
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    // The server's own sweeper (once a second) settles it.
    let c = f.wait_status(&id, "failed").await;
    assert_eq!(c["last_error"], LOST_TRACK, "{c}");
    assert_eq!(c["attempts"], 1, "{c}");
    assert!(c["sip_status_code"].is_null(), "{c}");
    assert_eq!(f.dialed(&id).len(), 1);
    assert_eq!(create_sip_participants(&f), 1);
}

#[tokio::test]
async fn a_retry_whose_outcome_is_unknown_is_not_settled_by_the_first_attempts_report() {
    let (f, gw) = behind_gateway().await;
    // Attempt 1: the provider answers 503 (retried); LiveKit's report of that leg reaches
    // trunkline while the dialer still waits. Attempt 2: answered, the answer lost.
    gw.push(Dial::Pass);
    gw.push(Dial::LoseAnswer);
    f.lk.push_call_outcome(CallOutcome::TrunkError(503));
    f.lk.push_call_outcome(CallOutcome::Answer);
    let id = f.call("+14155550304").await;
    let r = released(&f, &id, Duration::from_secs(15)).await;
    assert_eq!(r.attempts, 2);
    assert_eq!(
        r.webhook_outcome, None,
        "the first attempt's report is not the second's"
    );
    assert_eq!(f.get(&id).await["status"], "dialing");
    let dialed = f.dialed(&id);
    assert_eq!(dialed.len(), 2);
    assert_eq!(dialed[1].state, CallState::Active);
    assert!(f.lk.hangup(&dialed[1].sip_call_id));
    let c = f.wait_status(&id, "completed").await;
    assert_eq!(c["end_reason"], "CLIENT_INITIATED", "{c}");
    assert_eq!(c["attempts"], 2, "{c}");
    assert_eq!(create_sip_participants(&f), 2);
}

#[tokio::test]
async fn a_dial_that_times_out_is_never_redialed_and_livekits_report_settles_it() {
    let f = fixture().await;
    // The dialer waits the ringing timeout + 15 s for LiveKit's answer: 16 s at the least.
    let (st, _) = f
        .srv
        .send(
            "PATCH",
            &format!("/assistants/{}", f.assistant),
            Some(&f.key),
            Some(&json!({"ringing_timeout": 1}).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    f.lk.push_call_outcome(CallOutcome::Slow(Duration::from_millis(16_500)));
    let id = f.call("+14155550305").await;
    let r = released(&f, &id, Duration::from_secs(20)).await;
    assert_eq!(r.attempts, 1);
    assert_eq!(f.get(&id).await["status"], "dialing");
    assert_eq!(f.dialed(&id).len(), 1);
    // LiveKit answers after all; later the callee hangs up.
    let sip_call_id = eventually("answered in LiveKit", || async {
        let d = f.dialed(&id);
        (d[0].state == CallState::Active).then(|| d[0].sip_call_id.clone())
    })
    .await;
    assert!(f.lk.hangup(&sip_call_id));
    let c = f.wait_status(&id, "completed").await;
    assert_eq!(c["end_reason"], "CLIENT_INITIATED", "{c}");
    assert_eq!(c["attempts"], 1, "{c}");
    assert_eq!(f.dialed(&id).len(), 1);
}

#[tokio::test]
async fn a_503_on_every_attempt_fails_the_call_after_max_attempts() {
    let f = fixture_with(|s| {
        fast(s);
        let mut c = (*s.calls).clone();
        c.max_attempts = 2;
        s.calls = Arc::new(c);
    })
    .await;
    f.lk.set_call_outcome(CallOutcome::TrunkError(503));
    let id = f.call("+14155550311").await;
    let c = wait_status_within(&f, &id, "failed", Duration::from_secs(15)).await;
    assert_eq!(c["attempts"], 2, "{c}");
    assert_eq!(c["sip_status_code"], 503, "{c}");
    assert_eq!(
        c["last_error"],
        "gave up after 2 attempts: SIP 503: the provider is unavailable (LiveKit failed_precondition: twirp error unknown: unexpected status from INVITE response: sip status: 503: Service Unavailable)",
        "{c}"
    );
    assert!(c["answered_at"].is_null(), "{c}");
    assert_eq!(f.dialed(&id).len(), 2);
    assert_eq!(create_sip_participants(&f), 2);
    // The retry waited out its backoff (2 s after the first attempt).
    let r = row(&f, &id).await;
    assert!(
        r.dialed_at.unwrap() - r.created_at >= 2_000_000,
        "retried {} µs after queueing",
        r.dialed_at.unwrap() - r.created_at
    );
    // One end-of-call webhook, for the final failure only.
    let d = eventually("delivered", || async {
        let (_, b) = f.srv.get(&format!("/call/{id}/webhooks"), &f.key).await;
        (b["data"][0]["status"] == "delivered").then_some(b)
    })
    .await;
    assert_eq!(d["data"].as_array().unwrap().len(), 1, "{d}");
    let got = f.sink.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let payload: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(payload["data"]["status"], "failed");
    assert_eq!(payload["data"]["attempts"], 2);
}
