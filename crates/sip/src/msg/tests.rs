//! `SipMsg` parsing, printing and the 400 rules, without sockets.

use super::*;

const INVITE: &str = "INVITE sip:+919876543210@bridge.example:5060 SIP/2.0\r\n\
    v: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa1;rport, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKa0\r\n\
    Record-Route: <sip:10.0.0.5;lr>, <sip:10.0.0.6;lr>\r\n\
    f: \"LK, agent\" <sip:+15550100@livekit>;tag=lk1\r\n\
    t: <sip:+919876543210@bridge.example>\r\n\
    i: call-1@livekit\r\n\
    CSeq: 2 INVITE\r\n\
    m: <sip:lk@10.0.0.5:5060>\r\n\
    Subject: a\r\n  folded\r\n\
    l: 4\r\n\r\nbodyEXTRA";

#[test]
fn a_request_parses_with_compact_names_folding_and_lists() {
    let m = SipMsg::parse(INVITE.as_bytes()).unwrap();
    assert_eq!(m.method(), Some("INVITE"));
    assert_eq!(m.uri(), Some("sip:+919876543210@bridge.example:5060"));
    assert_eq!(m.all("Via").len(), 2);
    assert_eq!(m.branch().as_deref(), Some("z9hG4bKa1"));
    assert_eq!(
        m.all("Record-Route"),
        vec!["<sip:10.0.0.5;lr>", "<sip:10.0.0.6;lr>"]
    );
    assert_eq!(m.from_tag().as_deref(), Some("lk1"));
    assert_eq!(m.to_tag(), None);
    assert_eq!(m.call_id(), "call-1@livekit");
    assert_eq!(m.cseq(), Some((2, "INVITE".into())));
    assert_eq!(m.contact_uri().as_deref(), Some("sip:lk@10.0.0.5:5060"));
    assert_eq!(m.header("Subject"), Some("a folded"));
    assert_eq!(m.body, b"body");
    assert_eq!(uri_user(m.uri().unwrap()), Some("+919876543210"));
    // Printed and parsed again: the same message.
    assert_eq!(SipMsg::parse(&m.to_bytes()).unwrap(), m);
}

#[test]
fn a_response_copies_what_rfc3261_says() {
    let m = SipMsg::parse(INVITE.as_bytes()).unwrap();
    let r = response(&m, 180, "Ringing", Some("b2b"));
    let text = String::from_utf8(r.to_bytes()).unwrap();
    assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
    assert!(text.contains("To: <sip:+919876543210@bridge.example>;tag=b2b\r\n"));
    assert!(text.contains("Record-Route: <sip:10.0.0.5;lr>, <sip:10.0.0.6;lr>\r\n"));
    assert_eq!(SipMsg::parse(&r.to_bytes()).unwrap().all("Via").len(), 2);
    let trying = response(&m, 100, "Trying", Some("b2b"));
    assert_eq!(trying.to_tag(), None);
    assert!(trying.header("Record-Route").is_none());
}

#[test]
fn broken_messages_are_400_when_the_via_parses_and_dropped_otherwise() {
    let via = "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n";
    let ok = "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n";
    let req = |head: &str| format!("OPTIONS sip:a@b SIP/2.0\r\n{head}\r\n");
    for (input, answer) in [
        (req(&format!("{via}{ok}")), None),
        (
            req(&format!(
                "{via}From: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
            )),
            Some("missing To"),
        ),
        (
            req(&format!("{via}{ok}Content-Length: 9\r\n")),
            Some("body shorter than Content-Length"),
        ),
        (
            req(&format!("{via}{ok}Content-Length: x\r\n")),
            Some("Content-Length is not a number"),
        ),
        (
            req(&format!(
                "{via}From: <sip:a@b>\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: one OPTIONS\r\n"
            )),
            Some("CSeq does not parse"),
        ),
        (
            req(&format!(
                "{via}From: <sip:a@b>\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
            )),
            Some("CSeq method differs from the request method"),
        ),
        (
            req(&format!("{via}{ok}no colon here\r\n")),
            Some("a header line without a name"),
        ),
    ] {
        match (SipMsg::parse(input.as_bytes()), answer) {
            (Ok(_), None) => {}
            (Err(ParseError::BadRequest { why, .. }), Some(w)) => assert_eq!(why, w),
            (other, _) => panic!("{input}: {other:?}"),
        }
    }
    for input in [
        &b""[..],
        b"hello",
        b"\r\n\r\n",
        b"OPTIONS sip:a@b SIP/2.0\r\nFrom: x\r\n\r\n",
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: garbage\r\nCall-ID: x\r\n\r\n",
        b"OPTIONS sip:a@b SIP/3.0\r\nVia: SIP/2.0/UDP h\r\n\r\n",
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/7.0/UDP h;branch=z9hG4bK1\r\n\r\n",
        b"SIP/2.0 2000 OK\r\n\r\n",
        b"SIP/2.0 099 Low\r\n\r\n",
        b"SIP/2.0 200 OK\r\nTo: x\r\n\r\n",
        b" folded first\r\n\r\n",
        &[0xff, 0xfe, b'\r', b'\n', b'\r', b'\n'],
    ] {
        assert!(
            matches!(SipMsg::parse(input), Err(ParseError::Garbage(_))),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
    assert!(SipMsg::parse(req(&format!("{via}{ok}{many}")).as_bytes()).is_err());
}

const OPTIONS_LINE: &str = "OPTIONS sip:b@example.com SIP/2.0";

const BASE: [&str; 6] = [
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1",
    "From: \"A\" <sip:a@example.com>;tag=1",
    "To: <sip:b@example.com>",
    "Call-ID: t1@example.com",
    "CSeq: 1 OPTIONS",
    "Max-Forwards: 70",
];

/// A request: `line`, `BASE` with the headers named in `change` replaced (an empty value
/// leaves the header out), and the other headers of `change` added after it.
fn request(line: &str, change: &[(&str, &str)]) -> String {
    let mut out = format!("{line}\r\n");
    for h in BASE {
        let name = h.split(':').next().unwrap();
        match change.iter().find(|(n, _)| *n == name) {
            Some((_, "")) => {}
            Some((_, v)) => out.push_str(&format!("{name}: {v}\r\n")),
            None => out.push_str(&format!("{h}\r\n")),
        }
    }
    for (n, v) in change {
        if !BASE.iter().any(|h| h.starts_with(&format!("{n}:"))) {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    out + "\r\n"
}

/// `Ok(())` accepted, `Err(Some(why))` answered 400, `Err(None)` dropped.
fn verdict(input: &str) -> Result<(), Option<String>> {
    match SipMsg::parse(input.as_bytes()) {
        Ok(_) => Ok(()),
        Err(ParseError::BadRequest { why, .. }) => Err(Some(why)),
        Err(ParseError::Garbage(_)) => Err(None),
    }
}

#[test]
fn a_via_may_space_its_slashes_and_a_value_may_start_on_the_next_line() {
    // RFC 4475 §3.1.1.1 (wsinv): SWS around "/" is legal; this INVITE used to be dropped.
    let input = request(
        OPTIONS_LINE,
        &[
            (
                "Via",
                "SIP  /   2.0\r\n /UDP\r\n    192.0.2.1;rport;branch=z9hG4bKws",
            ),
            ("To", "\r\n <sip:b@example.com>"),
        ],
    );
    let m = SipMsg::parse(input.as_bytes()).unwrap();
    assert_eq!(m.branch().as_deref(), Some("z9hG4bKws"));
    assert_eq!(m.header("To"), Some("<sip:b@example.com>"));
}

#[test]
fn a_broken_request_line_is_400_when_the_via_is_usable() {
    // RFC 4475 §3.1.2.7–§3.1.2.11, §3.1.2.16: these were dropped or accepted.
    for (line, want) in [
        (
            "OPTIONS sip:b@example.com; lr SIP/2.0",
            Some("malformed request line"),
        ),
        (
            "OPTIONS  sip:b@example.com  SIP/2.0",
            Some("malformed request line"),
        ),
        (
            "OPTIONS sip:b@example.com SIP/2.0  ",
            Some("malformed request line"),
        ),
        ("OPTIONS", Some("malformed request line")),
        (
            "OPTIONS sip:b@example.com SIP/3.0",
            Some("SIP version not supported"),
        ),
        (
            "OPTIONS <sip:b@example.com> SIP/2.0",
            Some("malformed Request-URI"),
        ),
        (
            "OPTIONS sip:b@example.com?Route=%3Csip:x%3E SIP/2.0",
            Some("malformed Request-URI"),
        ),
        ("OPTIONS sip:b@ SIP/2.0", Some("malformed Request-URI")),
        (
            "OPTIONS sip:b%4@example.com SIP/2.0",
            Some("malformed Request-URI"),
        ),
        (
            "OPTIONS sip:b\u{e9}@example.com SIP/2.0",
            Some("malformed Request-URI"),
        ),
        (
            "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0",
            None,
        ),
        ("OPTIONS sip:a?b,c@example.com SIP/2.0", None),
        ("OPTIONS sip:[2001:db8::1]:5060;transport=tcp SIP/2.0", None),
        ("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0", None),
        ("OPTIONS tel:+15550100 SIP/2.0", None),
    ] {
        let got = verdict(&request(line, &[]));
        assert_eq!(
            got,
            want.map_or(Ok(()), |w| Err(Some(w.to_owned()))),
            "{line}"
        );
    }
    // Not a method token: not a request at all.
    assert_eq!(verdict(&request("<OPTIONS> sip:b SIP/2.0", &[])), Err(None));
    // A broken ACK stays an ACK, so that it is not answered.
    let ack = request("ACK  sip:b@example.com SIP/2.0", &[("CSeq", "1 ACK")]);
    match SipMsg::parse(ack.as_bytes()) {
        Err(ParseError::BadRequest { partial, .. }) => {
            assert_eq!(partial.method(), Some("ACK"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn from_to_and_contact_are_name_addrs_or_bare_uris() {
    for ok in [
        "<sip:a@b>",
        "sip:a@b;tag=1",
        r#""A \"B\" \\" <sip:a@b> ; tag = 1"#,
        "caller<sip:a@b>;tag=3",
        "token1~` token2'+_ <sip:a@b>",
        "isbn:2983792873",
        "<http://www.example.com>;tag=3",
        "\"BEL:\\\u{7} NUL:\\\u{0}\" <sip:a@b>",
        "<sip:a@b>;p=\"quoted; value\";expires=60",
        "<sip:a@b;lr>;received=2001:db8::1",
    ] {
        assert!(name_addr_ok(ok), "{ok}");
    }
    for bad in [
        // RFC 4475 §3.1.2.6, §3.1.2.14, §3.1.2.15, §3.1.2.13, §3.1.2.1.
        "\"Mr. J. User <sip:j.user@example.com>",
        "\"Watson, Thomas\" < sip:t.watson@example.org >",
        "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        "\"Joe\" <sip:joe@example.org>;;;;",
        "sip:caller@example.net;;tag=1",
        "<sip:a@b>, <sip:c@d>",
        "",
        "<>",
        "<sip:a@b",
        "\"A\" sip:a@b",
        "<sip:a@b>;tag=",
        "<sip:a@b> junk",
    ] {
        assert!(!name_addr_ok(bad), "{bad}");
    }
    let quotbal = request(
        OPTIONS_LINE,
        &[("To", "\"Mr. J. User <sip:j.user@example.com>")],
    );
    assert_eq!(verdict(&quotbal), Err(Some("malformed To".into())));
    let regbadct = request(
        OPTIONS_LINE,
        &[(
            "Contact",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        )],
    );
    assert_eq!(verdict(&regbadct), Err(Some("malformed Contact".into())));
    assert_eq!(verdict(&request(OPTIONS_LINE, &[("Contact", "*")])), Ok(()));
    // A provider's response is read liberally: its quirks do not drop a call.
    let response = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
        From: <sip:a@b>;tag=1\r\nTo: \"Odd <sip:c@d>;tag=9\r\nCall-ID: x\r\n\
        CSeq: 1 INVITE\r\n\r\n";
    assert!(SipMsg::parse(response.as_bytes()).is_ok());
}

#[test]
fn every_via_parses_and_single_valued_headers_appear_once() {
    for (change, want) in [
        // RFC 4475 §3.1.2.1: the top Via is usable (400 goes back), the list is not.
        (
            ("Via", "SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKb1;;,;,,"),
            Some("malformed Via"),
        ),
        (
            ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1,"),
            Some("malformed Via"),
        ),
        (
            (
                "Via",
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1\r\nVia: SIP/2.0/UDP",
            ),
            Some("malformed Via"),
        ),
        (
            (
                "Via",
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1, \
                 SIP/2.0/TCP [2001:db8::1]:5061;received=2001:db8::2;branch=x",
            ),
            None,
        ),
        // §3.3.8, §3.3.9: these were accepted, the first value winning.
        (
            ("From", "<sip:a@b>;tag=1\r\nFrom: <sip:c@d>;tag=2"),
            Some("more than one From"),
        ),
        (("Call-ID", "x@y\r\ni: z@y"), Some("more than one Call-ID")),
        (
            ("Max-Forwards", "70\r\nMax-Forwards: 69"),
            Some("more than one Max-Forwards"),
        ),
        (
            ("Content-Length", "0\r\nl: 0"),
            Some("more than one Content-Length"),
        ),
        (("Call-ID", "a b@y"), Some("malformed Call-ID")),
    ] {
        let input = request(OPTIONS_LINE, &[change]);
        assert_eq!(
            verdict(&input),
            want.map_or(Ok(()), |w| Err(Some(w.to_owned()))),
            "{input}"
        );
    }
}

#[test]
fn numbers_are_digits_in_their_range() {
    for (change, want) in [
        // RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.4.
        (("CSeq", "2147483647 OPTIONS"), None),
        (
            ("CSeq", "2147483648 OPTIONS"),
            Some("CSeq number over 2^31 - 1"),
        ),
        (
            ("CSeq", "36893488147419103232 OPTIONS"),
            Some("CSeq does not parse"),
        ),
        (("CSeq", "1 OPTIONS extra"), Some("CSeq does not parse")),
        // §20.22.
        (("Max-Forwards", "0069"), None),
        (
            ("Max-Forwards", "256"),
            Some("Max-Forwards is not 0 to 255"),
        ),
        (("Max-Forwards", "-1"), Some("Max-Forwards is not 0 to 255")),
        (
            ("Content-Length", "+0"),
            Some("Content-Length is not a number"),
        ),
        (
            ("Content-Length", "-999"),
            Some("Content-Length is not a number"),
        ),
    ] {
        let input = request(OPTIONS_LINE, &[change]);
        assert_eq!(
            verdict(&input),
            want.map_or(Ok(()), |w| Err(Some(w.to_owned()))),
            "{input}"
        );
    }
}

#[test]
fn a_request_without_call_id_from_or_to_is_still_answered() {
    // RFC 4475 §3.3.1 (insuf): it was dropped, for want of a Call-ID.
    let insuf = request(OPTIONS_LINE, &[("From", ""), ("To", ""), ("Call-ID", "")]);
    match SipMsg::parse(insuf.as_bytes()) {
        Err(ParseError::BadRequest { partial, why }) => {
            assert_eq!(why, "missing From");
            let r = response(&partial, 400, &why, None).to_bytes();
            assert!(r.starts_with(b"SIP/2.0 400 missing From\r\nVia: SIP/2.0/UDP"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bare_cr_inside_a_line_is_never_echoed_back() {
    // A CR that ends no line would split the header in our 400 (header injection).
    let input = request(OPTIONS_LINE, &[("From", "<sip:a@b>;tag=1\rInjected: x")]);
    match SipMsg::parse(input.as_bytes()) {
        Err(ParseError::BadRequest { partial, why }) => {
            assert_eq!(why, "a bare CR in a header line");
            assert!(partial.headers.iter().all(|(_, v)| !v.contains('\r')));
        }
        other => panic!("{other:?}"),
    }
    let via = request(
        OPTIONS_LINE,
        &[("Via", "SIP/2.0/UDP h;branch=z9hG4bK1\rX: y")],
    );
    assert_eq!(verdict(&via), Err(None));
}

#[test]
fn lists_params_and_uris() {
    assert_eq!(
        split_list("\"a,b\" <sip:x@y;p=1,2>;q=1, <sip:z>"),
        vec!["\"a,b\" <sip:x@y;p=1,2>;q=1", "<sip:z>"]
    );
    assert_eq!(
        param("<sip:a@b;tag=no>;tag=yes", "tag").as_deref(),
        Some("yes")
    );
    assert_eq!(
        param("SIP/2.0/TCP h;rport;branch=z", "rport").as_deref(),
        Some("")
    );
    assert_eq!(name_addr_uri("sip:a@b;tag=1").as_deref(), Some("sip:a@b"));
    assert_eq!(name_addr_uri("<mailto:a@b>"), None);
    assert_eq!(name_addr_uri("<sip:a@b"), None);
    assert_eq!(uri_user("sip:host"), None);
    assert_eq!(uri_user("sip:1234;npdi@host"), Some("1234"));
}
