//! The call-machine test harness: a `Call` driven by hand (`T`), with what it sent to each leg
//! parsed, and Exotel's and LiveKit's side of each exchange as a real peer would write it.

use super::call::{Action, Call, CallConfig, Event, Timers};
use super::testing::*;
use super::Route;
use crate::msg::{self, SipMsg};

pub(crate) const MEDIA_A: &str = "192.0.2.10:30000";
pub(crate) const MEDIA_B: &str = "198.51.100.10:30002";
pub(crate) const SDP_B: &str =
    "v=0\r\no=- 5 5 IN IP4 203.0.113.50\r\ns=-\r\nc=IN IP4 203.0.113.50\r\nt=0 0\r\n\
    m=audio 16000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

pub(crate) fn cfg(caller_udp: bool) -> CallConfig {
    CallConfig {
        route: Route::ToExotel(trunk()),
        callee_call_id: "b-call@trunkline".into(),
        caller_local: "192.0.2.10:5060".into(),
        caller_udp,
        callee_local: "198.51.100.10:5060".into(),
        caller_media: MEDIA_A.parse().unwrap(),
        callee_media: MEDIA_B.parse().unwrap(),
        timers: Timers::default(),
    }
}

pub(crate) fn parse(s: &str) -> SipMsg {
    SipMsg::parse(s.as_bytes()).unwrap()
}

pub(crate) struct T {
    pub(crate) call: Call,
    /// Everything sent so far, per leg, parsed.
    pub(crate) caller: Vec<SipMsg>,
    pub(crate) callee: Vec<SipMsg>,
    pub(crate) all: Vec<Action>,
}

impl T {
    pub(crate) fn start(caller_udp: bool) -> Self {
        Self::start_with(caller_udp, parse(&invite("lk-call", 2)))
    }

    pub(crate) fn start_with(caller_udp: bool, inv: SipMsg) -> Self {
        let (call, out) = Call::start(cfg(caller_udp), inv);
        let mut t = T {
            call,
            caller: vec![],
            callee: vec![],
            all: vec![],
        };
        t.take(out);
        t
    }

    pub(crate) fn take(&mut self, out: Vec<Action>) {
        for a in &out {
            match a {
                Action::SendCaller(b) => self
                    .caller
                    .push(SipMsg::parse(b).expect("we print valid SIP")),
                Action::SendCallee(b) => self
                    .callee
                    .push(SipMsg::parse(b).expect("we print valid SIP")),
                _ => {}
            }
        }
        self.all.extend(out);
    }

    pub(crate) fn ev(&mut self, e: Event) {
        let out = self.call.handle(e);
        self.take(out);
    }

    pub(crate) fn last_a(&self) -> &SipMsg {
        self.caller.last().unwrap()
    }

    pub(crate) fn last_b(&self) -> &SipMsg {
        self.callee.last().unwrap()
    }

    /// The INVITE last sent to Exotel.
    pub(crate) fn callee_invite(&self) -> SipMsg {
        self.callee
            .iter()
            .rev()
            .find(|m| m.method() == Some("INVITE"))
            .unwrap()
            .clone()
    }

    /// Exotel answers `req` (Record-Route and Contact as a real peer would).
    pub(crate) fn exotel(&mut self, req: &SipMsg, status: u16, body: Option<&str>) {
        let mut r = msg::response(req, status, msg::reason(status), Some("exo9"));
        r.headers.push((
            "Record-Route".into(),
            "<sip:198.51.100.99;lr;transport=tcp>".into(),
        ));
        r.headers.push((
            "Contact".into(),
            "<sip:exo@198.51.100.77:5070;transport=tcp>".into(),
        ));
        if let Some(b) = body {
            r.headers
                .push(("Content-Type".into(), "application/sdp".into()));
            r.body = b.as_bytes().to_vec();
        }
        self.ev(Event::FromCallee(r));
    }

    pub(crate) fn statuses_a(&self) -> Vec<u16> {
        self.caller.iter().filter_map(SipMsg::status).collect()
    }

    pub(crate) fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.all.iter().filter(|a| f(a)).count()
    }

    pub(crate) fn assert_released_and_done(&self) {
        assert_eq!(
            self.count(|a| *a == Action::ReleaseMedia),
            1,
            "{:?}",
            self.all
        );
        assert_eq!(self.count(|a| *a == Action::Done), 1, "{:?}", self.all);
        assert!(self.call.is_done());
    }

    /// LiveKit's ACK for our final response (2xx or not), as LiveKit would send it.
    pub(crate) fn ack_from_a(&mut self) {
        let to = self.last_final_a().header("To").unwrap().to_owned();
        let ack = format!(
            "ACK sip:bridge@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKack{}\r\n\
             From: <sip:+15550100@livekit>;tag=lk1\r\nTo: {to}\r\nCall-ID: lk-call\r\nCSeq: 2 ACK\r\n\r\n",
            self.caller.len()
        );
        self.ev(Event::FromCaller(parse(&ack)));
    }

    pub(crate) fn last_final_a(&self) -> SipMsg {
        self.caller
            .iter()
            .rev()
            .find(|m| m.status().is_some_and(|s| s >= 200) && m.cseq().unwrap().1 == "INVITE")
            .unwrap()
            .clone()
    }

    /// An in-dialog request from LiveKit.
    pub(crate) fn livekit_sends(&mut self, method: &str, cseq: u32, body: Option<&str>) {
        let to = self.last_final_a().header("To").unwrap().to_owned();
        let (ct, b) = match body {
            Some(b) => ("Content-Type: application/sdp\r\n", b),
            None => ("", ""),
        };
        let req = format!(
            "{method} sip:bridge@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK{method}{cseq}\r\n\
             From: <sip:+15550100@livekit>;tag=lk1\r\nTo: {to}\r\nCall-ID: lk-call\r\nCSeq: {cseq} {method}\r\n\
             {ct}Content-Length: {}\r\n\r\n{b}",
            b.len()
        );
        self.ev(Event::FromCaller(parse(&req)));
    }

    /// An in-dialog request from Exotel, on the B dialog.
    pub(crate) fn exotel_sends(&mut self, method: &str, cseq: u32) {
        let inv = self.callee_invite();
        let req = format!(
            "{method} sip:bridge@198.51.100.10:5060;transport=tcp SIP/2.0\r\n\
             Via: SIP/2.0/TCP 198.51.100.77:5070;branch=z9hG4bKexo{method}{cseq}\r\n\
             From: {};tag=exo9\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n\r\n",
            inv.header("To").unwrap(),
            inv.header("From").unwrap(),
            inv.call_id()
        );
        self.ev(Event::FromCallee(parse(&req)));
    }

    /// LiveKit's CANCEL of its INVITE (same branch, no body).
    pub(crate) fn cancel_from_livekit(&mut self) {
        let cancel = invite("lk-call", 2)
            .replace("INVITE sip", "CANCEL sip")
            .replace("CSeq: 2 INVITE", "CSeq: 2 CANCEL");
        let cancel = cancel.split("Content-Type").next().unwrap().to_owned() + "\r\n";
        self.ev(Event::FromCaller(parse(&cancel)));
    }

    /// Up to the 200 OK relayed and ACKed.
    pub(crate) fn answered(caller_udp: bool) -> Self {
        let mut t = Self::start(caller_udp);
        let inv = t.callee_invite();
        t.exotel(&inv, 180, None);
        t.exotel(&inv, 200, Some(SDP_B));
        t.ack_from_a();
        t
    }
}
