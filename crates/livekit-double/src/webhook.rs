//! Webhooks as LiveKit sends them (livekit/protocol `webhook/url_notifier.go`, `consts.go`,
//! `auth/accesstoken.go`; livekit/livekit `pkg/telemetry/events.go`):
//! - each event gets `id` = `EV_` + 12 characters and `created_at` = unix seconds;
//! - body = protojson of `WebhookEvent` (lowerCamelCase, enums as names, int64 as strings,
//!   defaults omitted — exactly what pbjson's serde writes);
//! - `POST` with `content-type: application/webhook+json`, `User-Agent: LiveKit` and
//!   `Authorization: <JWT>` (no `Bearer`): HS256 with the API secret, header
//!   `{"alg":"HS256","typ":"JWT"}`, claims `iss` = API key, `exp` = now + 5 min, `nbf` = `iat`
//!   = now, and `sha256` = standard base64 of SHA-256(body);
//! - retried on connection errors, 429 and 5xx (go-retryablehttp's default policy; LiveKit's
//!   waits are 1–30 s, the double's are short), ordered per room (one worker here, so
//!   ordered overall).

use crate::store::guid;
use crate::Shared;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use livekit_protocol::{ParticipantInfo, Room, WebhookEvent};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// `webhook.ContentType`.
pub const CONTENT_TYPE: &str = "application/webhook+json";
/// Token lifetime LiveKit signs webhooks with (`SetValidFor(5 * time.Minute)`).
pub const TOKEN_VALID_FOR: Duration = Duration::from_secs(300);
/// Retries after the first attempt (go-retryablehttp's `RetryMax` default is 4).
const MAX_RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One webhook POST (with its retries) as the double made it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub url: String,
    /// The `event` field (`room_started`, ...); empty for raw bodies that are not an event.
    pub event: String,
    /// The event `id`; empty for raw bodies that are not an event.
    pub event_id: String,
    pub body: Vec<u8>,
    /// The `Authorization` header sent, if any.
    pub authorization: Option<String>,
    /// POSTs made, retries included.
    pub attempts: u32,
    /// HTTP status of the last attempt; `None` when no answer came (connection refused...).
    pub status: Option<u16>,
    /// Transport error of the last attempt.
    pub error: Option<String>,
}

impl WebhookDelivery {
    /// The sink answered 2xx.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

pub(crate) struct Job {
    url: String,
    body: Vec<u8>,
    /// `None`: sign at send time with the double's keys. `Some(h)`: send header `h` as is
    /// (`Some(None)` sends none at all).
    authorization: Option<Option<String>>,
}

/// Webhook state kept under the double's lock.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) url: Option<String>,
    pub(crate) events: Vec<WebhookEvent>,
    pub(crate) deliveries: Vec<WebhookDelivery>,
    /// Jobs queued and not yet finished.
    pub(crate) pending: usize,
    tx: Option<UnboundedSender<Job>>,
}

impl Hooks {
    /// Stamps and logs `event`, and queues it for the sink if a URL is set.
    pub(crate) fn emit(&mut self, mut event: WebhookEvent) {
        if event.id.is_empty() {
            event.id = guid("EV_");
        }
        if event.created_at == 0 {
            event.created_at = now_secs();
        }
        if let Some(url) = self.url.clone() {
            let body = serde_json::to_vec(&event).unwrap_or_default();
            self.queue(Job {
                url,
                body,
                authorization: None,
            });
        }
        self.events.push(event);
    }

    pub(crate) fn event(
        &mut self,
        name: &str,
        room: Option<&Room>,
        participant: Option<&ParticipantInfo>,
    ) {
        self.emit(WebhookEvent {
            event: name.to_owned(),
            room: room.cloned(),
            participant: participant.cloned(),
            ..Default::default()
        });
    }

    /// Queues a body as is (for forged or replayed events). No URL: nothing is sent.
    pub(crate) fn raw(&mut self, body: Vec<u8>, authorization: Option<Option<String>>) {
        if let Some(url) = self.url.clone() {
            self.queue(Job {
                url,
                body,
                authorization,
            });
        }
    }

    fn queue(&mut self, job: Job) {
        if let Some(tx) = &self.tx {
            if tx.send(job).is_ok() {
                self.pending += 1;
            }
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The `Authorization` value LiveKit would send with `body`.
pub fn sign(body: &[u8], api_key: &str, api_secret: &str, valid_for: Duration) -> String {
    // Field order of golang-jwt's RegisteredClaims, then ClaimGrants' `sha256`.
    #[derive(Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        exp: i64,
        nbf: i64,
        iat: i64,
        sha256: String,
    }
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = now_secs();
    let claims = Claims {
        iss: api_key,
        exp: now + valid_for.as_secs() as i64,
        nbf: now,
        iat: now,
        sha256: base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)),
    };
    let header = b64url.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let input = format!("{header}.{payload}");
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(api_secret.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap_or_default();
    format!("{input}.{sig}")
}

/// Starts the delivery worker; it stops once the double's state is gone.
pub(crate) fn start(shared: &Arc<Shared>) {
    let (tx, rx) = unbounded_channel();
    shared.lock().hooks.tx = Some(tx);
    tokio::spawn(worker(Arc::downgrade(shared), rx));
}

async fn worker(shared: Weak<Shared>, mut rx: UnboundedReceiver<Job>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .ok();
    while let Some(job) = rx.recv().await {
        let Some(s) = shared.upgrade() else { return };
        let authorization = match job.authorization {
            Some(h) => h,
            None => Some(sign(&job.body, &s.api_key, &s.api_secret, TOKEN_VALID_FOR)),
        };
        drop(s);
        let delivery = deliver(client.as_ref(), job.url, job.body, authorization).await;
        let Some(s) = shared.upgrade() else { return };
        let mut st = s.lock();
        st.hooks.pending = st.hooks.pending.saturating_sub(1);
        st.hooks.deliveries.push(delivery);
    }
}

async fn deliver(
    client: Option<&reqwest::Client>,
    url: String,
    body: Vec<u8>,
    authorization: Option<String>,
) -> WebhookDelivery {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut d = WebhookDelivery {
        event: field("event"),
        event_id: field("id"),
        url,
        body,
        authorization,
        attempts: 0,
        status: None,
        error: None,
    };
    let Some(client) = client else {
        d.error = Some("no HTTP client".into());
        return d;
    };
    let mut backoff = FIRST_BACKOFF;
    loop {
        d.attempts += 1;
        let mut req = client
            .post(&d.url)
            .header("content-type", CONTENT_TYPE)
            .header("User-Agent", "LiveKit")
            .body(d.body.clone());
        if let Some(a) = &d.authorization {
            req = req.header("Authorization", a);
        }
        let retry = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                d.status = Some(status);
                d.error = None;
                // go-retryablehttp `DefaultRetryPolicy`: 429 and 5xx except 501.
                status == 429 || (status >= 500 && status != 501)
            }
            Err(e) => {
                d.status = None;
                d.error = Some(e.to_string());
                true
            }
        };
        if !retry || d.attempts > MAX_RETRIES {
            return d;
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}
