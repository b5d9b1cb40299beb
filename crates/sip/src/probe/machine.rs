//! The probe's SIP logic as an I/O-free state machine: `handle(now, event) -> Vec<Action>`.
//! The driver (`driver.rs`) owns the socket and the clock; this owns RFC 3261.
//!
//! Why our own client transactions rather than rsipstack's `Endpoint`: a probe needs each
//! step bounded on its own (a refused TCP connect reported at once, a 2 s Timer B/F instead of
//! 32 s, a ringing timeout) and its own report of every response with its round-trip time.
//! rsipstack's endpoint owns its transports and connects inside `send`, with one T1×64 for the
//! whole endpoint, and answers digest challenges itself with its own algorithm parsing, so
//! the per-step timing and the "refused at once" report would be fought for rather than had.
//!
//! Client transactions (RFC 3261 §17.1): over UDP Timer A/E retransmit from T1, doubling
//! (Timer E capped at T2, and at T2 once a provisional came, §17.1.2.2); Timer B/F end the
//! transaction after `transaction_timeout` (64×T1 by default). An INVITE stops retransmitting
//! at the first provisional. Non-2xx finals to INVITE are ACKed in the transaction (same
//! branch, §17.1.1.3); a 2xx is ACKed end to end (new branch, §13.2.2.4) and hung up with BYE.
//! CANCEL (§9.1) is sent only after a provisional, with the INVITE's branch and CSeq number.

use super::build::{Context, Proto};
use super::diagnosis::Outcome;
use super::tx::{token, Chain, Tx, TxState};
use crate::digest::{self, Challenge};
use crate::wire::{InResponse, Method, OutRequest};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Retransmit(u32),
    Timeout(u32),
    Ring(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Start,
    Response(InResponse),
    /// Bytes from the peer that are not a SIP response.
    Malformed(String),
    Timer(Timer),
    /// The transport broke: `refused` for a TCP RST or an ICMP port unreachable.
    TransportFailed {
        refused: bool,
    },
    /// The driver's overall deadline passed.
    Abort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
    Arm(Timer, Duration),
    Done,
}

/// One response as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: Method,
    pub status: u16,
    pub reason: String,
    /// From sending the request (the latest retransmission's original) to this response.
    pub rtt: Duration,
    /// The request carried our digest answer.
    pub authenticated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Options,
    Invite,
    Bye,
    Done,
}

pub struct Machine {
    ctx: Context,
    phase: Phase,
    tx: Option<Tx>,
    cancel: Option<Tx>,
    chain: Chain,
    next_id: u32,
    pub seen: Vec<Seen>,
    pub options: Option<Outcome>,
    pub invite: Option<Outcome>,
    pub malformed: Vec<String>,
    /// Set once our CANCEL is out (on the first 18x, or on the ringing timeout).
    cancelled: bool,
}

impl Machine {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            phase: Phase::Idle,
            tx: None,
            cancel: None,
            chain: Chain::new(),
            next_id: 0,
            seen: vec![],
            options: None,
            invite: None,
            malformed: vec![],
            cancelled: false,
        }
    }

    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn handle(&mut self, now: Duration, event: Event) -> Vec<Action> {
        let mut out = vec![];
        match event {
            Event::Start if self.phase == Phase::Idle => {
                self.phase = Phase::Options;
                self.send_request(now, Method::Options, None, &mut out);
            }
            Event::Start => {}
            Event::Response(r) => self.on_response(now, r, &mut out),
            Event::Malformed(why) => {
                if self.malformed.len() < 5 {
                    self.malformed.push(why);
                }
            }
            Event::Timer(t) => self.on_timer(now, t, &mut out),
            Event::TransportFailed { refused } => {
                let outcome = if refused && self.seen.is_empty() {
                    Outcome::ConnectRefused
                } else if !self.malformed.is_empty() && self.seen.is_empty() {
                    Outcome::NoResponse {
                        malformed_seen: true,
                    }
                } else {
                    Outcome::ConnectionLost
                };
                self.set_outcome_if_unset(outcome);
                self.finish(&mut out);
            }
            Event::Abort => {
                let malformed_seen = !self.malformed.is_empty();
                self.set_outcome_if_unset(Outcome::NoResponse { malformed_seen });
                self.finish(&mut out);
            }
        }
        out
    }

    fn set_outcome_if_unset(&mut self, outcome: Outcome) {
        let slot = match self.phase {
            Phase::Options | Phase::Idle => &mut self.options,
            Phase::Invite | Phase::Bye => &mut self.invite,
            Phase::Done => return,
        };
        slot.get_or_insert(outcome);
    }

    fn finish(&mut self, out: &mut Vec<Action>) {
        if self.phase != Phase::Done {
            self.phase = Phase::Done;
            self.tx = None;
            self.cancel = None;
            out.push(Action::Done);
        }
    }

    fn alloc_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// A new OPTIONS or INVITE (or their authenticated retry) as a new transaction.
    fn send_request(
        &mut self,
        now: Duration,
        method: Method,
        auth: Option<(&'static str, String)>,
        out: &mut Vec<Action>,
    ) {
        let user = (method == Method::Invite)
            .then(|| self.ctx.test_number.clone())
            .flatten();
        let uri = self.ctx.hostport_uri(user.as_deref());
        let to = format!("<{uri}>");
        let branch = format!("z9hG4bK{}", token());
        self.chain.cseq += 1;
        let mut headers = self
            .ctx
            .base_headers(&self.chain, method, &branch, to, self.chain.cseq);
        // `transport=tls` on a sip: URI rather than a sips: URI: TLS for this hop only, which
        // is what carriers expect (RFC 5630 §3.1 keeps it for exactly this).
        let transport = match self.ctx.proto {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
        };
        headers.push((
            "Contact",
            format!("<sip:probe@{};transport={transport}>", self.ctx.local),
        ));
        headers.push(("User-Agent", "trunkline-probe".into()));
        let authenticated = auth.is_some();
        if let Some(h) = auth {
            headers.push(h);
        }
        let body = if method == Method::Invite {
            headers.push(("Content-Type", "application/sdp".into()));
            self.ctx.sdp().into_bytes()
        } else {
            headers.push(("Accept", "application/sdp".into()));
            vec![]
        };
        let request = OutRequest {
            method,
            uri,
            headers,
            body,
        };
        self.start_tx(now, request, branch, authenticated, out);
    }

    fn start_tx(
        &mut self,
        now: Duration,
        request: OutRequest,
        branch: String,
        authenticated: bool,
        out: &mut Vec<Action>,
    ) {
        let bytes = match request.to_bytes() {
            Ok(b) => b,
            Err(e) => {
                // Our own numbers or host made an unparsable URI; nothing can be sent.
                tracing::warn!(error = %e, "probe request could not be built");
                self.set_outcome_if_unset(Outcome::ConnectionLost);
                self.finish(out);
                return;
            }
        };
        let id = self.alloc_id();
        let t = self.ctx.timers;
        out.push(Action::Send(bytes.clone()));
        out.push(Action::Arm(Timer::Timeout(id), t.transaction_timeout));
        if self.ctx.proto == Proto::Udp {
            out.push(Action::Arm(Timer::Retransmit(id), t.t1));
        }
        if request.method == Method::Invite {
            out.push(Action::Arm(Timer::Ring(id), t.ring_timeout));
        }
        let tx = Tx {
            id,
            method: request.method,
            branch,
            request,
            bytes,
            sent_at: now,
            interval: t.t1,
            state: TxState::Calling,
            authenticated,
            seen: vec![],
        };
        if tx.method == Method::Cancel {
            self.cancel = Some(tx);
        } else {
            self.tx = Some(tx);
        }
    }

    fn on_timer(&mut self, now: Duration, timer: Timer, out: &mut Vec<Action>) {
        let t = self.ctx.timers;
        let proto = self.ctx.proto;
        let cancelled = self.cancelled;
        match timer {
            Timer::Retransmit(id) => {
                for tx in [self.tx.as_mut(), self.cancel.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    if tx.id != id || tx.state == TxState::Completed || proto != Proto::Udp {
                        continue;
                    }
                    let invite = tx.method == Method::Invite;
                    if invite && tx.state == TxState::Proceeding {
                        continue; // Timer A stops at the first provisional (§17.1.1.2).
                    }
                    out.push(Action::Send(tx.bytes.clone()));
                    tx.interval = if invite {
                        tx.interval * 2
                    } else if tx.state == TxState::Proceeding {
                        t.t2
                    } else {
                        (tx.interval * 2).min(t.t2)
                    };
                    out.push(Action::Arm(Timer::Retransmit(id), tx.interval));
                }
            }
            Timer::Timeout(id) => {
                if self.cancel.as_ref().is_some_and(|c| c.id == id) {
                    self.cancel = None; // A lost CANCEL answer: the INVITE's own timer rules.
                    return;
                }
                let Some(tx) = self.tx.as_ref().filter(|tx| tx.id == id) else {
                    return;
                };
                // Timer B does not run once an INVITE is proceeding (§17.1.1.2), except
                // while we wait for the 487 to our CANCEL (re-armed when it was sent).
                if tx.method == Method::Invite && tx.state == TxState::Proceeding && !cancelled {
                    return;
                }
                let malformed_seen = !self.malformed.is_empty();
                self.set_outcome_if_unset(Outcome::NoResponse { malformed_seen });
                self.finish(out);
            }
            Timer::Ring(id) => {
                let proceeding = self
                    .tx
                    .as_ref()
                    .is_some_and(|tx| tx.id == id && tx.state == TxState::Proceeding);
                if proceeding && !self.cancelled {
                    self.invite.get_or_insert(Outcome::NoRing);
                    self.send_cancel(now, out);
                }
            }
        }
    }

    fn send_cancel(&mut self, now: Duration, out: &mut Vec<Action>) {
        let Some(invite) = self.tx.as_ref() else {
            return;
        };
        // §9.1: same Request-URI, Call-ID, From, To (no tag), top Via and CSeq number.
        let keep = ["Via", "Max-Forwards", "From", "To", "Call-ID"];
        let mut headers: Vec<_> = invite
            .request
            .headers
            .iter()
            .filter(|(n, _)| keep.contains(n))
            .cloned()
            .collect();
        headers.push(("CSeq", format!("{} CANCEL", self.chain.cseq)));
        let request = OutRequest {
            method: Method::Cancel,
            uri: invite.request.uri.clone(),
            headers,
            body: vec![],
        };
        let (branch, id) = (invite.branch.clone(), invite.id);
        self.cancelled = true;
        self.start_tx(now, request, branch, false, out);
        out.push(Action::Arm(
            Timer::Timeout(id),
            self.ctx.timers.transaction_timeout,
        ));
    }

    fn on_response(&mut self, now: Duration, r: InResponse, out: &mut Vec<Action>) {
        if self.phase == Phase::Done {
            return;
        }
        let matches = |tx: &Tx| {
            r.branch.as_deref() == Some(tx.branch.as_str())
                && r.cseq_method
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(tx.method.as_str()))
        };
        if let Some(c) = self.cancel.as_mut().filter(|c| matches(c)) {
            if !c.seen.contains(&r.status) {
                c.seen.push(r.status);
                self.seen.push(Seen {
                    method: Method::Cancel,
                    status: r.status,
                    reason: r.reason.clone(),
                    rtt: now.saturating_sub(c.sent_at),
                    authenticated: false,
                });
            }
            if r.status >= 200 {
                c.state = TxState::Completed;
            }
            return;
        }
        let Some(tx) = self.tx.as_mut().filter(|tx| matches(tx)) else {
            return; // Stray, late, or for another transaction: RFC 3261 §17.1.3 drops it.
        };
        let first_time = !tx.seen.contains(&r.status);
        if first_time {
            tx.seen.push(r.status);
            self.seen.push(Seen {
                method: tx.method,
                status: r.status,
                reason: r.reason.clone(),
                rtt: now.saturating_sub(tx.sent_at),
                authenticated: tx.authenticated,
            });
        }
        if tx.state == TxState::Completed {
            // A retransmitted final: re-ACK a non-2xx INVITE answer (§17.1.1.2).
            if tx.method == Method::Invite && r.status >= 300 {
                let tx = self.tx.as_ref().expect("matched above");
                if let Some(ack) = self.ctx.ack(&self.chain, tx, &r) {
                    out.push(Action::Send(ack));
                }
            }
            return;
        }
        if r.status < 200 {
            tx.state = TxState::Proceeding;
            if tx.method == Method::Invite && (180..190).contains(&r.status) && !self.cancelled {
                self.invite = Some(Outcome::Rang);
                self.send_cancel(now, out);
            }
            return;
        }
        tx.state = TxState::Completed;
        let method = tx.method;
        let authenticated = tx.authenticated;
        if method == Method::Invite {
            let tx = self.tx.as_ref().expect("matched above");
            if let Some(ack) = self.ctx.ack(&self.chain, tx, &r) {
                out.push(Action::Send(ack));
            }
        }
        match method {
            Method::Options | Method::Invite if matches!(r.status, 401 | 407) => {
                self.on_challenge(now, method, authenticated, &r, out)
            }
            Method::Options => {
                self.options = Some(self.status_outcome(r.status, authenticated));
                self.after_options(now, out);
            }
            Method::Invite if (200..300).contains(&r.status) => {
                self.invite.get_or_insert(Outcome::Answered);
                self.phase = Phase::Bye;
                self.send_bye(now, &r, out);
            }
            Method::Invite => {
                let outcome = self.status_outcome(r.status, authenticated);
                self.invite.get_or_insert(outcome);
                self.finish(out);
            }
            _ => self.finish(out), // BYE answered.
        }
    }

    fn status_outcome(&self, status: u16, after_auth: bool) -> Outcome {
        Outcome::Status {
            status,
            after_auth,
            had_credentials: self.ctx.credentials.is_some(),
        }
    }

    fn on_challenge(
        &mut self,
        now: Duration,
        method: Method,
        authenticated: bool,
        r: &InResponse,
        out: &mut Vec<Action>,
    ) {
        let answer = match (&self.ctx.credentials, authenticated) {
            (Some(c), false) => Some(c.clone()),
            _ => None,
        };
        let Some(creds) = answer else {
            // No credentials, or ours were just refused: that is the answer.
            let outcome = self.status_outcome(r.status, authenticated);
            return self.conclude(now, method, outcome, out);
        };
        let (values, header) = if r.status == 407 {
            (&r.proxy_authenticate, "Proxy-Authorization")
        } else {
            (&r.www_authenticate, "Authorization")
        };
        let challenge = match Challenge::pick(values) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(reason = %e, "probe: unanswerable challenge");
                return self.conclude(now, method, Outcome::ChallengeUnanswerable, out);
            }
        };
        let user = (method == Method::Invite)
            .then(|| self.ctx.test_number.clone())
            .flatten();
        let uri = self.ctx.hostport_uri(user.as_deref());
        let cnonce = token();
        let value = digest::authorization(
            &challenge,
            &digest::Answer {
                username: &creds.username,
                password: creds.password.expose(),
                method: method.as_str(),
                uri: &uri,
                cnonce: &cnonce,
                nc: 1,
            },
        );
        self.send_request(now, method, Some((header, value)), out);
    }

    fn conclude(&mut self, now: Duration, method: Method, outcome: Outcome, out: &mut Vec<Action>) {
        if method == Method::Options {
            self.options = Some(outcome);
            self.after_options(now, out);
        } else {
            self.invite.get_or_insert(outcome);
            self.finish(out);
        }
    }

    /// OPTIONS is done: the INVITE follows when asked for and the server answered at all.
    fn after_options(&mut self, now: Duration, out: &mut Vec<Action>) {
        let answered = matches!(
            self.options,
            Some(Outcome::Status { .. } | Outcome::ChallengeUnanswerable)
        );
        if self.ctx.test_number.is_some() && answered {
            self.phase = Phase::Invite;
            self.chain = Chain::new();
            self.tx = None;
            self.send_request(now, Method::Invite, None, out);
        } else {
            self.finish(out);
        }
    }

    fn send_bye(&mut self, now: Duration, r: &InResponse, out: &mut Vec<Action>) {
        let Some(invite) = self.tx.as_ref() else {
            return;
        };
        let uri = r
            .contact
            .clone()
            .unwrap_or_else(|| invite.request.uri.clone());
        let to =
            r.to.clone()
                .unwrap_or_else(|| format!("<{}>", invite.request.uri));
        let branch = format!("z9hG4bK{}", token());
        self.chain.cseq += 1;
        let headers = self
            .ctx
            .base_headers(&self.chain, Method::Bye, &branch, to, self.chain.cseq);
        let request = OutRequest {
            method: Method::Bye,
            uri,
            headers,
            body: vec![],
        };
        self.start_tx(now, request, branch, false, out);
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
