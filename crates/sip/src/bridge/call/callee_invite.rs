//! The callee's leg: its INVITE client transaction: provisionals, the answer,
//! failures, the digest challenge answered once, CANCEL (§9.1) and the hop-by-hop ACK
//! (§17.1.1.3).

use super::{Action, Call, Leg, Phase, Timer};
use crate::bridge::challenge_answerer;
use crate::bridge::{status_toward_caller, Failure};
use crate::msg::{SipMsg, Start};

impl Call {
    pub(super) fn send_callee_invite(
        &mut self,
        out: &mut Vec<Action>,
        auth: Option<(&'static str, String)>,
    ) {
        let (mut req, _) = self.callee.request("INVITE", None);
        if let Some((name, value)) = auth {
            req.headers.push((name.into(), value));
        }
        req.headers
            .push(("Allow".into(), "INVITE, ACK, CANCEL, BYE, OPTIONS".into()));
        req.headers
            .push(("Content-Type".into(), "application/sdp".into()));
        req.body = self.callee_offer.clone();
        out.push(Action::SendCallee(req.to_bytes()));
        out.push(Action::Arm(Timer::B, self.cfg.timers.long()));
        self.callee_invite = req;
    }

    /// Exotel's leg failed before an answer.
    pub(super) fn callee_failed(&mut self, out: &mut Vec<Action>, f: Failure) {
        match self.phase {
            Phase::Calling | Phase::Proceeding => {
                let status = status_toward_caller(f);
                self.fail_caller(out, status, None);
            }
            Phase::Cancelling => self.finish_cancel(out),
            _ => {}
        }
    }

    pub(super) fn finish_cancel(&mut self, out: &mut Vec<Action>) {
        if self.final_status.is_none() {
            self.fail_caller(out, 487, None);
        } else {
            self.end(out);
        }
    }

    pub(super) fn send_cancel(&mut self, out: &mut Vec<Action>) {
        // §9.1: the INVITE's Request-URI, Call-ID, From, To, top Via and CSeq number.
        let inv = &self.callee_invite;
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
        out.push(Action::SendCallee(cancel.to_bytes()));
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

    pub(super) fn callee_invite_response(
        &mut self,
        out: &mut Vec<Action>,
        resp: SipMsg,
        status: u16,
    ) {
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
                self.learn_callee_dialog(&resp, false);
                let body = self.answer_body(out, &resp).unwrap_or_default();
                self.respond_caller(out, status, Some((resp, body)));
            }
            200..=299 => {
                let retransmission = self.callee_ack.is_some();
                if !retransmission {
                    self.learn_callee_dialog(&resp, true);
                    let cseq = self.callee_invite.cseq().map(|c| c.0);
                    let (ack, _) = self.callee.request("ACK", cseq);
                    self.callee_ack = Some(ack.to_bytes());
                }
                if let Some(ack) = self.callee_ack.clone() {
                    out.push(Action::SendCallee(ack));
                }
                if retransmission {
                    return;
                }
                match self.phase {
                    Phase::Calling | Phase::Proceeding => {}
                    _ => {
                        // Answered after LiveKit cancelled (or gave up): hang up Exotel.
                        self.phase = Phase::Confirmed;
                        self.hang_up(out, Leg::Callee);
                        self.finish_cancel_after_answer(out);
                        return;
                    }
                }
                let Some(body) = self.answer_body(out, &resp) else {
                    self.phase = Phase::Confirmed;
                    self.hang_up(out, Leg::Callee);
                    let code = status_toward_caller(Failure::BadAnswer);
                    self.fail_caller(out, code, Some("Exotel's answer has no usable SDP"));
                    return;
                };
                self.phase = Phase::Answered;
                out.push(Action::WatchMedia);
                self.respond_caller(out, status, Some((resp, body)));
            }
            _ => {
                let ack = Self::ack_non2xx(&self.callee_invite, &resp);
                out.push(Action::SendCallee(ack));
                if matches!(status, 401 | 407)
                    && !self.callee_auth_answered
                    && self.phase != Phase::Cancelling
                {
                    let answer = self.callee_credentials.as_ref().and_then(|creds| {
                        let uri = self.callee_invite.uri().unwrap_or_default();
                        challenge_answerer::answer(&resp, status, creds, "INVITE", uri)
                    });
                    if let Some(auth) = answer {
                        self.callee_auth_answered = true;
                        self.send_callee_invite(out, Some(auth));
                        return;
                    }
                }
                match self.phase {
                    Phase::Cancelling => self.finish_cancel(out),
                    Phase::Calling | Phase::Proceeding => {
                        let code = status_toward_caller(Failure::Response(status));
                        self.fail_caller(out, code, None);
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

    pub(super) fn learn_callee_dialog(&mut self, resp: &SipMsg, confirmed: bool) {
        if let Some(to) = resp.header("To") {
            self.callee.remote = to.to_owned();
        }
        if let Some(c) = resp.contact_uri() {
            self.callee.target = c;
        }
        let mut routes = resp.all("Record-Route");
        if confirmed || !routes.is_empty() {
            routes.reverse();
            self.callee.routes = routes;
        }
    }

    /// Exotel's SDP rewritten for LiveKit (`None` when it has none we can use).
    pub(super) fn answer_body(&mut self, out: &mut Vec<Action>, resp: &SipMsg) -> Option<Vec<u8>> {
        if resp.body.is_empty() {
            return None;
        }
        let (body, peer) = self.offer_for(Leg::Caller, &resp.body).ok()?;
        if let Some(p) = peer {
            out.push(Action::CalleeMedia(p));
        }
        Some(body)
    }
}
