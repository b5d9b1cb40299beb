//! Requests from either leg once the call exists (retransmissions, CANCEL, ACK, BYE, OPTIONS,
//! and re-INVITE/UPDATE/INFO relayed to the other leg with SDP rewritten), and the responses
//! to what we relayed or sent.

use super::{leg_index, Action, Call, Leg, Phase, Relayed, Timer};
use crate::msg::{self, param, reason, SipMsg, Start};

impl Call {
    /// Whether a request from `leg` belongs to this call's dialog on that leg.
    pub(super) fn in_dialog(&self, leg: Leg, req: &SipMsg) -> bool {
        match leg {
            Leg::Caller => {
                req.to_tag().as_deref() == Some(self.caller_tag.as_str())
                    && req.from_tag() == self.caller_invite.from_tag()
            }
            Leg::Callee => {
                req.to_tag() == param(&self.callee.local, "tag")
                    && req.from_tag().is_some()
                    && req.from_tag() == param(&self.callee.remote, "tag")
            }
        }
    }

    pub(super) fn request(&mut self, out: &mut Vec<Action>, leg: Leg, req: SipMsg) {
        let method = req.method().unwrap_or_default().to_ascii_uppercase();
        // A retransmitted request gets the same answer again (§17.2).
        if method != "ACK" {
            if let Some(b) = req.branch() {
                if let Some((_, r)) = self.answered.iter().find(|(x, _)| *x == b) {
                    let r = r.clone();
                    self.send(out, leg, r);
                    return;
                }
            }
        }
        let initial = leg == Leg::Caller && req.branch() == self.caller_invite.branch();
        match method.as_str() {
            "INVITE" if initial => {
                if let Some((_, bytes)) = self.caller_last.clone() {
                    out.push(Action::SendCaller(bytes));
                }
            }
            "ACK" => self.ack(out, leg, &req),
            "CANCEL" if initial => {
                self.respond(out, leg, &req, 200);
                self.cancel_from_caller(out);
            }
            "CANCEL" => {
                // Matches no transaction of ours that is still pending.
                self.respond(out, leg, &req, 481);
            }
            _ if !self.in_dialog(leg, &req) => self.respond(out, leg, &req, 481),
            "BYE" => {
                self.respond(out, leg, &req, 200);
                match self.phase {
                    Phase::Answered | Phase::Confirmed => {
                        if self.phase == Phase::Answered {
                            self.awaiting_caller_ack = false;
                        }
                        self.hang_up(out, leg.other());
                    }
                    // A BYE in LiveKit's early dialog (§15) ends the attempt like a CANCEL.
                    Phase::Calling | Phase::Proceeding if leg == Leg::Caller => {
                        self.cancel_from_caller(out)
                    }
                    _ => self.end(out),
                }
                if leg == Leg::Caller && self.phase != Phase::Cancelling {
                    self.awaiting_caller_ack = false;
                }
            }
            "OPTIONS" => self.respond(out, leg, &req, 200),
            _ if self.phase != Phase::Confirmed => {
                let status = if method == "INVITE" { 491 } else { 481 };
                self.respond(out, leg, &req, status);
            }
            _ if self.relayed.is_some() => self.respond(out, leg, &req, 491),
            _ => self.relay_request(out, leg, req, &method),
        }
    }

    pub(super) fn cancel_from_caller(&mut self, out: &mut Vec<Action>) {
        match self.phase {
            Phase::Calling => {
                // §9.1: no CANCEL before a provisional; it goes out with the first one.
                self.cancel_pending = true;
                self.phase = Phase::Cancelling;
                out.push(Action::Arm(Timer::CancelGuard, self.cfg.timers.long()));
            }
            Phase::Proceeding => {
                self.send_cancel(out);
                self.phase = Phase::Cancelling;
                out.push(Action::Arm(Timer::CancelGuard, self.cfg.timers.long()));
            }
            // Already answered or ended: the CANCEL has no effect (§9.2).
            _ => {}
        }
    }

    pub(super) fn ack(&mut self, out: &mut Vec<Action>, leg: Leg, ack: &SipMsg) {
        if leg == Leg::Caller
            && ack.cseq().map(|c| c.0) == self.caller_invite.cseq().map(|c| c.0)
            && ack.call_id() == self.caller.call_id
        {
            if self.awaiting_caller_ack {
                self.awaiting_caller_ack = false;
                if self.phase == Phase::Answered {
                    self.phase = Phase::Confirmed;
                }
            }
            return;
        }
        // The ACK for a relayed re-INVITE's 2xx: the other leg gets its own.
        let matches = self.relayed.as_ref().is_some_and(|r| {
            r.from == leg
                && r.awaiting_ack.is_some()
                && ack.cseq().map(|c| c.0) == r.request.cseq().map(|c| c.0)
        });
        if matches {
            if let Some(r) = self.relayed.take() {
                let other = leg.other();
                let to = r.awaiting_ack.unwrap_or_default();
                let (mut a, _) = self.dialog(other).request("ACK", Some(r.cseq));
                a.set("To", to);
                self.send(out, other, a.to_bytes());
            }
        }
        // Anything else (a hop-by-hop ACK of our non-2xx, a stray) is absorbed: never answered.
    }

    pub(super) fn relay_request(
        &mut self,
        out: &mut Vec<Action>,
        leg: Leg,
        req: SipMsg,
        method: &str,
    ) {
        let other = leg.other();
        let mut body = vec![];
        if !req.body.is_empty()
            && req
                .header("Content-Type")
                .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/sdp"))
        {
            match self.offer_for(other, &req.body) {
                Ok((b, peer)) => {
                    if let Some(p) = peer {
                        out.push(match leg {
                            Leg::Caller => Action::CallerMedia(p),
                            Leg::Callee => Action::CalleeMedia(p),
                        });
                    }
                    body = b;
                }
                Err(_) => {
                    self.respond(out, leg, &req, 488);
                    return;
                }
            }
        } else {
            body.clone_from(&req.body);
        }
        if method == "INVITE" {
            self.respond_trying(out, leg, &req);
        }
        let (mut copy, _) = self.dialog(other).request(method, None);
        if !body.is_empty() {
            let ct = req.header("Content-Type").unwrap_or("application/sdp");
            copy.headers.push(("Content-Type".into(), ct.to_owned()));
            copy.body = body;
        }
        let cseq = copy.cseq().map(|c| c.0).unwrap_or(1);
        self.send_request(out, other, &copy);
        self.relayed = Some(Relayed {
            from: leg,
            request: req,
            cseq,
            sent: copy,
            awaiting_ack: None,
        });
    }

    pub(super) fn respond_trying(&mut self, out: &mut Vec<Action>, leg: Leg, req: &SipMsg) {
        let r = msg::response(req, 100, "Trying", None).to_bytes();
        self.send(out, leg, r);
    }

    pub(super) fn response(&mut self, out: &mut Vec<Action>, leg: Leg, resp: SipMsg) {
        let Some((n, method)) = resp.cseq() else {
            return;
        };
        let status = resp.status().unwrap_or(500);
        if leg == Leg::Callee
            && method == "INVITE"
            && resp.call_id() == self.callee.call_id
            && Some(n) == self.callee_invite.cseq().map(|c| c.0)
        {
            self.callee_invite_response(out, resp, status);
            return;
        }
        if method == "BYE" && self.bye_out[leg_index(leg)] && status >= 200 {
            self.bye_out[leg_index(leg)] = false;
            if leg == Leg::Caller {
                self.caller_out = None;
            }
            return;
        }
        let relayed = self
            .relayed
            .as_ref()
            .is_some_and(|r| r.from == leg.other() && r.cseq == n);
        if relayed {
            self.relayed_response(out, leg, resp, status, &method);
        }
    }

    pub(super) fn relayed_response(
        &mut self,
        out: &mut Vec<Action>,
        leg: Leg,
        resp: SipMsg,
        status: u16,
        method: &str,
    ) {
        if status < 200 {
            return;
        }
        if leg == Leg::Caller {
            self.caller_out = None;
        }
        let Some(mut r) = self.relayed.take() else {
            return;
        };
        let origin = r.from;
        let mut answer = msg::response(&r.request, status, resp.reason(), None);
        if (200..300).contains(&status) && !resp.body.is_empty() {
            match self.offer_for(origin, &resp.body) {
                Ok((body, peer)) => {
                    if let Some(p) = peer {
                        out.push(match leg {
                            Leg::Caller => Action::CallerMedia(p),
                            Leg::Callee => Action::CalleeMedia(p),
                        });
                    }
                    answer
                        .headers
                        .push(("Content-Type".into(), "application/sdp".into()));
                    answer.body = body;
                }
                Err(_) => {
                    answer.start = Start::Response {
                        status: 488,
                        reason: reason(488).into(),
                    }
                }
            }
        }
        if (200..300).contains(&status) {
            answer
                .headers
                .push(("Contact".into(), self.dialog(origin).contact.clone()));
            // The far leg's 2xx is ACKed when the origin ACKs ours.
            if method == "INVITE" {
                r.awaiting_ack = Some(resp.header("To").unwrap_or_default().to_owned());
                self.relayed = Some(r.clone());
            }
        } else if method == "INVITE" {
            let ack = Self::ack_non2xx(&r.sent, &resp);
            self.send(out, leg, ack);
        }
        if let Some(b) = r.request.branch() {
            self.answered.push((b, answer.to_bytes()));
        }
        self.send(out, origin, answer.to_bytes());
    }
}
