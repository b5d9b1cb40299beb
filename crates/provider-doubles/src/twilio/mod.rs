//! The Twilio double: Elastic SIP Trunking v1 and the 2010 API on one listener (the paths do
//! not overlap, so one base URL serves as both `TRUNKLINE_TWILIO_API_URL` and
//! `TRUNKLINE_TWILIO_TRUNKING_URL`).
//!
//! Reproduces (PROVIDERS.md §1, §5): HTTP Basic with the Account SID and Auth Token or an API
//! Key (401/20003 otherwise, with `WWW-Authenticate`); form bodies with PascalCase names;
//! 201 on create, 200 on fetch and update (a POST), 204 with an empty body on delete;
//! `XX` + 32-hex SIDs; v1 and 2010 answer and paging shapes; `{code, message, more_info,
//! status}` errors; 21248 for a taken domain, including a deleted trunk's (reserved until
//! [`TwilioDouble::release_domain`]); the password rule; trunk `auth_type` following the
//! associations; and never a credential's password in an answer.

mod api2010;
mod form;
mod state;
mod trunking;

use crate::server::Server;
use crate::wire::{Core, Exchange, Fault, Recorded, Reply};
use axum::extract::{Request, State as AxState};
use axum::response::Response;
use serde_json::Value;
use state::State;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;

/// What a handler needs besides the state.
pub(crate) struct Ctx {
    /// `http://127.0.0.1:PORT`, for v1's absolute URLs.
    pub base: String,
    pub account: String,
    pub token: String,
}

struct Shared {
    ctx: Ctx,
    api_keys: Mutex<HashMap<String, String>>,
    state: Mutex<State>,
    core: Core,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handle on a running Twilio double; clones share the server and state.
#[derive(Clone)]
pub struct TwilioDouble {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

impl std::fmt::Debug for TwilioDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioDouble")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl TwilioDouble {
    /// Serves `account_sid` (`AC` + 32 hex) authenticated by `auth_token`, on 127.0.0.1.
    pub async fn start(account_sid: &str, auth_token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::start_on(listener, account_sid, auth_token)
    }

    pub fn start_on(listener: TcpListener, account_sid: &str, auth_token: &str) -> Self {
        let addr = listener.local_addr().expect("bound listener");
        let shared = Arc::new(Shared {
            ctx: Ctx {
                base: format!("http://{addr}"),
                account: account_sid.to_owned(),
                token: auth_token.to_owned(),
            },
            api_keys: Mutex::default(),
            state: Mutex::default(),
            core: Core::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = Arc::new(Server::start(listener, app));
        Self { shared, server }
    }

    /// `http://127.0.0.1:PORT`: both base URLs.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Accepts an API Key (`SK…`) and its secret as Basic credentials.
    pub fn add_api_key(&self, sid: &str, secret: &str) {
        let mut keys = self
            .shared
            .api_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        keys.insert(sid.to_owned(), secret.to_owned());
    }

    /// Gives the account a number (bought outside the API); returns its `PN…`.
    pub fn add_number(&self, e164: &str) -> String {
        let n = State::new_number(e164);
        let sid = n.sid.clone();
        self.shared.state().numbers.push(n);
        sid
    }

    /// Points a number at a webhook, as the console would (a number trunkline must not take).
    pub fn set_number_voice_url(&self, sid: &str, url: &str) -> bool {
        let mut s = self.shared.state();
        match s.numbers.iter_mut().find(|n| n.sid == sid) {
            Some(n) => {
                n.voice_url = Some(url.to_owned());
                n.trunk_sid = None;
                true
            }
            None => false,
        }
    }

    /// Every trunk, as `GET /v1/Trunks/{Sid}` renders it, oldest first.
    pub fn trunks(&self) -> Vec<Value> {
        let s = self.shared.state();
        s.trunks
            .iter()
            .map(|t| s.trunk_json(t, &self.shared.ctx.base, &self.shared.ctx.account))
            .collect()
    }

    pub fn origination_urls(&self, trunk_sid: &str) -> Vec<Value> {
        let s = self.shared.state();
        s.origination_urls
            .iter()
            .filter(|o| o.trunk_sid == trunk_sid)
            .map(|o| {
                State::origination_url_json(o, &self.shared.ctx.base, &self.shared.ctx.account)
            })
            .collect()
    }

    pub fn credential_lists(&self) -> Vec<Value> {
        let s = self.shared.state();
        s.credential_lists
            .iter()
            .map(|l| State::credential_list_json(l, &self.shared.ctx.account))
            .collect()
    }

    /// `(username, password)` of each credential in a list: what a SIP peer would present.
    pub fn credentials(&self, list_sid: &str) -> Vec<(String, String)> {
        let s = self.shared.state();
        s.credentials
            .iter()
            .filter(|c| c.list_sid == list_sid)
            .map(|c| (c.username.clone(), c.password.clone()))
            .collect()
    }

    /// The CL sids associated with a trunk.
    pub fn trunk_credential_lists(&self, trunk_sid: &str) -> Vec<String> {
        let s = self.shared.state();
        s.trunk_credential_lists
            .iter()
            .filter(|a| a.trunk_sid == trunk_sid)
            .map(|a| a.sid.clone())
            .collect()
    }

    /// Every number, as IncomingPhoneNumbers renders it.
    pub fn numbers(&self) -> Vec<Value> {
        let s = self.shared.state();
        s.numbers
            .iter()
            .map(|n| State::number_json(n, &self.shared.ctx.account))
            .collect()
    }

    /// Deletes a trunk as the console would: cascades, and reserves its domain.
    pub fn delete_trunk_out_of_band(&self, sid: &str) -> bool {
        self.shared.state().remove_trunk(sid)
    }

    /// Changes a trunk's friendly name or domain behind the client's back (drift).
    pub fn edit_trunk_out_of_band(
        &self,
        sid: &str,
        friendly_name: Option<&str>,
        domain_name: Option<&str>,
    ) -> bool {
        let mut s = self.shared.state();
        match s.trunks.iter_mut().find(|t| t.sid == sid) {
            Some(t) => {
                if let Some(n) = friendly_name {
                    t.friendly_name = Some(n.to_owned());
                }
                if let Some(d) = domain_name {
                    t.domain_name = Some(d.to_owned());
                }
                true
            }
            None => false,
        }
    }

    pub fn delete_origination_url_out_of_band(&self, sid: &str) -> bool {
        let mut s = self.shared.state();
        let before = s.origination_urls.len();
        s.origination_urls.retain(|o| o.sid != sid);
        s.origination_urls.len() != before
    }

    /// Deletes a credential list (its credentials and associations go too).
    pub fn delete_credential_list_out_of_band(&self, sid: &str) -> bool {
        let mut s = self.shared.state();
        let before = s.credential_lists.len();
        s.credential_lists.retain(|l| l.sid != sid);
        s.credentials.retain(|c| c.list_sid != sid);
        s.trunk_credential_lists.retain(|a| a.sid != sid);
        s.credential_lists.len() != before
    }

    /// Domains of deleted trunks, still reserved.
    pub fn reserved_domains(&self) -> Vec<String> {
        self.shared
            .state()
            .reserved_domains
            .iter()
            .cloned()
            .collect()
    }

    /// The 30 days are over: the domain can be taken again.
    pub fn release_domain(&self, domain: &str) -> bool {
        self.shared
            .state()
            .reserved_domains
            .remove(&domain.to_ascii_lowercase())
    }

    /// The next request answers `fault` instead (FIFO, one each).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.core.push_fault(fault);
    }

    /// Every request answers `fault` until cleared with `None` (queued ones go first).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.core.set_fault(fault);
    }

    /// Holds back each answer by `d`; the request itself takes effect at once.
    pub fn set_latency(&self, d: Duration) {
        self.shared.core.set_latency(d);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.core.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.core.clear_requests();
    }

    /// Stops listening: connections are refused until [`TwilioDouble::resume`].
    pub async fn outage(&self) {
        self.server.stop().await;
    }

    /// Listens again on the same address with the same state.
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

fn fault_reply(f: &Fault) -> Reply {
    match f {
        Fault::RateLimited { retry_after_secs } => {
            let r = form::error(429, form::TOO_MANY, "Too Many Requests");
            match retry_after_secs {
                Some(s) => r.header("Retry-After", s.to_string()),
                None => r,
            }
        }
        Fault::Status(503) => form::error(503, 20503, "Service Unavailable"),
        Fault::Status(s) => form::error(*s, 20500, "Internal Server Error"),
        Fault::Hang(_) => form::error(504, 20500, "Gateway Timeout"),
    }
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    let ex = match Exchange::read(req).await {
        Ok(ex) => ex,
        Err(resp) => return resp,
    };
    let shared2 = shared.clone();
    shared
        .core
        .around(ex, fault_reply, move |ex| {
            if !authenticated(&shared2, ex) {
                return form::error(401, form::AUTH, "Authenticate")
                    .header("WWW-Authenticate", "Basic realm=\"Twilio API\"");
            }
            let segs: Vec<&str> = ex.segs.iter().map(String::as_str).collect();
            let mut s = shared2.state();
            match segs.as_slice() {
                ["v1", rest @ ..] => trunking::handle(&shared2.ctx, &mut s, ex, rest),
                ["2010-04-01", "Accounts", rest @ ..] => {
                    api2010::handle(&shared2.ctx, &mut s, ex, rest)
                }
                _ => form::not_found(&ex.path),
            }
        })
        .await
}

fn authenticated(shared: &Shared, ex: &Exchange) -> bool {
    let Some((user, pass)) = ex.basic_auth() else {
        return false;
    };
    if user == shared.ctx.account {
        return pass == shared.ctx.token;
    }
    let keys = shared
        .api_keys
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    keys.get(&user).is_some_and(|secret| *secret == pass)
}
