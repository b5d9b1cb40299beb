//! Webhooks received by a real HTTP sink, verified independently of the double: the JWT is
//! decoded with jsonwebtoken and the body hash recomputed.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use livekit_double::{CallOutcome, LiveKitDouble};
use livekit_protocol::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Sink {
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Sink {
    async fn start() -> (Sink, String) {
        let sink = Sink::default();
        let s = sink.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    s.received.lock().unwrap().push((headers, body));
                    let code = s.script.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (sink, url)
    }

    fn events(&self) -> Vec<(HeaderMap, Bytes)> {
        self.received.lock().unwrap().clone()
    }
}

/// Verifies a delivery the way a receiver must, returning the claims and the event.
fn verify(headers: &HeaderMap, body: &[u8]) -> (Value, WebhookEvent) {
    assert_eq!(headers["content-type"], "application/webhook+json");
    let auth = headers["authorization"].to_str().unwrap();
    assert!(!auth.starts_with("Bearer"), "{auth}");
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[KEY]);
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iss", "nbf"]);
    let data =
        jsonwebtoken::decode::<Value>(auth, &DecodingKey::from_secret(SECRET.as_bytes()), &v)
            .expect("valid webhook token");
    let claims = data.claims;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    assert_eq!(claims["sha256"], hash);
    let exp = claims["exp"].as_i64().unwrap();
    let nbf = claims["nbf"].as_i64().unwrap();
    assert_eq!(exp - nbf, 300);
    let event: WebhookEvent = serde_json::from_slice(body).expect("protojson WebhookEvent");
    (claims, event)
}

async fn double_with_sink() -> (LiveKitDouble, Sink, String) {
    let lk = start().await;
    let (sink, url) = Sink::start().await;
    lk.set_webhook_url(Some(url.clone()));
    (lk, sink, url)
}

async fn dial(lk: &LiveKitDouble, room: &str, wait: bool) -> Result<SipParticipantInfo, TwirpErr> {
    let trunk = create(lk, trunk("sip.example.com", &["+15550100"]))
        .await
        .unwrap()
        .sip_trunk_id;
    let req = CreateSipParticipantRequest {
        sip_trunk_id: trunk,
        sip_call_to: "+15550199".into(),
        room_name: room.into(),
        wait_until_answered: wait,
        ..Default::default()
    };
    let t = token(json!({"sip": {"call": true}}));
    twirp(lk, "livekit.SIP", "CreateSIPParticipant", &t, &req).await
}

#[tokio::test]
async fn answered_call_then_hangup_in_order() {
    let (lk, sink, _) = double_with_sink().await;
    let info = dial(&lk, "room-a", true).await.unwrap();
    assert!(lk.hangup(&info.sip_call_id));
    assert!(lk.flush_webhooks(Duration::from_secs(5)).await);
    let got = sink.events();
    let events: Vec<WebhookEvent> = got.iter().map(|(h, b)| verify(h, b).1).collect();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        [
            "room_started",
            "participant_joined",
            "participant_left",
            "room_finished"
        ]
    );
    for e in &events {
        assert!(e.id.starts_with("EV_"), "{}", e.id);
        assert!(e.created_at > 0);
        assert_eq!(e.room.as_ref().unwrap().name, "room-a");
    }
    let ids: std::collections::HashSet<_> = events.iter().map(|e| &e.id).collect();
    assert_eq!(ids.len(), 4);
    // The SIP participant joins before the answer, while dialing.
    let joined = events[1].participant.as_ref().unwrap();
    assert_eq!(joined.attributes["sip.callStatus"], "dialing");
    assert_eq!(joined.attributes["sip.callID"], info.sip_call_id);
    let left = events[2].participant.as_ref().unwrap();
    assert_eq!(left.sid, info.participant_id);
    assert_eq!(left.attributes["sip.callStatus"], "hangup");
    assert_eq!(
        left.disconnect_reason,
        DisconnectReason::ClientInitiated as i32
    );

    // The raw JSON uses protojson names: camelCase, enums as strings, int64 as strings.
    let raw: Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(raw["participant"]["kind"], "SIP");
    assert_eq!(raw["participant"]["disconnectReason"], "CLIENT_INITIATED");
    assert!(raw["createdAt"].is_string());
    assert_eq!(raw["event"], "participant_left");

    let deliveries = lk.webhook_deliveries();
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|d| d.delivered() && d.attempts == 1));
    assert_eq!(lk.webhook_events().len(), 4);
}

#[tokio::test]
async fn failed_calls_leave_with_livekits_reasons() {
    let (lk, sink, _) = double_with_sink().await;
    let cases = [
        (CallOutcome::Busy, "USER_REJECTED", "dialing"),
        (CallOutcome::Reject, "USER_REJECTED", "ringing"),
        (CallOutcome::NoAnswer, "USER_UNAVAILABLE", "ringing"),
        (CallOutcome::TrunkError(503), "SIP_TRUNK_FAILURE", "dialing"),
    ];
    for (i, (outcome, reason, status)) in cases.iter().enumerate() {
        lk.push_call_outcome(outcome.clone());
        // Without waiting the API says nothing: the outcome arrives only by webhook.
        dial(&lk, &format!("r{i}"), false).await.unwrap();
        assert!(lk.flush_webhooks(Duration::from_secs(5)).await);
        let got = sink.events();
        let (h, b) = got
            .iter()
            .rev()
            .find(|(_, b)| {
                serde_json::from_slice::<Value>(b).unwrap()["event"] == "participant_left"
            })
            .unwrap();
        verify(h, b);
        let raw: Value = serde_json::from_slice(b).unwrap();
        assert_eq!(
            raw["participant"]["disconnectReason"], *reason,
            "{outcome:?}"
        );
        assert_eq!(
            raw["participant"]["attributes"]["sip.callStatus"], *status,
            "{outcome:?}"
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&got.last().unwrap().1).unwrap()["event"],
            "room_finished"
        );
    }
}

#[tokio::test]
async fn retries_then_gives_up_without_panicking() {
    let (lk, sink, url) = double_with_sink().await;
    sink.script.lock().unwrap().extend([500, 503]);
    lk.emit_webhook(WebhookEvent {
        event: "room_started".into(),
        ..Default::default()
    });
    assert!(lk.flush_webhooks(Duration::from_secs(5)).await);
    let d = &lk.webhook_deliveries()[0];
    assert_eq!((d.attempts, d.status), (3, Some(200)));
    assert_eq!(d.url, url);
    // Client errors are not retried.
    sink.script.lock().unwrap().push_back(401);
    lk.emit_webhook(WebhookEvent {
        event: "room_finished".into(),
        ..Default::default()
    });
    assert!(lk.flush_webhooks(Duration::from_secs(5)).await);
    let d = &lk.webhook_deliveries()[1];
    assert_eq!((d.attempts, d.status), (1, Some(401)));

    // A sink that is down: every attempt fails, nothing panics, the API still answers.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    lk.set_webhook_url(Some(dead_url));
    dial(&lk, "down", true).await.unwrap();
    assert!(lk.flush_webhooks(Duration::from_secs(10)).await);
    let failed: Vec<_> = lk.webhook_deliveries().into_iter().skip(2).collect();
    assert_eq!(failed.len(), 2); // room_started, participant_joined
    assert!(failed
        .iter()
        .all(|d| d.status.is_none() && d.attempts == 5 && d.error.is_some()));
}

#[tokio::test]
async fn forged_and_replayed_bodies() {
    let (lk, sink, _) = double_with_sink().await;
    let body = br#"{"event":"room_started","id":"EV_forged"}"#.to_vec();
    lk.emit_webhook_raw(body.clone(), Some("not-a-jwt".into()));
    lk.emit_webhook_raw(body.clone(), None);
    lk.emit_webhook_signed(body.clone());
    // A token for another body: valid signature, wrong hash.
    let other = lk.webhook_authorization(b"{}");
    lk.emit_webhook_raw(body.clone(), Some(other.clone()));
    assert!(lk.flush_webhooks(Duration::from_secs(5)).await);
    let got = sink.events();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|(_, b)| b.as_ref() == body.as_slice()));
    assert_eq!(got[0].0["authorization"], "not-a-jwt");
    assert!(got[1].0.get("authorization").is_none());
    let (claims, event) = verify(&got[2].0, &got[2].1);
    assert_eq!(claims["iss"], KEY);
    assert_eq!(event.id, "EV_forged");
    assert_eq!(got[3].0["authorization"], other.as_str());
    let d = lk.webhook_deliveries();
    assert_eq!(d[0].event_id, "EV_forged");
    assert_eq!(d[1].authorization, None);
}
