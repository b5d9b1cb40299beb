//! The call state machine in the inbound direction, without sockets: Exotel calls a
//! tenant's number and the bridge calls LiveKit's SIP service.

use super::call::{Action, Call, CallConfig, Event, Timers};
use super::call_harness::*;
use super::Route;
use crate::digest::{self, Answer, Challenge};
use crate::msg::{self, SipMsg};
use crate::sdp::Sdp;

fn exotel_invite(to_user: &str, from_user: &str) -> SipMsg {
    parse(&format!(
        "INVITE sip:{to_user}@198.51.100.10:5070;transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP 198.51.100.77:5070;branch=z9hG4bKexoin1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@acme.pstn.exotel.com>;tag=exo1\r\n\
         To: <sip:{to_user}@198.51.100.10>\r\n\
         Call-ID: exo-in-call\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:exo@198.51.100.77:5070;transport=tcp>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP_B}",
        SDP_B.len()
    ))
}

fn inbound_cfg() -> CallConfig {
    CallConfig {
        route: Route::ToLiveKit {
            trunk: super::InboundTrunk {
                trunk_id: "ST_in".into(),
                numbers: vec!["+918047000000".into()],
                credentials: Some(crate::probe::Credentials {
                    username: "in_user".into(),
                    password: trunkline_domain::Secret::new("in-secret-7".into()),
                }),
            },
            host: "10.0.0.5".into(),
            port: 5060,
        },
        callee_call_id: "b-in@trunkline".into(),
        // Toward Exotel we are the public address; toward LiveKit the internal one.
        caller_local: "198.51.100.10:5070".into(),
        caller_udp: false,
        callee_local: "192.0.2.10:5060".into(),
        caller_media: MEDIA_B.parse().unwrap(),
        callee_media: MEDIA_A.parse().unwrap(),
        timers: Timers::default(),
    }
}

#[test]
fn an_exotel_call_goes_to_livekit_in_e164_and_answers_livekits_challenge() {
    // Exotel writes the called ExoPhone nationally and the caller without '+'.
    let (mut call, out) = Call::start(inbound_cfg(), exotel_invite("08047000000", "919876543210"));
    let b: Vec<SipMsg> = out
        .iter()
        .filter_map(|a| match a {
            Action::SendCallee(b) => Some(parse(std::str::from_utf8(b).unwrap())),
            _ => None,
        })
        .collect();
    let inv = &b[0];
    assert_eq!(
        inv.uri(),
        Some("sip:+918047000000@10.0.0.5:5060;transport=tcp")
    );
    assert_eq!(inv.header("To"), Some("<sip:+918047000000@10.0.0.5:5060>"));
    assert!(inv
        .header("From")
        .unwrap()
        .starts_with("<sip:+919876543210@192.0.2.10:5060>;tag="));
    assert_eq!(inv.call_id(), "b-in@trunkline");
    assert!(inv
        .top_via()
        .unwrap()
        .starts_with("SIP/2.0/TCP 192.0.2.10:5060;branch="));
    // LiveKit is offered the relay's LiveKit-facing side.
    let sdp = Sdp::parse(&inv.body).unwrap();
    assert_eq!(sdp.audio_endpoint(), Some(MEDIA_A.parse().unwrap()));
    assert_eq!(
        call.callee_destination(),
        (
            "10.0.0.5".to_owned(),
            5060,
            crate::transport::StreamTransport::Tcp
        )
    );

    // LiveKit's 407 (what its inbound trunks with credentials send) is answered once with
    // the inbound trunk's own pair.
    let mut challenge = msg::response(inv, 407, "Proxy Authentication Required", Some("lk9"));
    challenge.headers.push((
        "Proxy-Authenticate".into(),
        "Digest realm=\"livekit\", nonce=\"n1\", algorithm=MD5".into(),
    ));
    let out = call.handle(Event::FromCallee(challenge));
    let sent: Vec<SipMsg> = out
        .iter()
        .filter_map(|a| match a {
            Action::SendCallee(b) => Some(parse(std::str::from_utf8(b).unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(sent[0].method(), Some("ACK"));
    let retry = &sent[1];
    let auth = retry.header("Proxy-Authorization").unwrap();
    assert!(auth.contains("username=\"in_user\""), "{auth}");
    assert!(!auth.contains("in-secret-7"));
    let ch = Challenge::parse("Digest realm=\"livekit\", nonce=\"n1\", algorithm=MD5").unwrap();
    let expected = digest::authorization(
        &ch,
        &Answer {
            username: "in_user",
            password: "in-secret-7",
            method: "INVITE",
            uri: retry.uri().unwrap(),
            cnonce: &param(auth, "cnonce").unwrap_or_default(),
            nc: 1,
        },
    );
    assert_eq!(
        param(&expected, "response"),
        param(auth, "response"),
        "the digest is computed with the inbound trunk's password"
    );
}

fn param(v: &str, name: &str) -> Option<String> {
    v.split(',').find_map(|p| {
        let (k, val) = p.trim().trim_start_matches("Digest ").split_once('=')?;
        (k.trim() == name).then(|| val.trim().trim_matches('"').to_owned())
    })
}

#[test]
fn an_exotel_call_to_something_that_is_not_a_number_gets_484() {
    let (_, out) = Call::start(inbound_cfg(), exotel_invite("support", "919876543210"));
    let statuses: Vec<u16> = out
        .iter()
        .filter_map(|a| match a {
            Action::SendCaller(b) => parse(std::str::from_utf8(b).unwrap()).status(),
            Action::SendCallee(_) => panic!("called LiveKit for no number"),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, vec![484]);
}
