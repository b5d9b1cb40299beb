//! An in-process test double of LiveKit's Twirp API, faithful to the wire of the
//! open-source server (livekit/livekit `pkg/service`, livekit/protocol `livekit/sip.go`,
//! twitchtv/twirp v8): protobuf and JSON codecs, Twirp error JSON and status codes, the
//! API-key middleware's plain-text 401s, JWT checks, validation messages, and the store's
//! quirks (see `store.rs`, `conflicts.rs` and the `sip*.rs` modules).
//!
//! Implemented: SIP trunks, dispatch rules, `CreateSIPParticipant` with scripted call
//! outcomes ([`CallOutcome`]), `TransferSIPParticipant`; `RoomService` (create, list, delete
//! rooms; list, get, remove, move participants; room metadata); `AgentDispatchService`; and the webhooks a call's
//! life emits, signed like LiveKit's (`webhook.rs`). Other methods of these services (and the
//! legacy `ListSIPTrunk`) are routed and decoded like the real server, then answer
//! `unimplemented`.
//!
//! ```no_run
//! # async fn demo() {
//! use livekit_double::{CallOutcome, LiveKitDouble};
//! let lk = LiveKitDouble::start("APIkey", "secret").await;
//! lk.set_webhook_url(Some("http://127.0.0.1:9000/livekit".into()));
//! lk.push_call_outcome(CallOutcome::Busy); // the next call gets 486
//! // point the client at lk.url() ...
//! assert!(lk.outbound_trunks().is_empty());
//! lk.shutdown().await;
//! # }
//! ```

mod agent_dispatch;
mod auth;
mod conflicts;
mod room;
mod room_move;
mod server;
mod sip;
mod sip_dispatch;
mod sip_inbound;
mod sip_participant;
pub mod sip_status;
mod sip_transfer;
mod store;
mod twirp;
mod validate;
pub mod webhook;

pub use auth::{Grants, SipGrant};
pub use sip_participant::{CallOutcome, CallState, DialedCall};
pub use twirp::{http_status, TwirpError};
pub use webhook::WebhookDelivery;

use livekit_protocol::{
    AgentDispatch, ParticipantInfo, Room, SipDispatchRuleInfo, SipInboundTrunkInfo,
    SipOutboundTrunkInfo, TransferSipParticipantRequest, WebhookEvent,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Requests kept by [`LiveKitDouble::requests`]; older ones are dropped so a long benchmark
/// run does not grow without bound.
pub const MAX_RECORDED: usize = 10_000;

/// One request as the double saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. "POST".
    pub http_method: String,
    /// Decoded URL path.
    pub path: String,
    /// Twirp method (the path after `/twirp/<service>/`), e.g. "CreateSIPOutboundTrunk";
    /// empty for paths outside the Twirp services.
    pub method: String,
    /// Twirp service whose prefix the path is under, e.g. "livekit.SIP",
    /// "livekit.RoomService", "livekit.AgentDispatchService"; empty outside them.
    pub service: String,
    /// The Content-Type header as sent ("" when absent).
    pub content_type: String,
    /// Grants of a verified token; `None` when no token was sent or it was refused.
    pub grants: Option<Grants>,
    /// HTTP status of the answer.
    pub status: u16,
    pub outcome: Outcome,
}

impl RecordedRequest {
    pub fn ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A success answer (200, or the health check / redirect outside Twirp).
    Ok,
    /// A Twirp error: JSON `{code, msg}`.
    Twirp { code: String, msg: String },
    /// A plain-text answer from the HTTP stack: the auth middleware's 401, the body limit's
    /// 413, or the mux's 404.
    Http { status: u16, body: String },
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) store: store::Store,
    pub(crate) latency: Duration,
    pub(crate) fail_next: Option<twirp::TwirpError>,
    pub(crate) requests: VecDeque<RecordedRequest>,
    pub(crate) rooms: room::Rooms,
    pub(crate) calls: Vec<DialedCall>,
    pub(crate) call_outcome: CallOutcome,
    pub(crate) call_outcomes: VecDeque<CallOutcome>,
    /// Outcomes by the callee number's ending, longest ending first (see
    /// [`LiveKitDouble::set_outcome_for_suffix`]).
    pub(crate) suffix_outcomes: Vec<(String, CallOutcome)>,
    /// How long an answered call lasts before the callee hangs up; `None`: until ended.
    pub(crate) answered_call_length: Option<Duration>,
    /// `None`: transfers succeed; `Some(status)`: the transfer target answers `status`.
    pub(crate) transfer_failure: Option<u16>,
    pub(crate) transfers: Vec<TransferSipParticipantRequest>,
    pub(crate) hooks: webhook::Hooks,
    shutdown: Option<oneshot::Sender<()>>,
    listener_closed: Option<oneshot::Receiver<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) api_secret: String,
    state: Mutex<State>,
}

impl Shared {
    /// Never panics: a poisoned lock still holds consistent data (no handler panics midway).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(&self, r: RecordedRequest) {
        let mut s = self.lock();
        if s.requests.len() >= MAX_RECORDED {
            s.requests.pop_front();
        }
        s.requests.push_back(r);
    }
}

/// Handle on a running double; clones share the same server and state.
#[derive(Clone)]
pub struct LiveKitDouble {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl std::fmt::Debug for LiveKitDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitDouble")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The listener axum serves from, telling us when axum drops it: from then on connects are
/// refused, which is what [`LiveKitDouble::shutdown`] promises.
struct NotifyingListener {
    inner: TcpListener,
    _closed: oneshot::Sender<()>,
}

impl axum::serve::Listener for NotifyingListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok(conn) => return conn,
                // Like axum's own impl: e.g. EMFILE; back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl LiveKitDouble {
    /// Binds 127.0.0.1 on a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound (a broken test environment).
    pub async fn start(api_key: &str, api_secret: &str) -> LiveKitDouble {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::start_on(listener, api_key, api_secret).await
    }

    /// Serves on an already bound listener (e.g. a fixed port for benchmarks).
    ///
    /// # Panics
    /// If the listener has no local address.
    pub async fn start_on(listener: TcpListener, api_key: &str, api_secret: &str) -> LiveKitDouble {
        let addr = listener.local_addr().expect("listener has a local address");
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            state: Mutex::new(State::default()),
        });
        webhook::start(&shared);
        let (closed_tx, closed_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let listener = NotifyingListener {
            inner: listener,
            _closed: closed_tx,
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
        {
            let mut s = shared.lock();
            s.shutdown = Some(stop_tx);
            s.listener_closed = Some(closed_rx);
            s.server = Some(server);
        }
        LiveKitDouble { shared, addr }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every outbound trunk, sorted by id.
    pub fn outbound_trunks(&self) -> Vec<SipOutboundTrunkInfo> {
        self.shared
            .lock()
            .store
            .outbound
            .values()
            .cloned()
            .collect()
    }

    pub fn outbound_trunk(&self, id: &str) -> Option<SipOutboundTrunkInfo> {
        self.shared.lock().store.outbound.get(id).cloned()
    }

    /// Every inbound trunk, sorted by id.
    pub fn inbound_trunks(&self) -> Vec<SipInboundTrunkInfo> {
        self.shared.lock().store.inbound.values().cloned().collect()
    }

    pub fn inbound_trunk(&self, id: &str) -> Option<SipInboundTrunkInfo> {
        self.shared.lock().store.inbound.get(id).cloned()
    }

    /// Every dispatch rule, sorted by id.
    pub fn dispatch_rules(&self) -> Vec<SipDispatchRuleInfo> {
        self.shared.lock().store.rules.values().cloned().collect()
    }

    pub fn dispatch_rule(&self, id: &str) -> Option<SipDispatchRuleInfo> {
        self.shared.lock().store.rules.get(id).cloned()
    }

    /// Stores a trunk behind the client's back (as `lk sip outbound create` would), without
    /// validation. An empty `sip_trunk_id` gets a fresh one. Returns the id.
    pub fn insert_out_of_band(&self, mut info: SipOutboundTrunkInfo) -> String {
        let mut s = self.shared.lock();
        if info.sip_trunk_id.is_empty() {
            info.sip_trunk_id = s.store.new_trunk_id();
        }
        let id = info.sip_trunk_id.clone();
        s.store.outbound.insert(id.clone(), info);
        id
    }

    /// Stores an inbound trunk behind the client's back (as `lk sip inbound create` would),
    /// without validation or conflict checks. An empty `sip_trunk_id` gets a fresh one.
    /// Returns the id.
    pub fn insert_inbound_out_of_band(&self, mut info: SipInboundTrunkInfo) -> String {
        let mut s = self.shared.lock();
        if info.sip_trunk_id.is_empty() {
            info.sip_trunk_id = s.store.new_trunk_id();
        }
        let id = info.sip_trunk_id.clone();
        s.store.inbound.insert(id.clone(), info);
        id
    }

    /// Removes a trunk, outbound or inbound, behind the client's back (as `lk sip trunk
    /// delete` would). Returns whether it existed.
    pub fn delete_out_of_band(&self, id: &str) -> bool {
        let mut s = self.shared.lock();
        let outbound = s.store.outbound.remove(id).is_some();
        s.store.inbound.remove(id).is_some() || outbound
    }

    /// Removes a dispatch rule behind the client's back (as `lk sip dispatch delete` would).
    /// Returns whether it existed.
    pub fn delete_dispatch_rule_out_of_band(&self, id: &str) -> bool {
        self.shared.lock().store.rules.remove(id).is_some()
    }

    /// Holds back every answer by `d` (the request itself takes effect at once, so a client
    /// timing out sees the ambiguous outcome a slow network gives).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// The next request that reaches a SIP method (routed, authenticated by the middleware,
    /// body decoded) answers this Twirp error instead of running; the HTTP status follows
    /// the code ([`http_status`]). One shot.
    pub fn fail_next(&self, code: &str, msg: &str) {
        self.shared.lock().fail_next = Some(twirp::TwirpError::new(code, msg));
    }

    /// Requests seen so far, oldest first (at most [`MAX_RECORDED`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How every following `CreateSIPParticipant` call plays out (default
    /// [`CallOutcome::Answer`]); one-shot outcomes from [`push_call_outcome`] go first.
    ///
    /// [`push_call_outcome`]: LiveKitDouble::push_call_outcome
    pub fn set_call_outcome(&self, outcome: CallOutcome) {
        self.shared.lock().call_outcome = outcome;
    }

    /// Queues an outcome for the next call only (FIFO, ahead of [`set_call_outcome`]).
    ///
    /// [`set_call_outcome`]: LiveKitDouble::set_call_outcome
    pub fn push_call_outcome(&self, outcome: CallOutcome) {
        self.shared.lock().call_outcomes.push_back(outcome);
    }

    /// Calls to a number ending in `suffix` play out as `outcome` (after any one-shot
    /// outcome, ahead of [`set_call_outcome`]); the longest matching ending wins. Lets a
    /// scripted scenario keep one number busy and another unanswered.
    ///
    /// [`set_call_outcome`]: LiveKitDouble::set_call_outcome
    pub fn set_outcome_for_suffix(&self, suffix: &str, outcome: CallOutcome) {
        let mut s = self.shared.lock();
        s.suffix_outcomes.retain(|(known, _)| known != suffix);
        s.suffix_outcomes.push((suffix.to_owned(), outcome));
        s.suffix_outcomes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    }

    /// Answered calls end with the callee hanging up after `length` (`None`, the default:
    /// they last until ended by the caller, a hangup or their max duration).
    pub fn set_answered_call_length(&self, length: Option<Duration>) {
        self.shared.lock().answered_call_length = length;
    }

    /// Every `CreateSIPParticipant` that passed validation and dialed, oldest first, with
    /// its current state.
    pub fn calls(&self) -> Vec<DialedCall> {
        self.shared.lock().calls.clone()
    }

    /// The callee hangs up (BYE): `sip.callStatus` becomes `hangup`, the participant leaves
    /// with `CLIENT_INITIATED` and an empty room finishes. Returns whether the call was live.
    pub fn hangup(&self, sip_call_id: &str) -> bool {
        sip_participant::end(&mut self.shared.lock(), sip_call_id, CallState::Ended)
    }

    /// How the next transfers end: `Ok(())` (REFER accepted, the participant leaves) or
    /// `Err(sip_status)` the transfer target answered (the call stays up).
    pub fn set_transfer_outcome(&self, outcome: Result<(), u16>) {
        self.shared.lock().transfer_failure = outcome.err();
    }

    /// `TransferSIPParticipant` requests that reached the SIP stage, as received.
    pub fn transfers(&self) -> Vec<TransferSipParticipantRequest> {
        self.shared.lock().transfers.clone()
    }

    /// Live rooms, sorted by name.
    pub fn rooms(&self) -> Vec<Room> {
        let s = self.shared.lock();
        s.rooms.values().map(|r| r.room.clone()).collect()
    }

    /// Participants of a live room, in join order.
    pub fn participants(&self, room: &str) -> Vec<ParticipantInfo> {
        let s = self.shared.lock();
        s.rooms
            .get(room)
            .map(|r| r.participants.clone())
            .unwrap_or_default()
    }

    /// A participant joins `room` (created if missing), as an agent worker taking a dispatch
    /// or a client with a token would: `participant_joined`. The double runs no agents, so
    /// tests bring theirs in with this.
    pub fn join_participant(&self, room: &str, participant: ParticipantInfo) {
        self.shared.lock().join(room, participant);
    }

    /// Agent dispatches of every live room.
    pub fn dispatches(&self) -> Vec<AgentDispatch> {
        let s = self.shared.lock();
        s.rooms
            .values()
            .flat_map(|r| r.dispatches.iter().cloned())
            .collect()
    }

    /// Where webhooks go (`None`: nowhere; events are still logged in [`webhook_events`]).
    ///
    /// [`webhook_events`]: LiveKitDouble::webhook_events
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.shared.lock().hooks.url = url;
    }

    /// Every event the double emitted, oldest first, whether or not a URL was set.
    pub fn webhook_events(&self) -> Vec<WebhookEvent> {
        self.shared.lock().hooks.events.clone()
    }

    /// Finished POSTs to the webhook URL, in delivery order.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.lock().hooks.deliveries.clone()
    }

    /// Emits `event` like LiveKit would (an empty `id` / `created_at` is filled in), signed.
    pub fn emit_webhook(&self, event: WebhookEvent) {
        self.shared.lock().hooks.emit(event);
    }

    /// POSTs `body` to the webhook URL in the event queue's order, with `authorization` as
    /// the `Authorization` header (`None`: no header), for forged or replayed events.
    pub fn emit_webhook_raw(&self, body: Vec<u8>, authorization: Option<String>) {
        self.shared.lock().hooks.raw(body, Some(authorization));
    }

    /// POSTs `body` signed the way LiveKit signs webhooks (e.g. a replayed old event).
    pub fn emit_webhook_signed(&self, body: Vec<u8>) {
        self.shared.lock().hooks.raw(body, None);
    }

    /// The `Authorization` value LiveKit would send with `body`, signed now.
    pub fn webhook_authorization(&self, body: &[u8]) -> String {
        webhook::sign(
            body,
            &self.shared.api_key,
            &self.shared.api_secret,
            webhook::TOKEN_VALID_FOR,
        )
    }

    /// Waits until every queued webhook has been delivered (or has given up); false on
    /// timeout.
    pub async fn flush_webhooks(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.shared.lock().hooks.pending == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops listening: once this returns, new connects are refused. Open connections are
    /// closed gracefully (given a few seconds, then dropped). Other clones of the handle keep
    /// reading the state.
    pub async fn shutdown(self) {
        let (stop, closed, server) = {
            let mut s = self.shared.lock();
            (s.shutdown.take(), s.listener_closed.take(), s.server.take())
        };
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if let Some(closed) = closed {
            // Err means the sender was dropped: exactly the signal we wait for.
            let _ = closed.await;
        }
        if let Some(server) = server {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}
