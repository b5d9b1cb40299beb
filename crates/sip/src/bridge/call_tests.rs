//! The call state machine without sockets: LiveKit's and Exotel's messages in, what the
//! bridge sends, arms and releases out. Time is explicit (timer events).

use super::call::{Action, Call, Event, Leg, Timer, Timers};
use super::call_harness::*;
use super::testing::*;
use super::{AuthDecision, ChallengeIssuer, Route};
use crate::digest::{self, Answer, Challenge};
use crate::msg::{self, SipMsg};
use crate::sdp::Sdp;
use std::net::SocketAddr;

#[test]
fn livekit_is_challenged_then_its_call_goes_to_exotel() {
    // The INVITE without credentials is challenged; the answered one names the trunk.
    let mut auth = ChallengeIssuer::new("trunkline");
    let first = parse(&invite("lk-call", 1));
    let now = 1_700_000_000;
    let AuthDecision::Challenge(h) = auth.decide(&first, now, &directory()) else {
        panic!("not challenged")
    };
    let mut retry = parse(&invite("lk-call", 2));
    let ch = Challenge::parse(&h).unwrap();
    let uri = retry.uri().unwrap().to_owned();
    retry.set(
        "Authorization",
        digest::authorization(
            &ch,
            &Answer {
                username: LK_USER,
                password: LK_PASSWORD,
                method: "INVITE",
                uri: &uri,
                cnonce: "c",
                nc: 1,
            },
        ),
    );
    let AuthDecision::Accept(trunk) = auth.decide(&retry, now, &directory()) else {
        panic!("not accepted")
    };
    assert_eq!(trunk.trunk_id, "ST_acme");

    let t = T::start_with(true, retry);
    assert_eq!(t.statuses_a(), vec![100]);
    let inv = t.callee_invite();
    assert_eq!(
        inv.uri(),
        Some("sip:919876543210@pstn.in2.exotel.com:5070;transport=tcp")
    );
    let from = inv.header("From").unwrap();
    assert!(
        from.starts_with("<sip:918047000000@acme.pstn.exotel.com>;tag="),
        "{from}"
    );
    assert_eq!(
        inv.header("To"),
        Some("<sip:919876543210@pstn.in2.exotel.com:5070>")
    );
    assert_ne!(inv.call_id(), "lk-call");
    assert_ne!(inv.from_tag().as_deref(), Some("lk1"));
    assert!(inv
        .top_via()
        .unwrap()
        .starts_with("SIP/2.0/TCP 198.51.100.10:5060;branch=z9hG4bK"));
    assert!(
        inv.header("Authorization").is_none(),
        "LiveKit's credentials stay on the caller's leg"
    );
    assert!(inv.header("Record-Route").is_none());
    let sdp = Sdp::parse(&inv.body).unwrap();
    assert_eq!(sdp.audio_endpoint(), Some(MEDIA_B.parse().unwrap()));
    assert!(t
        .all
        .contains(&Action::CallerMedia("10.0.0.5:20000".parse().unwrap())));
}

#[test]
fn answer_then_bye_from_livekit() {
    let mut t = T::answered(true);
    assert_eq!(t.statuses_a(), vec![100, 180, 200]);
    let ok = t.last_final_a();
    // Exotel's SDP reaches LiveKit pointed at the relay's A side; Exotel's own address goes
    // to the relay.
    assert_eq!(
        Sdp::parse(&ok.body).unwrap().audio_endpoint(),
        Some(MEDIA_A.parse().unwrap())
    );
    assert!(t
        .all
        .contains(&Action::CalleeMedia("203.0.113.50:16000".parse().unwrap())));
    assert_eq!(ok.header("Record-Route"), Some("<sip:10.0.0.4;lr>"));
    assert!(ok.header("Contact").unwrap().contains("192.0.2.10:5060"));
    // Exotel's 2xx got its own ACK, end to end: its Contact, its Record-Route as Route.
    let ack = t
        .callee
        .iter()
        .find(|m| m.method() == Some("ACK"))
        .unwrap()
        .clone();
    assert_eq!(ack.uri(), Some("sip:exo@198.51.100.77:5070;transport=tcp"));
    assert_eq!(
        ack.header("Route"),
        Some("<sip:198.51.100.99;lr;transport=tcp>")
    );
    assert_eq!(ack.cseq(), Some((1, "ACK".into())));
    assert_ne!(ack.branch(), t.callee_invite().branch());

    t.livekit_sends("BYE", 3, None);
    assert_eq!(t.last_a().status(), Some(200));
    let bye = t.last_b().clone();
    assert_eq!(bye.method(), Some("BYE"));
    assert_eq!(bye.uri(), Some("sip:exo@198.51.100.77:5070;transport=tcp"));
    assert_eq!(bye.to_tag().as_deref(), Some("exo9"));
    assert_eq!(bye.cseq(), Some((2, "BYE".into())));
    assert!(!t.call.is_done(), "waiting for Exotel's 200 to the BYE");
    t.exotel(&bye, 200, None);
    t.assert_released_and_done();
}

#[test]
fn answer_then_bye_from_exotel() {
    let mut t = T::answered(false);
    t.exotel_sends("BYE", 1);
    assert_eq!(t.last_b().status(), Some(200));
    let bye = t.last_a().clone();
    assert_eq!(bye.method(), Some("BYE"));
    // To LiveKit's Contact through its Record-Route, in the A dialog's tags.
    assert_eq!(bye.uri(), Some("sip:lk@10.0.0.5:5060"));
    assert_eq!(bye.header("Route"), Some("<sip:10.0.0.4;lr>"));
    assert_eq!(bye.to_tag().as_deref(), Some("lk1"));
    assert_eq!(bye.call_id(), "lk-call");
    assert!(bye.top_via().unwrap().starts_with("SIP/2.0/TCP"));
    let r = msg::response(&bye, 200, "OK", None);
    t.ev(Event::FromCaller(r));
    t.assert_released_and_done();
}

#[test]
fn cancel_before_answer() {
    let mut t = T::start(true);
    let inv = t.callee_invite();
    t.exotel(&inv, 180, None);
    t.cancel_from_livekit();
    assert_eq!(t.last_a().status(), Some(200));
    assert_eq!(t.last_a().cseq().unwrap().1, "CANCEL");
    let c = t.last_b().clone();
    assert_eq!(c.method(), Some("CANCEL"));
    assert_eq!(c.branch(), inv.branch());
    assert_eq!(c.cseq(), Some((1, "CANCEL".into())));
    t.exotel(&c, 200, None);
    t.exotel(&inv, 487, None);
    assert_eq!(t.last_b().method(), Some("ACK"));
    assert_eq!(
        t.last_b().branch(),
        inv.branch(),
        "non-2xx ACK is hop by hop"
    );
    assert_eq!(t.last_a().status(), Some(487));
    t.ack_from_a();
    t.assert_released_and_done();
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut t = T::start(true);
    let inv = t.callee_invite();
    let cancel = "CANCEL sip:+919876543210@bridge.example SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKlk-call2;rport\r\n\
        From: <sip:+15550100@livekit>;tag=lk1\r\nTo: <sip:+919876543210@bridge.example>\r\n\
        Call-ID: lk-call\r\nCSeq: 2 CANCEL\r\n\r\n";
    t.ev(Event::FromCaller(parse(cancel)));
    assert!(
        t.callee.iter().all(|m| m.method() != Some("CANCEL")),
        "§9.1: not before a 1xx"
    );
    t.exotel(&inv, 100, None);
    assert_eq!(t.last_b().method(), Some("CANCEL"));
    // Exotel answers anyway (the race): it is ACKed and hung up; LiveKit gets 487.
    t.exotel(&inv, 200, Some(SDP_B));
    let methods: Vec<_> = t
        .callee
        .iter()
        .filter_map(|m| m.method().map(str::to_owned))
        .collect();
    assert_eq!(methods, ["INVITE", "CANCEL", "ACK", "BYE"]);
    assert_eq!(t.last_a().status(), Some(487));
    let bye = t.last_b().clone();
    t.exotel(&bye, 200, None);
    t.ack_from_a();
    t.assert_released_and_done();
}

#[test]
fn cancel_without_exotel_ending_is_bounded() {
    let mut t = T::start(false);
    let inv = t.callee_invite();
    t.exotel(&inv, 183, Some(SDP_B));
    assert_eq!(t.last_a().status(), Some(183));
    assert!(!t.last_a().body.is_empty(), "early media SDP relayed");
    t.ev(Event::FromCaller(parse(
        &invite("lk-call", 2)
            .replacen("INVITE sip", "CANCEL sip", 1)
            .replace("CSeq: 2 INVITE", "CSeq: 2 CANCEL"),
    )));
    t.ev(Event::Timer(Timer::CancelGuard));
    assert_eq!(t.last_a().status(), Some(487));
    t.ev(Event::Timer(Timer::H));
    t.assert_released_and_done();
}

#[test]
fn exotel_failures_are_relayed_or_mapped() {
    for (status, want) in [
        (486, 486),
        (404, 404),
        (503, 503),
        (603, 603),
        (302, 480),
        (403, 403),
    ] {
        let mut t = T::start(true);
        let inv = t.callee_invite();
        t.exotel(&inv, 100, None);
        t.exotel(&inv, status, None);
        assert_eq!(t.last_b().method(), Some("ACK"), "{status}");
        assert_eq!(t.last_b().to_tag().as_deref(), Some("exo9"));
        assert_eq!(t.last_a().status(), Some(want), "{status}");
        assert!(!t.call.is_done(), "waiting for LiveKit's ACK");
        t.ack_from_a();
        t.assert_released_and_done();
        assert_eq!(t.call.final_status, Some(want));
    }
}

#[test]
fn exotel_challenge_is_answered_once() {
    let mut t = T::start(false);
    let inv = t.callee_invite();
    let challenge = |t: &mut T, req: &SipMsg, status: u16| {
        let mut r = msg::response(req, status, msg::reason(status), Some("exo1"));
        let h = if status == 401 {
            "WWW-Authenticate"
        } else {
            "Proxy-Authenticate"
        };
        r.headers.push((
            h.into(),
            "Digest realm=\"exotel\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"".into(),
        ));
        t.ev(Event::FromCallee(r));
    };
    challenge(&mut t, &inv, 407);
    let retry = t.callee_invite();
    assert_eq!(retry.cseq(), Some((2, "INVITE".into())));
    assert_eq!(retry.call_id(), inv.call_id());
    assert_eq!(retry.from_tag(), inv.from_tag());
    assert_ne!(retry.branch(), inv.branch());
    let creds = retry.header("Proxy-Authorization").unwrap();
    assert!(
        creds.contains(&format!("username=\"{EXO_USER}\"")),
        "{creds}"
    );
    assert!(!creds.contains(EXO_PASSWORD));
    assert_eq!(retry.body, inv.body);
    // A second challenge is not answered: our credentials were refused → 403 to LiveKit.
    challenge(&mut t, &retry, 401);
    assert_eq!(
        t.callee
            .iter()
            .filter(|m| m.method() == Some("INVITE"))
            .count(),
        2
    );
    assert_eq!(t.last_a().status(), Some(403));
    assert!(t
        .caller
        .iter()
        .all(|m| m.header("WWW-Authenticate").is_none()));
}

#[test]
fn exotel_unreachable_is_503_and_silence_is_408() {
    let mut t = T::start(true);
    t.ev(Event::CalleeConnectFailed);
    assert_eq!(t.last_a().status(), Some(503));
    t.ack_from_a();
    t.assert_released_and_done();

    let mut t = T::start(true);
    t.ev(Event::Timer(Timer::B));
    assert_eq!(t.last_a().status(), Some(408));
    t.ev(Event::Timer(Timer::H));
    t.assert_released_and_done();

    // Ringing forever: Timer C cancels Exotel and answers 408.
    let mut t = T::start(true);
    let inv = t.callee_invite();
    t.exotel(&inv, 180, None);
    t.ev(Event::Timer(Timer::B));
    assert_eq!(
        t.last_a().status(),
        Some(180),
        "Timer B stops at the first provisional"
    );
    t.ev(Event::Timer(Timer::C));
    assert_eq!(t.last_b().method(), Some("CANCEL"));
    assert_eq!(t.last_a().status(), Some(408));

    // The connection drops before an answer.
    let mut t = T::start(false);
    t.ev(Event::CalleeClosed);
    assert_eq!(t.last_a().status(), Some(503));
}

#[test]
fn a_2xx_never_acked_hangs_up_both_legs() {
    let mut t = T::start(true);
    let inv = t.callee_invite();
    t.exotel(&inv, 200, Some(SDP_B));
    assert!(t.all.contains(&Action::Arm(Timer::G, Timers::default().t1)));
    t.ev(Event::Timer(Timer::G));
    assert_eq!(
        t.last_a().status(),
        Some(200),
        "Timer G retransmits the 2xx over UDP"
    );
    t.ev(Event::Timer(Timer::H));
    assert_eq!(t.callee.last().unwrap().method(), Some("BYE"));
    assert!(t.caller.iter().any(|m| m.method() == Some("BYE")));
    let bye_b = t.last_b().clone();
    t.exotel(&bye_b, 200, None);
    t.ev(Event::Timer(Timer::F(Leg::Caller)));
    t.assert_released_and_done();
}

#[test]
fn hold_reinvite_is_relayed_with_sdp_rewritten() {
    let mut t = T::answered(false);
    let hold = SDP_A.replace("a=sendrecv", "a=sendonly");
    t.livekit_sends("INVITE", 3, Some(&hold));
    assert_eq!(t.last_a().status(), Some(100));
    let re = t.last_b().clone();
    assert_eq!(re.method(), Some("INVITE"));
    assert_eq!(re.call_id(), t.callee_invite().call_id());
    let sdp = Sdp::parse(&re.body).unwrap();
    assert!(sdp.is_hold());
    assert_eq!(sdp.audio_endpoint(), Some(MEDIA_B.parse().unwrap()));
    // A second re-INVITE meanwhile: 491.
    t.livekit_sends("INVITE", 4, Some(&hold));
    assert_eq!(t.last_a().status(), Some(491));
    let answer = SDP_B.replace("t=0 0", "t=0 0\r\na=recvonly");
    t.exotel(&re, 200, Some(&answer));
    let ok = t.last_a().clone();
    assert_eq!(
        (ok.status(), ok.cseq()),
        (Some(200), Some((3, "INVITE".into())))
    );
    assert_eq!(
        Sdp::parse(&ok.body).unwrap().audio_endpoint(),
        Some(MEDIA_A.parse().unwrap())
    );
    // LiveKit's ACK → Exotel gets its own ACK for the re-INVITE.
    let n = t.callee.len();
    let ack = format!(
        "ACK sip:bridge@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKack3\r\n\
         From: <sip:+15550100@livekit>;tag=lk1\r\nTo: {}\r\nCall-ID: lk-call\r\nCSeq: 3 ACK\r\n\r\n",
        ok.header("To").unwrap()
    );
    t.ev(Event::FromCaller(parse(&ack)));
    assert_eq!(t.callee.len(), n + 1);
    assert_eq!(t.last_b().method(), Some("ACK"));
    assert_eq!(t.last_b().cseq(), re.cseq().map(|(n, _)| (n, "ACK".into())));
}

#[test]
fn acks_are_never_answered_and_retransmissions_get_the_same_answer() {
    let mut t = T::answered(true);
    let before = t.caller.len();
    t.ack_from_a();
    let stray = "ACK sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKs\r\nFrom: <sip:a@b>;tag=1\r\n\
        To: <sip:c@d>;tag=2\r\nCall-ID: lk-call\r\nCSeq: 9 ACK\r\n\r\n";
    t.ev(Event::FromCaller(parse(stray)));
    assert_eq!(t.caller.len(), before);
    // OPTIONS in dialog: 200; twice the same BYE: the same 200, one BYE to Exotel.
    t.livekit_sends("OPTIONS", 3, None);
    assert_eq!(t.last_a().status(), Some(200));
    t.livekit_sends("BYE", 4, None);
    t.livekit_sends("BYE", 4, None);
    assert_eq!(
        t.statuses_a().iter().rev().take(2).collect::<Vec<_>>(),
        [&200, &200]
    );
    assert_eq!(
        t.callee
            .iter()
            .filter(|m| m.method() == Some("BYE"))
            .count(),
        1
    );
    // A request outside the dialog: 481.
    let mut other = parse(
        &invite("lk-call", 9)
            .replace("CSeq: 9 INVITE", "CSeq: 9 INFO")
            .replacen("INVITE sip", "INFO sip", 1),
    );
    other.set("To", "<sip:x@y>;tag=wrong".into());
    t.ev(Event::FromCaller(other));
    assert_eq!(t.last_a().status(), Some(481));
}

#[test]
fn refusals_before_exotel_is_called() {
    // No G.711 in the offer: 488 with the reason, and Exotel is never called.
    let opus = invite("lk-call", 2).replace("RTP/AVP 0 8 101", "RTP/AVP 111 9 3");
    let t = T::start_with(true, parse(&opus));
    assert_eq!(t.statuses_a(), vec![488]);
    assert!(t.last_a().header("Warning").unwrap().contains("PCMU"));
    assert!(t.callee.is_empty());
    assert_eq!(t.count(|a| *a == Action::ReleaseMedia), 1);
    // A number Exotel cannot dial: 484. Max-Forwards 0: 483.
    let bad = invite("lk-call", 2).replace(
        "sip:+919876543210@bridge.example SIP",
        "sip:abc@bridge.example SIP",
    );
    assert_eq!(T::start_with(true, parse(&bad)).statuses_a(), vec![484]);
    let hops = invite("lk-call", 2).replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(T::start_with(true, parse(&hops)).statuses_a(), vec![483]);
    // A TLS trunk is called over TLS, and says so in Via, Contact and the Request-URI.
    let (mut c, _) = (cfg(true), ());
    if let Route::ToExotel(t) = &mut c.route {
        t.transport = super::ExotelTransport::Tls;
        t.exotel_port = 443;
    }
    let (call, out) = Call::start(c, parse(&invite("lk-call", 2)));
    let inv = out
        .iter()
        .find_map(|a| match a {
            Action::SendCallee(b) => SipMsg::parse(b).ok(),
            _ => None,
        })
        .expect("an INVITE to Exotel");
    assert_eq!(
        inv.uri(),
        Some("sip:919876543210@pstn.in2.exotel.com:443;transport=tls")
    );
    assert!(inv.top_via().unwrap().starts_with("SIP/2.0/TLS "));
    assert_eq!(
        inv.header("Contact"),
        Some("<sip:bridge@198.51.100.10:5060;transport=tls>")
    );
    assert_eq!(
        call.callee_destination(),
        (
            "pstn.in2.exotel.com".to_owned(),
            443,
            crate::transport::StreamTransport::Tls
        )
    );
    let _: Option<SocketAddr> = None;
}

/// Exotel's INVITE for a tenant's number, over TCP (the inbound direction).
#[test]
fn silence_on_both_sides_hangs_up_both_legs_once_answered() {
    // Before the answer a media timeout means nothing (ringing has no RTP).
    let mut ringing = T::start(true);
    let inv = ringing.callee_invite();
    ringing.exotel(&inv, 180, None);
    let before = (ringing.caller.len(), ringing.callee.len());
    ringing.ev(Event::MediaTimeout);
    assert_eq!((ringing.caller.len(), ringing.callee.len()), before);
    assert!(!ringing.call.is_done());

    let mut t = T::answered(true);
    assert_eq!(t.count(|a| *a == Action::WatchMedia), 1);
    t.ev(Event::MediaTimeout);
    let bye_a = t.last_a().clone();
    let bye_b = t.last_b().clone();
    assert_eq!(bye_a.method(), Some("BYE"));
    assert_eq!(bye_b.method(), Some("BYE"));
    assert_eq!(t.count(|a| *a == Action::ReleaseMedia), 1);
    // Both BYEs answered: the call is done, once.
    let ok_a = msg::response(&bye_a, 200, "OK", None);
    t.ev(Event::FromCaller(ok_a));
    let ok_b = msg::response(&bye_b, 200, "OK", None);
    t.ev(Event::FromCallee(ok_b));
    t.assert_released_and_done();
}

#[test]
fn cancel_after_the_answer_was_relayed_changes_nothing() {
    // §9.2: a CANCEL for an INVITE already answered gets 200 and has no effect.
    let mut t = T::start(true);
    let inv = t.callee_invite();
    t.exotel(&inv, 180, None);
    t.exotel(&inv, 200, Some(SDP_B));
    assert_eq!(t.last_a().status(), Some(200));
    t.cancel_from_livekit();
    assert_eq!(t.last_a().status(), Some(200));
    assert_eq!(t.last_a().cseq().unwrap().1, "CANCEL");
    assert!(
        t.callee
            .iter()
            .all(|m| !matches!(m.method(), Some("CANCEL" | "BYE"))),
        "Exotel's answered call is left alone"
    );
    t.ack_from_a();
    assert_eq!(t.count(|a| *a == Action::ReleaseMedia), 0);
    // The call goes on and ends normally.
    t.livekit_sends("BYE", 3, None);
    let bye = t.last_b().clone();
    assert_eq!(bye.method(), Some("BYE"));
    t.exotel(&bye, 200, None);
    t.assert_released_and_done();
}

#[test]
fn byes_crossing_from_both_sides_end_the_call_once() {
    let mut t = T::answered(true);
    t.livekit_sends("BYE", 3, None);
    let ours = t.last_b().clone();
    assert_eq!(ours.method(), Some("BYE"));
    // Exotel hung up at the same moment: its BYE crosses ours.
    t.exotel_sends("BYE", 1);
    assert_eq!(t.last_b().status(), Some(200), "Exotel's BYE answered");
    assert!(
        t.caller
            .iter()
            .filter(|m| m.method() == Some("BYE"))
            .count()
            == 0,
        "LiveKit already hung up: no BYE back to it"
    );
    assert!(!t.call.is_done(), "our BYE is still awaiting its answer");
    // Exotel answers our BYE 481 (its dialog is gone): that ends it too.
    t.exotel(&ours, 481, None);
    t.assert_released_and_done();
}
