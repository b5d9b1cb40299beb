//! One bridged call as an I/O-free state machine: `Call::start` with the caller's INVITE
//! (LiveKit's, authenticated, or Exotel's), then `handle(event) -> Vec<Action>`. The driver
//! owns sockets, clock and relay.
//!
//! The caller's leg is the one whose INVITE started the call (we are its UAS); the callee's
//! leg is the one we call (we are its UAC, over TCP or, toward an Exotel trunk on its TLS
//! port, TLS). Outbound the caller is LiveKit and the callee Exotel; inbound the reverse. The
//! comments below name the outbound case; `Route` is the only difference.
//! RFC 3261 as it applies to a B2BUA:
//! - the B INVITE has its own Call-ID, From tag, Via and Contact (§8.1.1); the number and the
//!   From domain are Exotel's (`<number>@<account_sid>.pstn.exotel.com`);
//! - Exotel's 401/407 is answered once per call with the trunk's Exotel credentials (§22.2);
//! - non-2xx finals are ACKed hop by hop in the transaction (§17.1.1.3), a 2xx end to end by
//!   each leg's own ACK (§13.2.2.4): B's at once, A's is awaited (Timer G/H, §13.3.1.4; no
//!   ACK within 64×T1 hangs up both legs);
//! - in-dialog requests go to the remote target (Contact) through the route set
//!   (Record-Route, reversed on the UAC side, §12.1.2), with the leg's own CSeq;
//! - CANCEL (§9.2) is answered 200 at once; Exotel's CANCEL waits for its first provisional
//!   (§9.1), and LiveKit gets 487 when Exotel's transaction ends (or after 64×T1 without).
//! - Timer B bounds the wait for Exotel's first response; Timer C the ringing.

mod callee_invite;
mod dialog;
mod in_dialog;
mod route_plan;

use super::{Failure, Route};
use crate::msg::{self, name_addr_uri, param, reason, SipMsg, Start};
use crate::probe::Credentials;
use crate::sdp::Sdp;
use crate::transport::StreamTransport;
pub(crate) use dialog::token;
use dialog::Dialog;
pub use route_plan::hostport;
use route_plan::plan_callee;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The side whose INVITE started the call (we are its UAS): LiveKit outbound, Exotel
    /// inbound.
    Caller,
    /// The side we call (we are its UAC): Exotel outbound, LiveKit inbound.
    Callee,
}

impl Leg {
    fn other(self) -> Self {
        match self {
            Self::Caller => Self::Callee,
            Self::Callee => Self::Caller,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    /// Timer C: how long Exotel may ring before the call is given up (RFC 3261: > 3 min).
    pub ring_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            ring_timeout: Duration::from_secs(180),
        }
    }
}

impl Timers {
    /// 64×T1: Timers B, F, H.
    pub fn long(&self) -> Duration {
        self.t1 * 64
    }
}

/// Everything a call is built from.
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub route: Route,
    /// The callee's leg's Call-ID (chosen by the driver, which routes the callee's leg's messages by it).
    pub callee_call_id: String,
    /// Our signalling address toward LiveKit (`ip:port`), for Contact and Via on the caller's leg.
    pub caller_local: String,
    /// Whether the caller's leg is UDP (then our responses and requests to LiveKit are retransmitted).
    pub caller_udp: bool,
    /// Our signalling address toward Exotel (the whitelisted public address).
    pub callee_local: String,
    /// The relay's two sides: LiveKit sends media to `caller_media`, Exotel to `callee_media`.
    pub caller_media: SocketAddr,
    pub callee_media: SocketAddr,
    pub timers: Timers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Exotel's INVITE transaction got no response.
    B,
    /// Exotel rang too long.
    C,
    /// Retransmit our final response to LiveKit's INVITE (UDP).
    G,
    /// LiveKit never ACKed our final response.
    H,
    /// Retransmit our outstanding request to LiveKit (UDP).
    E,
    /// Our outstanding in-dialog request on a leg got no final response.
    F(Leg),
    /// Exotel never ended its INVITE transaction after our CANCEL.
    CancelGuard,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    FromCaller(SipMsg),
    FromCallee(SipMsg),
    /// The TCP (or TLS) connection to Exotel could not be made.
    CalleeConnectFailed,
    /// The connection to Exotel closed.
    CalleeClosed,
    Timer(Timer),
    /// No RTP from either side for the relay's timeout (watched once `WatchMedia` is out).
    MediaTimeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SendCaller(Vec<u8>),
    SendCallee(Vec<u8>),
    /// (Re)arm a timer; an armed timer of the same kind is replaced.
    Arm(Timer, Duration),
    /// LiveKit's media address, from its SDP.
    CallerMedia(SocketAddr),
    /// Exotel's media address, from its SDP.
    CalleeMedia(SocketAddr),
    /// The call is answered: end it (`Event::MediaTimeout`) if its RTP stops.
    WatchMedia,
    /// The media session is no longer needed: free its ports now.
    ReleaseMedia,
    /// Nothing is left to do: the driver forgets the call.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// INVITE out to Exotel, no provisional yet.
    Calling,
    Proceeding,
    /// LiveKit cancelled; waiting for Exotel's final.
    Cancelling,
    /// 2xx relayed to LiveKit, its ACK awaited.
    Answered,
    Confirmed,
    /// The call is over (BYE sent or a final failure); transactions may still be completing.
    Ended,
}

/// An in-dialog request relayed from one leg to the other (re-INVITE, UPDATE, INFO…).
#[derive(Debug, Clone)]
struct Relayed {
    /// The leg the request came from.
    from: Leg,
    request: SipMsg,
    /// Our copy's CSeq on the other leg.
    cseq: u32,
    /// Our copy as sent (for the hop-by-hop ACK of a non-2xx to INVITE).
    sent: SipMsg,
    /// A 2xx to an INVITE awaiting the originating leg's ACK: (the 2xx's To).
    awaiting_ack: Option<String>,
}

pub struct Call {
    cfg: CallConfig,
    caller_invite: SipMsg,
    caller_tag: String,
    caller: Dialog,
    callee: Dialog,
    /// The INVITE last sent to Exotel.
    callee_invite: SipMsg,
    callee_auth_answered: bool,
    /// Our offer toward Exotel (kept for the authenticated retry).
    callee_offer: Vec<u8>,
    /// The digest pair answering the callee's leg's challenge.
    callee_credentials: Option<Credentials>,
    /// Where the callee's leg connects, and how.
    callee_host: String,
    callee_port: u16,
    callee_transport: StreamTransport,
    phase: Phase,
    /// A CANCEL to send once Exotel's first provisional arrives (§9.1).
    cancel_pending: bool,
    /// Our last response to LiveKit's INVITE (for retransmissions) and its status.
    caller_last: Option<(u16, Vec<u8>)>,
    g_interval: Duration,
    awaiting_caller_ack: bool,
    /// The ACK we sent for Exotel's 2xx (resent on its retransmissions).
    callee_ack: Option<Vec<u8>>,
    /// Our BYE awaiting its response, per leg.
    bye_out: [bool; 2],
    /// Our last request to LiveKit for UDP retransmission, with its interval.
    caller_out: Option<(Vec<u8>, Duration)>,
    relayed: Option<Relayed>,
    /// Last response per received request branch, for retransmitted requests (BYE, re-INVITE).
    answered: Vec<(String, Vec<u8>)>,
    media_released: bool,
    done: bool,
    /// The status LiveKit got for its INVITE.
    pub final_status: Option<u16>,
}

fn leg_index(leg: Leg) -> usize {
    match leg {
        Leg::Caller => 0,
        Leg::Callee => 1,
    }
}
impl Call {
    /// A call from LiveKit's authenticated INVITE. The actions include the 100 Trying and
    /// the INVITE to Exotel, or a final answer to LiveKit when the call cannot be placed.
    pub fn start(cfg: CallConfig, invite: SipMsg) -> (Self, Vec<Action>) {
        let caller_tag = token();
        let caller = Dialog {
            call_id: invite.call_id().to_owned(),
            local: format!(
                "{};tag={caller_tag}",
                invite.header("To").unwrap_or("<sip:bridge>")
            ),
            remote: invite.header("From").unwrap_or_default().to_owned(),
            cseq: 0,
            target: invite
                .contact_uri()
                .or_else(|| invite.header("From").and_then(name_addr_uri))
                .unwrap_or_default(),
            routes: invite.all("Record-Route"),
            via: format!(
                "SIP/2.0/{} {}",
                if cfg.caller_udp { "UDP" } else { "TCP" },
                cfg.caller_local
            ),
            contact: format!(
                "<sip:bridge@{}{}>",
                cfg.caller_local,
                if cfg.caller_udp { "" } else { ";transport=tcp" }
            ),
        };
        let plan = plan_callee(&cfg.route, &cfg.callee_local, &invite);
        let b_tag = token();
        let callee = Dialog {
            call_id: cfg.callee_call_id.clone(),
            local: format!("{};tag={b_tag}", plan.from),
            remote: plan.to.clone(),
            cseq: 0,
            target: plan.target.clone(),
            routes: vec![],
            via: format!("SIP/2.0/{} {}", plan.transport.via(), cfg.callee_local),
            contact: format!(
                "<sip:bridge@{};transport={}>",
                cfg.callee_local,
                plan.transport.param()
            ),
        };
        let g = cfg.timers.t1;
        let mut call = Call {
            cfg,
            caller_invite: invite,
            caller_tag,
            caller,
            callee,
            callee_invite: SipMsg {
                start: Start::Request {
                    method: "INVITE".into(),
                    uri: String::new(),
                },
                headers: vec![],
                body: vec![],
            },
            callee_auth_answered: false,
            callee_offer: vec![],
            callee_credentials: plan.credentials,
            callee_host: plan.host,
            callee_port: plan.port,
            callee_transport: plan.transport,
            phase: Phase::Calling,
            cancel_pending: false,
            caller_last: None,
            g_interval: g,
            awaiting_caller_ack: false,
            callee_ack: None,
            bye_out: [false, false],
            caller_out: None,
            relayed: None,
            answered: vec![],
            media_released: false,
            done: false,
            final_status: None,
        };
        let mut out = vec![];
        let max_forwards = call
            .caller_invite
            .header("Max-Forwards")
            .map(|m| m.trim().parse::<u32>());
        if let Some(Ok(0)) = max_forwards {
            call.fail_caller(&mut out, 483, None);
            return (call, out);
        }
        if let Some((status, warning)) = plan.refuse {
            call.fail_caller(&mut out, status, warning);
            return (call, out);
        }
        let offer = match call.offer_for(Leg::Callee, &call.caller_invite.body.clone()) {
            Ok((body, peer)) => {
                if let Some(p) = peer {
                    out.push(Action::CallerMedia(p));
                }
                body
            }
            Err(why) => {
                call.fail_caller(&mut out, 488, Some(&why));
                return (call, out);
            }
        };
        call.callee_offer = offer;
        call.respond_caller(&mut out, 100, None);
        call.send_callee_invite(&mut out, None);
        (call, out)
    }

    /// The SDP from `leg`'s peer, filtered to G.711 and pointed at the relay side facing
    /// `to`, with the peer's own media address. An empty body stays empty.
    fn offer_for(&self, to: Leg, body: &[u8]) -> Result<(Vec<u8>, Option<SocketAddr>), String> {
        if body.is_empty() {
            return Err("an INVITE without SDP (late offer) is not supported".into());
        }
        let mut sdp = Sdp::parse(body).map_err(|e| e.to_string())?;
        let peer = sdp.audio_endpoint();
        sdp.keep_g711().map_err(|e| e.to_string())?;
        sdp.rewrite(self.relay_side(to))
            .map_err(|e| e.to_string())?;
        Ok((sdp.to_bytes(), peer))
    }

    fn relay_side(&self, facing: Leg) -> SocketAddr {
        match facing {
            Leg::Caller => self.cfg.caller_media,
            Leg::Callee => self.cfg.callee_media,
        }
    }

    fn dialog(&mut self, leg: Leg) -> &mut Dialog {
        match leg {
            Leg::Caller => &mut self.caller,
            Leg::Callee => &mut self.callee,
        }
    }

    fn send(&mut self, out: &mut Vec<Action>, leg: Leg, bytes: Vec<u8>) {
        out.push(match leg {
            Leg::Caller => Action::SendCaller(bytes),
            Leg::Callee => Action::SendCallee(bytes),
        });
    }

    /// Sends an in-dialog request on `leg`, with retransmission on UDP and Timer F.
    fn send_request(&mut self, out: &mut Vec<Action>, leg: Leg, req: &SipMsg) {
        let bytes = req.to_bytes();
        if leg == Leg::Caller && self.cfg.caller_udp {
            self.caller_out = Some((bytes.clone(), self.cfg.timers.t1));
            out.push(Action::Arm(Timer::E, self.cfg.timers.t1));
        }
        out.push(Action::Arm(Timer::F(leg), self.cfg.timers.long()));
        self.send(out, leg, bytes);
    }

    /// A response to LiveKit's INVITE.
    fn respond_caller(
        &mut self,
        out: &mut Vec<Action>,
        status: u16,
        extra: Option<(SipMsg, Vec<u8>)>,
    ) {
        let mut r = msg::response(
            &self.caller_invite,
            status,
            reason(status),
            Some(&self.caller_tag),
        );
        if let Some((from, body)) = extra {
            if let Start::Response { reason, .. } = &from.start {
                r.start = Start::Response {
                    status,
                    reason: reason.clone(),
                };
            }
            if !body.is_empty() {
                r.headers
                    .push(("Content-Type".into(), "application/sdp".into()));
                r.body = body;
            }
        }
        if (101..300).contains(&status) {
            r.headers
                .push(("Contact".into(), self.caller.contact.clone()));
        }
        let bytes = r.to_bytes();
        if status >= 200 {
            self.final_status = Some(status);
            self.awaiting_caller_ack = true;
            if self.cfg.caller_udp {
                self.g_interval = self.cfg.timers.t1;
                out.push(Action::Arm(Timer::G, self.g_interval));
            }
            out.push(Action::Arm(Timer::H, self.cfg.timers.long()));
        }
        self.caller_last = Some((status, bytes.clone()));
        out.push(Action::SendCaller(bytes));
    }

    /// A final failure toward LiveKit; the call is over.
    fn fail_caller(&mut self, out: &mut Vec<Action>, status: u16, warning: Option<&str>) {
        let mut r = msg::response(
            &self.caller_invite,
            status,
            reason(status),
            Some(&self.caller_tag),
        );
        if let Some(w) = warning {
            // RFC 3261 §20.43: 399 is a free-text warning.
            r.headers.push((
                "Warning".into(),
                format!("399 trunkline \"{}\"", w.replace('"', "'")),
            ));
        }
        let bytes = r.to_bytes();
        self.final_status = Some(status);
        self.awaiting_caller_ack = true;
        self.caller_last = Some((status, bytes.clone()));
        out.push(Action::SendCaller(bytes));
        if self.cfg.caller_udp {
            self.g_interval = self.cfg.timers.t1;
            out.push(Action::Arm(Timer::G, self.g_interval));
        }
        out.push(Action::Arm(Timer::H, self.cfg.timers.long()));
        self.end(out);
    }

    fn end(&mut self, out: &mut Vec<Action>) {
        self.phase = Phase::Ended;
        if !self.media_released {
            self.media_released = true;
            out.push(Action::ReleaseMedia);
        }
    }

    fn maybe_done(&mut self, out: &mut Vec<Action>) {
        if self.phase == Phase::Ended
            && !self.done
            && !self.awaiting_caller_ack
            && !self.bye_out.iter().any(|b| *b)
        {
            self.done = true;
            out.push(Action::Done);
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Where the callee's leg connects (host, port) and over what.
    pub fn callee_destination(&self) -> (String, u16, StreamTransport) {
        (
            self.callee_host.clone(),
            self.callee_port,
            self.callee_transport,
        )
    }

    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut out = vec![];
        if self.done {
            return out;
        }
        match event {
            Event::FromCaller(m) if m.is_request() => self.request(&mut out, Leg::Caller, m),
            Event::FromCallee(m) if m.is_request() => self.request(&mut out, Leg::Callee, m),
            Event::FromCaller(m) => self.response(&mut out, Leg::Caller, m),
            Event::FromCallee(m) => self.response(&mut out, Leg::Callee, m),
            Event::CalleeConnectFailed => self.callee_failed(&mut out, Failure::Unreachable),
            Event::CalleeClosed => match self.phase {
                Phase::Calling | Phase::Proceeding => {
                    self.callee_failed(&mut out, Failure::Unreachable)
                }
                Phase::Cancelling => self.finish_cancel(&mut out),
                Phase::Answered | Phase::Confirmed => {
                    // Exotel's side is gone: hang up LiveKit's.
                    self.bye_out[1] = false;
                    self.hang_up(&mut out, Leg::Caller);
                }
                Phase::Ended => self.bye_out[1] = false,
            },
            Event::Timer(t) => self.timer(&mut out, t),
            Event::MediaTimeout => {
                if matches!(self.phase, Phase::Answered | Phase::Confirmed) {
                    // Both sides went silent (a peer crashed or lost its network): without
                    // this, the call and its relay ports would be held until someone BYEs.
                    self.hang_up(&mut out, Leg::Caller);
                    self.hang_up(&mut out, Leg::Callee);
                }
            }
        }
        self.maybe_done(&mut out);
        out
    }

    fn timer(&mut self, out: &mut Vec<Action>, t: Timer) {
        match t {
            Timer::B if self.phase == Phase::Calling => self.callee_failed(out, Failure::Timeout),
            Timer::C if self.phase == Phase::Proceeding => {
                self.send_cancel(out);
                out.push(Action::Arm(Timer::CancelGuard, self.cfg.timers.long()));
                self.callee_failed(out, Failure::Timeout);
            }
            Timer::CancelGuard if self.phase == Phase::Cancelling => self.finish_cancel(out),
            Timer::G if self.awaiting_caller_ack && self.cfg.caller_udp => {
                if let Some((_, bytes)) = self.caller_last.clone() {
                    out.push(Action::SendCaller(bytes));
                }
                self.g_interval = (self.g_interval * 2).min(self.cfg.timers.t2);
                out.push(Action::Arm(Timer::G, self.g_interval));
            }
            Timer::H if self.awaiting_caller_ack => {
                self.awaiting_caller_ack = false;
                if self.phase == Phase::Answered {
                    // §13.3.1.4: a 2xx never ACKed ends the dialog with BYE.
                    self.phase = Phase::Confirmed;
                    self.hang_up(out, Leg::Caller);
                    self.hang_up(out, Leg::Callee);
                }
            }
            Timer::E => {
                if let Some((bytes, interval)) = self.caller_out.take() {
                    let next = (interval * 2).min(self.cfg.timers.t2);
                    out.push(Action::SendCaller(bytes.clone()));
                    out.push(Action::Arm(Timer::E, next));
                    self.caller_out = Some((bytes, next));
                }
            }
            Timer::F(leg) => {
                if leg == Leg::Caller {
                    self.caller_out = None;
                }
                self.bye_out[leg_index(leg)] = false;
                if let Some(r) = self.relayed.take() {
                    if r.from == leg {
                        self.relayed = Some(r);
                        return;
                    }
                    // The far leg never answered the relayed request.
                    let resp = msg::response(&r.request, 408, reason(408), None);
                    self.send(out, r.from, resp.to_bytes());
                }
            }
            _ => {}
        }
    }

    /// Sends BYE on `leg` (once) and ends the call.
    fn hang_up(&mut self, out: &mut Vec<Action>, leg: Leg) {
        let established = matches!(self.phase, Phase::Answered | Phase::Confirmed)
            || (self.phase == Phase::Ended && self.final_status.is_some_and(|s| s < 300));
        if established && !self.bye_out[leg_index(leg)] {
            let (req, _) = self.dialog(leg).request("BYE", None);
            self.bye_out[leg_index(leg)] = true;
            self.send_request(out, leg, &req);
        }
        self.end(out);
    }

    fn respond(&mut self, out: &mut Vec<Action>, leg: Leg, req: &SipMsg, status: u16) {
        let tag = match leg {
            Leg::Caller => self.caller_tag.clone(),
            Leg::Callee => param(&self.callee.local, "tag").unwrap_or_default(),
        };
        let r = msg::response(req, status, reason(status), Some(&tag)).to_bytes();
        if let Some(b) = req.branch() {
            self.answered.retain(|(x, _)| *x != b);
            self.answered.push((b, r.clone()));
            if self.answered.len() > 8 {
                self.answered.remove(0);
            }
        }
        self.send(out, leg, r);
    }
}
