//! The probe's state machine without sockets: every message it sends and every timer it
//! arms, driven by hand.

use super::*;
use crate::probe::build::{Credentials, Timers};
use crate::wire::parse_response;
use trunkline_domain::Secret;

const T1: Duration = Duration::from_millis(500);
const TT: Duration = Duration::from_secs(2);

fn ctx(proto: Proto, creds: bool, test_number: Option<&str>) -> Context {
    Context {
        proto,
        local: "192.0.2.10:40000".into(),
        target: "sip.example.com:5070".into(),
        from_domain: "acme.pstn.exotel.com".into(),
        from_number: "+15550100".into(),
        test_number: test_number.map(str::to_owned),
        credentials: creds.then(|| Credentials {
            username: "alice".into(),
            password: Secret::new("s3cret-pw".into()),
        }),
        timers: Timers {
            transaction_timeout: TT,
            ..Timers::default()
        },
    }
}

fn sent(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(String::from_utf8(b.clone()).unwrap()),
            _ => None,
        })
        .collect()
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

fn branch(msg: &str) -> String {
    crate::msg::param(header(msg, "Via"), "branch").unwrap()
}

/// A response to `req` with `status` (and a To tag, a challenge when 401/407).
fn answer(req: &str, status: u16, extra: &str) -> Event {
    let cseq = header(req, "CSeq");
    let text = format!(
        "SIP/2.0 {status} Whatever\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=uas1\r\nCall-ID: {}\r\nCSeq: {cseq}\r\n{extra}Content-Length: 0\r\n\r\n",
        header(req, "Via"),
        header(req, "From"),
        header(req, "To"),
        header(req, "Call-ID"),
    );
    Event::Response(parse_response(text.as_bytes()).unwrap())
}

const CHALLENGE: &str = "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"\r\n";

fn at(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn options_answered_200_is_done_with_its_rtt() {
    let mut m = Machine::new(ctx(Proto::Tcp, false, None));
    let a = m.handle(at(0), Event::Start);
    let req = &sent(&a)[0];
    assert!(
        req.starts_with("OPTIONS sip:sip.example.com:5070 SIP/2.0\r\n"),
        "{req}"
    );
    assert!(header(req, "Via").starts_with("SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bK"));
    assert_eq!(
        header(req, "From").split(';').next(),
        Some("<sip:+15550100@acme.pstn.exotel.com>")
    );
    assert!(a.contains(&Action::Arm(Timer::Timeout(1), TT)));
    assert!(
        !a.iter()
            .any(|x| matches!(x, Action::Arm(Timer::Retransmit(_), _))),
        "no retransmission over TCP"
    );
    let a = m.handle(at(42), answer(req, 200, ""));
    assert_eq!(a, vec![Action::Done]);
    assert!(m.is_done());
    assert_eq!(m.seen.len(), 1);
    assert_eq!((m.seen[0].status, m.seen[0].rtt), (200, at(42)));
    assert!(matches!(
        m.options,
        Some(Outcome::Status { status: 200, .. })
    ));
}

#[test]
fn udp_retransmits_with_timer_e_and_times_out_with_timer_f() {
    let mut m = Machine::new(ctx(Proto::Udp, false, None));
    let a = m.handle(at(0), Event::Start);
    assert!(a.contains(&Action::Arm(Timer::Retransmit(1), T1)));
    let first = sent(&a)[0].clone();
    // Timer E doubles from T1 and is capped at T2 (4 s).
    let mut intervals = vec![];
    for _ in 0..5 {
        let a = m.handle(at(0), Event::Timer(Timer::Retransmit(1)));
        assert_eq!(
            sent(&a),
            vec![first.clone()],
            "a retransmission is the same bytes"
        );
        let Some(Action::Arm(_, d)) = a.iter().find(|x| matches!(x, Action::Arm(..))) else {
            panic!()
        };
        intervals.push(d.as_millis());
    }
    assert_eq!(intervals, vec![1000, 2000, 4000, 4000, 4000]);
    let a = m.handle(TT, Event::Timer(Timer::Timeout(1)));
    assert_eq!(a, vec![Action::Done]);
    assert_eq!(
        m.options,
        Some(Outcome::NoResponse {
            malformed_seen: false
        })
    );
    // A stale timer after the end does nothing.
    assert!(m.handle(TT, Event::Timer(Timer::Retransmit(1))).is_empty());
}

#[test]
fn a_challenge_is_answered_once_and_a_second_401_means_wrong_credentials() {
    let mut m = Machine::new(ctx(Proto::Tcp, true, None));
    let a = m.handle(at(0), Event::Start);
    let first = sent(&a)[0].clone();
    let a = m.handle(at(10), answer(&first, 401, CHALLENGE));
    let second = sent(&a)[0].clone();
    assert_eq!(header(&second, "CSeq"), "2 OPTIONS");
    assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"));
    assert_ne!(branch(&second), branch(&first), "a new transaction");
    let auth = header(&second, "Authorization");
    assert!(auth.starts_with("Digest username=\"alice\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:sip.example.com:5070\""), "{auth}");
    assert!(auth.contains("qop=auth, nc=00000001"));
    assert!(
        !second.contains("s3cret-pw"),
        "the password never goes on the wire"
    );
    let a = m.handle(at(25), answer(&second, 401, CHALLENGE));
    assert_eq!(a, vec![Action::Done]);
    assert_eq!(
        m.options,
        Some(Outcome::Status {
            status: 401,
            after_auth: true,
            had_credentials: true
        })
    );
    assert_eq!(
        m.seen
            .iter()
            .map(|s| (s.status, s.authenticated))
            .collect::<Vec<_>>(),
        vec![(401, false), (401, true)]
    );
}

#[test]
fn a_407_is_answered_with_proxy_authorization_and_no_credentials_ends_at_once() {
    let mut m = Machine::new(ctx(Proto::Tcp, true, None));
    let first = sent(&m.handle(at(0), Event::Start))[0].clone();
    let proxy = CHALLENGE.replace("WWW-Authenticate", "Proxy-Authenticate");
    let second = sent(&m.handle(at(5), answer(&first, 407, &proxy)))[0].clone();
    assert!(header(&second, "Proxy-Authorization").starts_with("Digest "));
    m.handle(at(9), answer(&second, 200, ""));
    assert_eq!(
        m.options,
        Some(Outcome::Status {
            status: 200,
            after_auth: true,
            had_credentials: true
        })
    );

    let mut m = Machine::new(ctx(Proto::Tcp, false, None));
    let first = sent(&m.handle(at(0), Event::Start))[0].clone();
    assert_eq!(
        m.handle(at(5), answer(&first, 401, CHALLENGE)),
        vec![Action::Done]
    );
    assert_eq!(
        m.options,
        Some(Outcome::Status {
            status: 401,
            after_auth: false,
            had_credentials: false
        })
    );

    let mut m = Machine::new(ctx(Proto::Tcp, true, None));
    let first = sent(&m.handle(at(0), Event::Start))[0].clone();
    m.handle(
        at(5),
        answer(&first, 401, "WWW-Authenticate: Basic realm=\"x\"\r\n"),
    );
    assert_eq!(m.options, Some(Outcome::ChallengeUnanswerable));
}

#[test]
fn stray_and_malformed_input_is_ignored_until_the_timeout() {
    let mut m = Machine::new(ctx(Proto::Udp, false, None));
    let first = sent(&m.handle(at(0), Event::Start))[0].clone();
    let other = first.replace(&branch(&first), "z9hG4bKnotours");
    assert!(m.handle(at(1), answer(&other, 200, "")).is_empty());
    assert!(m.handle(at(2), Event::Malformed("junk".into())).is_empty());
    m.handle(TT, Event::Timer(Timer::Timeout(1)));
    assert_eq!(
        m.options,
        Some(Outcome::NoResponse {
            malformed_seen: true
        })
    );
    assert!(m.seen.is_empty());
}

#[test]
fn invite_is_cancelled_at_the_first_18x_and_the_487_acked() {
    let mut m = Machine::new(ctx(Proto::Udp, false, Some("+15550199")));
    let options = sent(&m.handle(at(0), Event::Start))[0].clone();
    let a = m.handle(at(5), answer(&options, 200, ""));
    let invite = sent(&a)[0].clone();
    assert!(
        invite.starts_with("INVITE sip:+15550199@sip.example.com:5070 SIP/2.0"),
        "{invite}"
    );
    assert_eq!(header(&invite, "Content-Type"), "application/sdp");
    assert!(invite.contains("m=audio 9 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000"));
    assert_ne!(header(&invite, "Call-ID"), header(&options, "Call-ID"));
    assert!(a
        .iter()
        .any(|x| matches!(x, Action::Arm(Timer::Ring(_), _))));
    let id = 2;
    // 100 stops Timer A; a Timer B firing while proceeding does nothing.
    assert!(m.handle(at(20), answer(&invite, 100, "")).is_empty());
    assert!(m
        .handle(at(30), Event::Timer(Timer::Retransmit(id)))
        .is_empty());
    assert!(m
        .handle(at(40), Event::Timer(Timer::Timeout(id)))
        .is_empty());
    let a = m.handle(at(50), answer(&invite, 180, ""));
    let cancel = sent(&a)[0].clone();
    assert!(cancel.starts_with("CANCEL sip:+15550199@sip.example.com:5070 SIP/2.0"));
    assert_eq!(branch(&cancel), branch(&invite));
    assert_eq!(header(&cancel, "CSeq"), "1 CANCEL");
    assert_eq!(header(&cancel, "To"), header(&invite, "To"));
    assert!(
        a.contains(&Action::Arm(Timer::Timeout(id), TT)),
        "Timer B re-armed for the 487"
    );
    // A second 18x sends no second CANCEL.
    assert!(sent(&m.handle(at(55), answer(&invite, 183, ""))).is_empty());
    assert!(m.handle(at(60), answer(&cancel, 200, "")).is_empty());
    let a = m.handle(at(70), answer(&invite, 487, ""));
    let ack = sent(&a)[0].clone();
    assert!(ack.starts_with("ACK sip:+15550199@sip.example.com:5070 SIP/2.0"));
    assert_eq!(
        branch(&ack),
        branch(&invite),
        "non-2xx ACK is in the INVITE transaction"
    );
    assert_eq!(header(&ack, "CSeq"), "1 ACK");
    assert!(header(&ack, "To").ends_with(";tag=uas1"));
    assert!(a.contains(&Action::Done));
    assert_eq!(m.invite, Some(Outcome::Rang));
    let statuses: Vec<_> = m.seen.iter().map(|s| (s.method, s.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (Method::Options, 200),
            (Method::Invite, 100),
            (Method::Invite, 180),
            (Method::Invite, 183),
            (Method::Cancel, 200),
            (Method::Invite, 487)
        ]
    );
}

#[test]
fn a_200_racing_the_cancel_is_acked_and_hung_up() {
    let mut m = Machine::new(ctx(Proto::Tcp, false, Some("+15550199")));
    let options = sent(&m.handle(at(0), Event::Start))[0].clone();
    let invite = sent(&m.handle(at(5), answer(&options, 200, "")))[0].clone();
    m.handle(at(10), answer(&invite, 180, ""));
    let a = m.handle(
        at(12),
        answer(
            &invite,
            200,
            "Contact: <sip:callee@192.0.2.77:5080;transport=tcp>\r\n",
        ),
    );
    let msgs = sent(&a);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0]
            .to_ascii_lowercase()
            .starts_with("ack sip:callee@192.0.2.77:5080;transport=tcp sip/2.0"),
        "{}",
        msgs[0]
    );
    assert_ne!(
        branch(&msgs[0]),
        branch(&invite),
        "2xx ACK is its own transaction"
    );
    assert!(msgs[1]
        .to_ascii_lowercase()
        .starts_with("bye sip:callee@192.0.2.77:5080;transport=tcp sip/2.0"));
    assert_eq!(header(&msgs[1], "CSeq"), "2 BYE");
    assert!(header(&msgs[1], "To").ends_with(";tag=uas1"));
    assert!(!m.is_done());
    assert_eq!(
        m.handle(at(20), answer(&msgs[1], 200, "")),
        vec![Action::Done]
    );
    assert_eq!(m.invite, Some(Outcome::Rang), "it rang first");
}

#[test]
fn an_invite_stuck_at_100_is_cancelled_by_the_ring_timer() {
    let mut m = Machine::new(ctx(Proto::Tcp, false, Some("+15550199")));
    let options = sent(&m.handle(at(0), Event::Start))[0].clone();
    let invite = sent(&m.handle(at(5), answer(&options, 200, "")))[0].clone();
    // The ring timer before any provisional does nothing (§9.1: no CANCEL yet).
    assert!(m.handle(at(6), Event::Timer(Timer::Ring(2))).is_empty());
    m.handle(at(10), answer(&invite, 100, ""));
    let cancel = sent(&m.handle(at(8000), Event::Timer(Timer::Ring(2))))[0].clone();
    assert!(cancel.starts_with("CANCEL "));
    assert_eq!(
        m.handle(at(9000), answer(&invite, 487, "")).last(),
        Some(&Action::Done)
    );
    assert_eq!(m.invite, Some(Outcome::NoRing));
}

#[test]
fn an_invite_refused_after_auth_and_transport_failures() {
    let mut m = Machine::new(ctx(Proto::Tcp, true, Some("+15550199")));
    let options = sent(&m.handle(at(0), Event::Start))[0].clone();
    let invite = sent(&m.handle(at(5), answer(&options, 200, "")))[0].clone();
    let a = m.handle(at(6), answer(&invite, 401, CHALLENGE));
    let msgs = sent(&a);
    assert!(
        msgs[0].starts_with("ACK ") && msgs[1].starts_with("INVITE "),
        "{msgs:?}"
    );
    assert_eq!(header(&msgs[1], "CSeq"), "2 INVITE");
    assert!(
        header(&msgs[1], "Authorization").contains("uri=\"sip:+15550199@sip.example.com:5070\"")
    );
    m.handle(at(9), answer(&msgs[1], 403, ""));
    assert_eq!(
        m.invite,
        Some(Outcome::Status {
            status: 403,
            after_auth: true,
            had_credentials: true
        })
    );

    let mut m = Machine::new(ctx(Proto::Udp, false, None));
    m.handle(at(0), Event::Start);
    assert_eq!(
        m.handle(at(1), Event::TransportFailed { refused: true }),
        vec![Action::Done]
    );
    assert_eq!(m.options, Some(Outcome::ConnectRefused));

    let mut m = Machine::new(ctx(Proto::Tcp, false, None));
    m.handle(at(0), Event::Start);
    m.handle(at(1), Event::Abort);
    assert_eq!(
        m.options,
        Some(Outcome::NoResponse {
            malformed_seen: false
        })
    );
}

#[test]
fn tls_says_so_in_via_and_contact_and_does_not_retransmit() {
    let mut m = Machine::new(ctx(Proto::Tls, false, None));
    let a = m.handle(at(0), Event::Start);
    let req = &sent(&a)[0];
    assert!(
        header(req, "Via").starts_with("SIP/2.0/TLS 192.0.2.10:40000;branch=z9hG4bK"),
        "{req}"
    );
    assert_eq!(
        header(req, "Contact"),
        "<sip:probe@192.0.2.10:40000;transport=tls>"
    );
    assert!(
        req.starts_with("OPTIONS sip:sip.example.com:5070 SIP/2.0\r\n"),
        "a sip: URI, not sips: {req}"
    );
    assert!(!a
        .iter()
        .any(|x| matches!(x, Action::Arm(Timer::Retransmit(_), _))));
}
