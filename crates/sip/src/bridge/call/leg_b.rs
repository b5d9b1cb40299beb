//! Leg B, the callee's side: how its INVITE is addressed (`plan_b`, the only place the two
//! directions differ), and its INVITE client transaction: provisionals, the answer, failures,
//! the digest challenge answered once, CANCEL (§9.1) and the hop-by-hop ACK (§17.1.1.3).

use super::{hostport, token, Action, Call, CallConfig, Leg, Phase, Timer};
use crate::bridge::{
    exotel_number, status_toward_livekit, ExotelTransport, Failure, NumberFormat, Route,
};
use crate::digest::{self, Answer, Challenge};
use crate::msg::{self, name_addr_uri, SipMsg, Start};
use crate::probe::Credentials;
use crate::transport::StreamTransport;

impl Call {
    pub(super) fn send_b_invite(
        &mut self,
        out: &mut Vec<Action>,
        auth: Option<(&'static str, String)>,
    ) {
        let (mut req, _) = self.b.request("INVITE", None);
        if let Some((name, value)) = auth {
            req.headers.push((name.into(), value));
        }
        req.headers
            .push(("Allow".into(), "INVITE, ACK, CANCEL, BYE, OPTIONS".into()));
        req.headers
            .push(("Content-Type".into(), "application/sdp".into()));
        req.body = self.b_offer.clone();
        out.push(Action::SendB(req.to_bytes()));
        out.push(Action::Arm(Timer::B, self.cfg.timers.long()));
        self.b_invite = req;
    }

    /// Exotel's leg failed before an answer.
    pub(super) fn b_failed(&mut self, out: &mut Vec<Action>, f: Failure) {
        match self.phase {
            Phase::Calling | Phase::Proceeding => {
                let status = status_toward_livekit(f);
                self.fail_a(out, status, None);
            }
            Phase::Cancelling => self.finish_cancel(out),
            _ => {}
        }
    }

    pub(super) fn finish_cancel(&mut self, out: &mut Vec<Action>) {
        if self.final_status.is_none() {
            self.fail_a(out, 487, None);
        } else {
            self.end(out);
        }
    }

    pub(super) fn send_cancel(&mut self, out: &mut Vec<Action>) {
        // §9.1: the INVITE's Request-URI, Call-ID, From, To, top Via and CSeq number.
        let inv = &self.b_invite;
        let mut headers = vec![];
        for name in ["Via", "From", "To", "Call-ID"] {
            if let Some(v) = inv.header(name) {
                headers.push((name.to_owned(), v.to_owned()));
            }
        }
        let n = inv.cseq().map(|c| c.0).unwrap_or(1);
        headers.push(("CSeq".into(), format!("{n} CANCEL")));
        headers.push(("Max-Forwards".into(), "70".into()));
        let cancel = SipMsg {
            start: inv.start.clone(),
            headers,
            body: vec![],
        };
        let mut cancel = cancel;
        cancel.start = Start::Request {
            method: "CANCEL".into(),
            uri: inv.uri().unwrap_or_default().to_owned(),
        };
        out.push(Action::SendB(cancel.to_bytes()));
    }

    /// The hop-by-hop ACK for a non-2xx final to our INVITE `inv` (§17.1.1.3).
    pub(super) fn ack_non2xx(inv: &SipMsg, resp: &SipMsg) -> Vec<u8> {
        let mut headers = vec![];
        if let Some(v) = inv.top_via() {
            headers.push(("Via".into(), v));
        }
        for name in ["Max-Forwards", "From"] {
            if let Some(v) = inv.header(name) {
                headers.push((name.to_owned(), v.to_owned()));
            }
        }
        headers.push((
            "To".into(),
            resp.header("To").unwrap_or_default().to_owned(),
        ));
        headers.push(("Call-ID".into(), inv.call_id().to_owned()));
        let n = inv.cseq().map(|c| c.0).unwrap_or(1);
        headers.push(("CSeq".into(), format!("{n} ACK")));
        for r in inv.all("Route") {
            headers.push(("Route".into(), r));
        }
        SipMsg {
            start: Start::Request {
                method: "ACK".into(),
                uri: inv.uri().unwrap_or_default().to_owned(),
            },
            headers,
            body: vec![],
        }
        .to_bytes()
    }

    pub(super) fn b_invite_response(&mut self, out: &mut Vec<Action>, resp: SipMsg, status: u16) {
        match status {
            100..=199 => {
                if self.phase == Phase::Calling {
                    self.phase = Phase::Proceeding;
                    out.push(Action::Arm(Timer::C, self.cfg.timers.ring_timeout));
                }
                if self.cancel_pending {
                    self.cancel_pending = false;
                    self.send_cancel(out);
                    return;
                }
                if status == 100 || self.phase != Phase::Proceeding {
                    return;
                }
                self.learn_b_dialog(&resp, false);
                let body = self.answer_body(out, &resp).unwrap_or_default();
                self.respond_a(out, status, Some((resp, body)));
            }
            200..=299 => {
                let retransmission = self.b_ack.is_some();
                if !retransmission {
                    self.learn_b_dialog(&resp, true);
                    let cseq = self.b_invite.cseq().map(|c| c.0);
                    let (ack, _) = self.b.request("ACK", cseq);
                    self.b_ack = Some(ack.to_bytes());
                }
                if let Some(ack) = self.b_ack.clone() {
                    out.push(Action::SendB(ack));
                }
                if retransmission {
                    return;
                }
                match self.phase {
                    Phase::Calling | Phase::Proceeding => {}
                    _ => {
                        // Answered after LiveKit cancelled (or gave up): hang up Exotel.
                        self.phase = Phase::Confirmed;
                        self.hang_up(out, Leg::B);
                        self.finish_cancel_after_answer(out);
                        return;
                    }
                }
                let Some(body) = self.answer_body(out, &resp) else {
                    self.phase = Phase::Confirmed;
                    self.hang_up(out, Leg::B);
                    let code = status_toward_livekit(Failure::BadAnswer);
                    self.fail_a(out, code, Some("Exotel's answer has no usable SDP"));
                    return;
                };
                self.phase = Phase::Answered;
                out.push(Action::WatchMedia);
                self.respond_a(out, status, Some((resp, body)));
            }
            _ => {
                let ack = Self::ack_non2xx(&self.b_invite, &resp);
                out.push(Action::SendB(ack));
                if matches!(status, 401 | 407)
                    && !self.b_auth_answered
                    && self.phase != Phase::Cancelling
                {
                    if let Some(auth) = self.answer_challenge(&resp, status) {
                        self.b_auth_answered = true;
                        self.send_b_invite(out, Some(auth));
                        return;
                    }
                }
                match self.phase {
                    Phase::Cancelling => self.finish_cancel(out),
                    Phase::Calling | Phase::Proceeding => {
                        let code = status_toward_livekit(Failure::Response(status));
                        self.fail_a(out, code, None);
                    }
                    _ => {}
                }
            }
        }
    }

    pub(super) fn finish_cancel_after_answer(&mut self, out: &mut Vec<Action>) {
        if self.final_status.is_none() {
            self.phase = Phase::Cancelling;
            self.finish_cancel(out);
        }
    }

    pub(super) fn learn_b_dialog(&mut self, resp: &SipMsg, confirmed: bool) {
        if let Some(to) = resp.header("To") {
            self.b.remote = to.to_owned();
        }
        if let Some(c) = resp.contact_uri() {
            self.b.target = c;
        }
        let mut routes = resp.all("Record-Route");
        if confirmed || !routes.is_empty() {
            routes.reverse();
            self.b.routes = routes;
        }
    }

    /// Exotel's SDP rewritten for LiveKit (`None` when it has none we can use).
    pub(super) fn answer_body(&mut self, out: &mut Vec<Action>, resp: &SipMsg) -> Option<Vec<u8>> {
        if resp.body.is_empty() {
            return None;
        }
        let (body, peer) = self.offer_for(Leg::A, &resp.body).ok()?;
        if let Some(p) = peer {
            out.push(Action::PeerB(p));
        }
        Some(body)
    }

    pub(super) fn answer_challenge(
        &self,
        resp: &SipMsg,
        status: u16,
    ) -> Option<(&'static str, String)> {
        let creds = self.b_credentials.as_ref()?;
        let (challenge_header, answer_header) = if status == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let ch = Challenge::pick(&resp.all_raw(challenge_header)).ok()?;
        let uri = self.b_invite.uri().unwrap_or_default().to_owned();
        let value = digest::authorization(
            &ch,
            &Answer {
                username: &creds.username,
                password: creds.password.expose(),
                method: "INVITE",
                uri: &uri,
                cnonce: &token(),
                nc: 1,
            },
        );
        Some((answer_header, value))
    }
}

/// How leg B's INVITE is addressed, and whether the call can be placed at all.
pub(super) struct BPlan {
    /// From, without its tag.
    pub(super) from: String,
    pub(super) to: String,
    /// The Request-URI.
    pub(super) target: String,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) transport: StreamTransport,
    pub(super) credentials: Option<Credentials>,
    /// A final answer to the caller instead of a call: status and Warning text.
    pub(super) refuse: Option<(u16, Option<&'static str>)>,
}

pub(super) fn plan_b(cfg: &CallConfig, invite: &SipMsg) -> BPlan {
    let called_user = invite.uri().and_then(msg::uri_user);
    match &cfg.route {
        Route::ToExotel(t) => {
            let exo = hostport(&t.exotel_host, t.exotel_port);
            let number = called_user.and_then(|u| exotel_number(u, t.number_format));
            let caller = exotel_number(&t.exotel_number, t.number_format)
                .unwrap_or_else(|| t.exotel_number.trim_start_matches('+').to_owned());
            let refuse = number.is_none().then_some((484, None));
            let number = number.unwrap_or_default();
            let transport = match t.transport {
                ExotelTransport::Tcp => StreamTransport::Tcp,
                ExotelTransport::Tls => StreamTransport::Tls,
            };
            BPlan {
                // Exotel wants the From domain to be <account_sid>.pstn.exotel.com (seed 003).
                from: format!("<sip:{caller}@{}.pstn.exotel.com>", t.account_sid),
                to: format!("<sip:{number}@{exo}>"),
                target: format!("sip:{number}@{exo};transport={}", transport.param()),
                host: t.exotel_host.clone(),
                port: t.exotel_port,
                transport,
                credentials: t.exotel_credentials.clone(),
                refuse,
            }
        }
        Route::ToLiveKit { trunk, host, port } => {
            let lk = hostport(host, *port);
            // LiveKit matches its inbound trunk's `numbers` against To, and the rule's
            // `inbound_numbers` against From, both in E.164 with '+'.
            let called = called_user.and_then(|u| exotel_number(u, NumberFormat::E164));
            let caller = invite
                .header("From")
                .and_then(name_addr_uri)
                .as_deref()
                .and_then(msg::uri_user)
                .and_then(|u| exotel_number(u, NumberFormat::E164))
                .unwrap_or_else(|| "anonymous".to_owned());
            let refuse = called.is_none().then_some((484, None));
            let called = called.unwrap_or_default();
            BPlan {
                from: format!("<sip:{caller}@{}>", cfg.b_local),
                to: format!("<sip:{called}@{lk}>"),
                target: format!("sip:{called}@{lk};transport=tcp"),
                host: host.clone(),
                port: *port,
                transport: StreamTransport::Tcp,
                credentials: trunk.credentials.clone(),
                refuse,
            }
        }
    }
}
