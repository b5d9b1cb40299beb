//! The Exotel double: vSIP (`/v2/accounts/{sid}/trunks…`) and the ExoPhones list
//! (`/v2_beta/Accounts/{sid}/IncomingPhoneNumbers`).
//!
//! Reproduces (PROVIDERS.md §3, §5; EX-REF): HTTP Basic with the API key and token (401 with
//! error 1010 otherwise); JSON only (415/1011; 400/1007 for a body that does not parse); the
//! envelope `{request_id, method, http_code, [metadata], response}` with one item or an
//! array; numeric-string ids and 28-character `trmum…` trunk sids; the quirks (a duplicate
//! number or IP answers HTTP 200 with an inner 409/1008; a destination batch answers 207 with
//! per-item outcomes, 1002 "Destination not whitelisted" for an IP not whitelisted first);
//! query-parameter deletes answering the deleted object; cascading trunk deletes; paging by
//! `offset`/`page_size`; and the limits: 200 requests a minute and 50 concurrent requests
//! per account, answered 429/1030 beyond (EX-REF's status table; no example shows one).

mod state;
mod vsip;

use crate::server::Server;
use crate::wire::{Core, Exchange, Fault, Recorded, Reply};
use axum::extract::{Request, State as AxState};
use axum::response::Response;
use serde_json::Value;
use state::{failure, State};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;

const RATE_LIMITED: u32 = 1030;
const AUTH_FAILED: u32 = 1010;

struct Limits {
    per_window: Option<usize>,
    window: Duration,
    concurrent: usize,
    recent: VecDeque<Instant>,
}

struct Shared {
    account: String,
    api_key: String,
    api_token: String,
    state: Mutex<State>,
    limits: Mutex<Limits>,
    in_flight: AtomicUsize,
    core: Core,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Handle on a running Exotel double; clones share the server and state.
#[derive(Clone)]
pub struct ExotelDouble {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

impl std::fmt::Debug for ExotelDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExotelDouble")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl ExotelDouble {
    pub async fn start(account_sid: &str, api_key: &str, api_token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::start_on(listener, account_sid, api_key, api_token)
    }

    pub fn start_on(
        listener: TcpListener,
        account_sid: &str,
        api_key: &str,
        api_token: &str,
    ) -> Self {
        let shared = Arc::new(Shared {
            account: account_sid.to_owned(),
            api_key: api_key.to_owned(),
            api_token: api_token.to_owned(),
            state: Mutex::default(),
            limits: Mutex::new(Limits {
                per_window: Some(200),
                window: Duration::from_secs(60),
                concurrent: 50,
                recent: VecDeque::new(),
            }),
            in_flight: AtomicUsize::new(0),
            core: Core::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        Self {
            shared,
            server: Arc::new(Server::start(listener, app)),
        }
    }

    /// `http://127.0.0.1:PORT`: the value of `TRUNKLINE_EXOTEL_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Gives the account an ExoPhone; returns its sid.
    pub fn add_exophone(&self, e164: &str) -> String {
        let sid = crate::wire::hex(32);
        lock(&self.shared.state).exophones.push(state::ExoPhone {
            sid: sid.clone(),
            phone_number: e164.to_owned(),
            voice_url: None,
        });
        sid
    }

    /// Every trunk, as `GET /trunks/{sid}` renders its `data`.
    pub fn trunks(&self) -> Vec<Value> {
        let s = lock(&self.shared.state);
        s.trunks
            .iter()
            .map(|t| State::trunk_json(t, &self.shared.account, true))
            .collect()
    }

    pub fn numbers(&self, trunk_sid: &str) -> Vec<Value> {
        let s = lock(&self.shared.state);
        s.numbers
            .iter()
            .filter(|m| m.trunk_sid == trunk_sid)
            .map(State::mapping_json)
            .collect()
    }

    pub fn whitelisted_ips(&self, trunk_sid: &str) -> Vec<Value> {
        let s = lock(&self.shared.state);
        s.ips
            .iter()
            .filter(|i| i.trunk_sid == trunk_sid)
            .map(State::ip_json)
            .collect()
    }

    pub fn destinations(&self, trunk_sid: &str) -> Vec<Value> {
        let s = lock(&self.shared.state);
        s.destinations
            .iter()
            .filter(|d| d.trunk_sid == trunk_sid)
            .map(State::destination_json)
            .collect()
    }

    /// `(user_name, password)` of each credential: what the trunk would accept.
    pub fn credentials(&self, trunk_sid: &str) -> Vec<(String, String)> {
        let s = lock(&self.shared.state);
        s.credentials
            .iter()
            .filter(|c| c.trunk_sid == trunk_sid)
            .map(|c| (c.user_name.clone(), c.password.clone()))
            .collect()
    }

    /// Deletes a trunk as the dashboard would (cascading).
    pub fn delete_trunk_out_of_band(&self, trunk_sid: &str) -> bool {
        lock(&self.shared.state).remove_trunk(trunk_sid).is_some()
    }

    /// Changes a mapped number's mode behind the client's back (drift).
    pub fn set_number_mode_out_of_band(
        &self,
        trunk_sid: &str,
        phone_number: &str,
        mode: Option<&str>,
    ) -> bool {
        let mut s = lock(&self.shared.state);
        match s
            .numbers
            .iter_mut()
            .find(|m| m.trunk_sid == trunk_sid && m.phone_number == phone_number)
        {
            Some(m) => {
                m.mode = mode.map(str::to_owned);
                true
            }
            None => false,
        }
    }

    /// Requests allowed per rolling `window` (`None`: unlimited). Default 200 a minute.
    pub fn set_rate_limit(&self, limit: Option<(usize, Duration)>) {
        let mut l = lock(&self.shared.limits);
        l.per_window = limit.map(|(n, _)| n);
        if let Some((_, w)) = limit {
            l.window = w;
        }
        l.recent.clear();
    }

    /// Requests allowed in flight at once. Default 50.
    pub fn set_concurrency_limit(&self, n: usize) {
        lock(&self.shared.limits).concurrent = n;
    }

    /// The next request answers `fault` instead (FIFO, one each).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.core.push_fault(fault);
    }

    /// The next request whose path ends with `suffix` (e.g. `/whitelisted-ips`) answers
    /// `fault` instead: a failure part-way through a setup.
    pub fn push_fault_on(&self, suffix: &str, fault: Fault) {
        self.shared.core.push_fault_on(suffix, fault);
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.core.set_fault(fault);
    }

    pub fn set_latency(&self, d: Duration) {
        self.shared.core.set_latency(d);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.core.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.core.clear_requests();
    }

    pub async fn outage(&self) {
        self.server.stop().await;
    }

    pub async fn resume(&self) {
        self.server
            .restart()
            .await
            .expect("rebind the double's address");
    }

    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}

fn rate_limited(method: &str, retry_after: Option<u64>) -> Reply {
    let r = failure(
        method,
        429,
        RATE_LIMITED,
        "Rate limit exceeded",
        "Too many requests",
    );
    match retry_after {
        Some(s) => r.header("Retry-After", s.to_string()),
        None => r,
    }
}

/// Decrements the in-flight count however the request ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    let ex = match Exchange::read(req).await {
        Ok(ex) => ex,
        Err(resp) => return resp,
    };
    let method = ex.method.to_string();
    let now_in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&shared.in_flight);
    let over_limit = {
        let mut l = lock(&shared.limits);
        let now = Instant::now();
        let window = l.window;
        while l
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            l.recent.pop_front();
        }
        let over_rate = l.per_window.is_some_and(|n| l.recent.len() >= n);
        if !over_rate {
            l.recent.push_back(now);
        }
        over_rate || now_in_flight > l.concurrent
    };
    let m2 = method.clone();
    let fault_reply = move |f: &Fault| match f {
        Fault::RateLimited { retry_after_secs } => rate_limited(&m2, *retry_after_secs),
        Fault::Status(code) => failure(
            &m2,
            *code,
            1000,
            "Internal Server Error",
            "The server failed",
        ),
        Fault::Hang(_) => failure(&m2, 504, 1000, "Gateway Timeout", "The server failed"),
    };
    let s2 = shared.clone();
    shared
        .core
        .around(ex, fault_reply, move |ex| {
            if over_limit {
                return rate_limited(&method, Some(1));
            }
            let authed = ex
                .basic_auth()
                .is_some_and(|(u, p)| u == s2.api_key && p == s2.api_token);
            if !authed {
                return failure(
                    &method,
                    401,
                    AUTH_FAILED,
                    "Authorization failed",
                    "Invalid API key or token",
                );
            }
            let segs: Vec<&str> = ex.segs.iter().map(String::as_str).collect();
            let r = vsip::Req {
                ex,
                account: &s2.account,
                method: &method,
            };
            let mut s = lock(&s2.state);
            match segs.as_slice() {
                ["v2", "accounts", sid, rest @ ..] if *sid == s2.account => {
                    vsip::handle(&r, &mut s, rest)
                }
                ["v2_beta", "Accounts", sid, "IncomingPhoneNumbers"] if *sid == s2.account => {
                    vsip::exophones(&r, &s, "http://twilix.exotel.com")
                }
                // Another account's path, with this account's key: refused like bad credentials.
                ["v2", "accounts", _, ..] | ["v2_beta", "Accounts", _, ..] => failure(
                    &method,
                    401,
                    AUTH_FAILED,
                    "Authorization failed",
                    "The key does not belong to this account",
                ),
                _ => failure(&method, 404, vsip::NOT_FOUND, "Not Found", &ex.path),
            }
        })
        .await
}
