//! The outbound-call fixture shared by `calls.rs` and `calls_tracking.rs`: a server with a
//! fast dialer, the LiveKit double sending its webhooks to it, a tenant with a Twilio
//! trunk and an assistant whose end-of-call webhooks reach a recording receiver.
#![allow(dead_code)]

use super::*;
use base64::Engine;
use livekit_double::LiveKitDouble;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trunkline_store::CallRow;

/// One request the receiver got: headers and body.
pub type Received = (axum::http::HeaderMap, Vec<u8>);

/// What the end-of-call receiver saw.
#[derive(Clone, Default)]
pub struct Sink {
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once exhausted.
    pub answers: Arc<Mutex<Vec<u16>>>,
}

pub async fn start_sink(sink: Sink) -> String {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |axum::extract::State(s): axum::extract::State<Sink>,
                 headers: axum::http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    s.received.lock().unwrap().push((headers, body.to_vec()));
                    let mut a = s.answers.lock().unwrap();
                    let code = if a.is_empty() { 200 } else { a.remove(0) };
                    axum::http::StatusCode::from_u16(code).unwrap()
                },
            ),
        )
        .with_state(sink);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

pub struct Fixture {
    pub _db: TestDb,
    pub lk: LiveKitDouble,
    pub srv: TestServer,
    pub key: String,
    pub trunk: String,
    pub assistant: String,
    pub secret: String,
    pub sink: Sink,
}

pub fn fast(state: &mut trunkline_api::AppState) {
    state.allow_private_targets = true;
    let mut s = (*state.calls).clone();
    s.default_cps_milli = 200_000;
    s.tick = Duration::from_millis(10);
    s.webhook_base_delay = Duration::from_millis(100);
    state.calls = Arc::new(s);
}

pub async fn fixture() -> Fixture {
    fixture_with(fast).await
}

pub async fn fixture_with(configure: impl FnOnce(&mut trunkline_api::AppState)) -> Fixture {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    fixture_on(lk, None, configure).await
}

/// Like [`fixture_with`], on a double already running; trunkline reaches LiveKit at
/// `livekit_url` when given (e.g. a gateway in front of the double), else at the double.
pub async fn fixture_on(
    lk: LiveKitDouble,
    livekit_url: Option<String>,
    configure: impl FnOnce(&mut trunkline_api::AppState),
) -> Fixture {
    let db = TestDb::fresh().await;
    let livekit = match livekit_url {
        Some(url) => LiveKit::At {
            url,
            key: LK_KEY.into(),
            secret: LK_SECRET.into(),
        },
        None => LiveKit::Double(&lk),
    };
    let srv = TestServer::start_custom(&db, livekit, None, configure).await;
    lk.set_webhook_url(Some(format!("{}/livekit/webhook", srv.url)));
    let key = srv.tenant("calls@example.com").await;
    let trunk = srv.create(&key, &seed_twilio()).await;
    let sink = Sink::default();
    let hook = start_sink(sink.clone()).await;
    let (status, body) = srv
        .post(
            "/assistants",
            &key,
            &json!({"name": "Sales", "agent_name": "outbound-caller",
                    "metadata": {"lang": "en"}, "end_call_webhook_url": hook,
                    "ringing_timeout": 20, "max_call_duration": 600}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let secret = body["data"]["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let assistant = body["data"]["assistant_id"].as_str().unwrap().to_owned();
    Fixture {
        _db: db,
        lk,
        srv,
        key,
        trunk,
        assistant,
        secret,
        sink,
    }
}

impl Fixture {
    pub async fn call(&self, to: &str) -> String {
        let (status, body) = self
            .srv
            .post(
                "/call/outbound",
                &self.key,
                &json!({"assistant_id": self.assistant, "trunk_id": self.trunk, "to_number": to,
                        "metadata": {"customer": "Asha"}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["data"]["status"], "queued");
        body["data"]["call_id"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, id: &str) -> Value {
        let (status, body) = self.srv.get(&format!("/call/{id}"), &self.key).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    pub async fn wait_status(&self, id: &str, want: &str) -> Value {
        eventually(&format!("{id} {want}"), || async {
            let c = self.get(id).await;
            (c["status"] == want).then_some(c)
        })
        .await
    }

    pub fn dialed(&self, room: &str) -> Vec<livekit_double::DialedCall> {
        self.lk
            .calls()
            .into_iter()
            .filter(|c| own_room(&c.room_name) == room)
            .collect()
    }
}

/// A LiveKit room's name as its tenant knows it (without the tenant's namespace prefix).
pub fn own_room(livekit_room: &str) -> &str {
    trunkline_core::rooms::split(livekit_room)
        .map(|(_, own)| own)
        .unwrap_or(livekit_room)
}

pub fn lk_token(secret: &str, key: &str, body: &[u8]) -> String {
    use sha2::Digest;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": key, "nbf": now - 5, "exp": now + 300,
        "sha256": base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub async fn post_webhook(srv: &TestServer, auth: Option<String>, body: &[u8]) -> u16 {
    let mut req = srv
        .http
        .post(format!("{}/livekit/webhook", srv.url))
        .header("Content-Type", "application/webhook+json")
        .body(body.to_vec());
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    req.send().await.unwrap().status().as_u16()
}

/// The call's row as the store holds it.
pub async fn row(f: &Fixture, id: &str) -> CallRow {
    f.srv.store.call_by_id(id).await.unwrap().expect("call row")
}

/// Polls `f` for up to `budget`, for waits longer than [`eventually`] allows.
pub async fn within<T, F, Fut>(what: &str, budget: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + budget;
    while tokio::time::Instant::now() < end {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// How many `CreateSIPParticipant` requests LiveKit received.
pub fn create_sip_participants(f: &Fixture) -> usize {
    f.lk.requests()
        .iter()
        .filter(|r| r.method == "CreateSIPParticipant")
        .count()
}
