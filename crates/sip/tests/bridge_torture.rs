//! RFC 4475's torture messages, a few thousand mutations of them, and a SIP scanner, aimed at
//! the bridge on real sockets. The bridge must answer a malformed request 400
//! when its top Via is usable and say nothing otherwise, answer the valid-but-tricky ones as
//! it answers any request, never answer a response, never panic, and keep serving.
//!
//! The messages are in `tests/torture/<RFC 4475 name>.sip`, byte for byte (CRLF line ends,
//! binary bodies); `CASES` says what the bridge answers to each. Every exchange ends with a
//! sentinel OPTIONS on the same socket or connection: the bridge handles one source's
//! messages in order, so whatever arrives before the sentinel's 200 answered the message, and
//! silence is proven without waiting on a timer.

#[path = "support/bridge_wire.rs"]
mod bridge_wire;
#[path = "support/torture_corpus.rs"]
mod torture_corpus;

use bridge_wire::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use trunkline_sip::msg::{self, ParseError, SipMsg};

/// An INVITE without credentials is challenged (the bridge's auth, RFC 3261 §22.2).
const CHALLENGE: &str = "SIP/2.0 401 Unauthorized";
/// Any other request outside a call: REGISTER, MESSAGE, unknown methods, and an INVITE with
/// a To tag (a re-INVITE in a dialog the bridge does not have, §12.2.2).
const NO_CALL: &str = "SIP/2.0 481 Call/Transaction Does Not Exist";

struct Case {
    name: &'static str,
    /// The status lines answered over UDP, in order; none is silence.
    udp: &'static [&'static str],
    tcp: Stream,
}

const fn case(name: &'static str, udp: &'static [&'static str]) -> Case {
    Case {
        name,
        udp,
        tcp: Stream::AsUdp,
    }
}

const CASES: &[Case] = &[
    // §3.1.1: valid messages, answered as any request of their method.
    case("wsinv", &[NO_CALL]),
    case("intmeth", &[NO_CALL]),
    case("esc01", &[CHALLENGE]),
    case("escnull", &[NO_CALL]),
    case("esc02", &[NO_CALL]),
    case("lwsdisp", &[OK]),
    case("longreq", &[CHALLENGE]),
    // The INVITE after the REGISTER's Content-Length is extra octets in a datagram (§18.3),
    // a second request on a stream.
    Case {
        name: "dblreq",
        udp: &[NO_CALL],
        tcp: Stream::Answers(&[NO_CALL, CHALLENGE]),
    },
    case("semiuri", &[OK]),
    case("transports", &[OK]),
    case("mpart01", &[NO_CALL]),
    case("unreason", &[]),
    case("noreason", &[]),
    // §3.1.2: invalid messages: 400 naming the fault when the top Via is usable.
    case("badinv01", &["SIP/2.0 400 malformed Via"]),
    Case {
        name: "clerr",
        udp: &["SIP/2.0 400 body shorter than Content-Length"],
        tcp: Stream::Waits,
    },
    Case {
        name: "ncl",
        udp: &["SIP/2.0 400 Content-Length is not a number"],
        tcp: Stream::Closes,
    },
    case("scalar02", &["SIP/2.0 400 CSeq does not parse"]),
    case("scalarlg", &[]),
    case("quotbal", &["SIP/2.0 400 malformed To"]),
    case("ltgtruri", &["SIP/2.0 400 malformed Request-URI"]),
    case("lwsruri", &["SIP/2.0 400 malformed request line"]),
    case("lwsstart", &["SIP/2.0 400 malformed request line"]),
    case("trws", &["SIP/2.0 400 malformed request line"]),
    case("escruri", &["SIP/2.0 400 malformed Request-URI"]),
    // A Date the bridge never reads: no reason to refuse the call (the RFC allows either).
    case("baddate", &[CHALLENGE]),
    case("regbadct", &["SIP/2.0 400 malformed Contact"]),
    case("badaspec", &["SIP/2.0 400 malformed To"]),
    case("baddn", &["SIP/2.0 400 malformed From"]),
    // Its Via is SIP/7.0 too: nothing usable to answer to.
    case("badvers", &[]),
    case(
        "mismatch01",
        &["SIP/2.0 400 CSeq method differs from the request method"],
    ),
    case(
        "mismatch02",
        &["SIP/2.0 400 CSeq method differs from the request method"],
    ),
    case("bigcode", &[]),
    // §3.2: a branch that is only the magic cookie is still a branch.
    case("badbranch", &[OK]),
    // §3.3: application semantics. The bridge answers OPTIONS 200 whatever the scheme
    // (RFC 3261 §8.2.2.1 suggests 416) and whatever it Requires (§8.2.2.3 suggests 420), and
    // challenges an INVITE before looking at its body.
    case("insuf", &["SIP/2.0 400 missing From"]),
    case("unkscm", &[OK]),
    case("novelsc", &[OK]),
    case("unksm2", &[NO_CALL]),
    case("bext01", &[OK]),
    case("invut", &[CHALLENGE]),
    case("regaut01", &[NO_CALL]),
    case("multi01", &["SIP/2.0 400 more than one From"]),
    case("mcl01", &["SIP/2.0 400 more than one Content-Length"]),
    case("bcast", &[]),
    // A B2BUA is the end of LiveKit's leg: Max-Forwards 0 is for proxies (RFC 4475 §3.3.11).
    case("zeromf", &[OK]),
    case("cparam01", &[NO_CALL]),
    case("cparam02", &[NO_CALL]),
    case("regescrt", &[NO_CALL]),
    case("sdp01", &[CHALLENGE]),
    // §3.4: RFC 2543 requests have no branch; the bridge speaks RFC 3261 only and cannot
    // match such a transaction: dropped.
    case("inv2543", &[]),
];

#[test]
fn every_file_has_a_case_and_keeps_its_crlf() {
    let mut files: Vec<String> = std::fs::read_dir(torture_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".sip").map(str::to_owned)
        })
        .collect();
    files.sort();
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    // The shared corpus mutates the same messages in the same order.
    assert_eq!(names, torture_corpus::NAMES);
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    assert_eq!(files, names);
    for c in CASES {
        let bytes = message(c.name);
        let head_end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{}: no CRLF CRLF", c.name));
        let head = &bytes[..head_end];
        let bare_lf = head
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'));
        assert!(!bare_lf, "{}: a line end lost its CR", c.name);
        // An edited body must not leave a wrong Content-Length behind, except where the
        // wrong length is the point.
        let head = String::from_utf8_lossy(head);
        let lengths: Vec<&str> = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| {
                matches!(
                    n.trim().to_ascii_lowercase().as_str(),
                    "content-length" | "l"
                )
            })
            .map(|(_, v)| v.trim())
            .collect();
        let body = bytes.len() - head_end - 4;
        if !["clerr", "ncl", "mcl01", "dblreq"].contains(&c.name) {
            assert_eq!(lengths, [body.to_string()], "{}: Content-Length", c.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_torture_message_gets_its_answer_over_udp() {
    let (bridge, task) = start().await;
    let mut runs = tokio::task::JoinSet::new();
    for c in CASES {
        runs.spawn(async move {
            let got = over_udp(bridge, &message(c.name), &format!("udp{}", c.name)).await;
            (c.name, c.udp, got)
        });
    }
    let mut wrong = vec![];
    while let Some(r) = runs.join_next().await {
        let (name, want, got) = r.unwrap();
        if got != want {
            wrong.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    still_serving(bridge, "afterudp").await;
    assert!(!task.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_torture_message_gets_its_answer_over_tcp() {
    let (bridge, task) = start().await;
    let mut runs = tokio::task::JoinSet::new();
    for c in CASES {
        runs.spawn(async move {
            let got = over_tcp(bridge, &message(c.name), &format!("tcp{}", c.name), &c.tcp).await;
            let want = match &c.tcp {
                Stream::AsUdp => TcpOutcome::Answers(to_vec(c.udp)),
                Stream::Answers(a) => TcpOutcome::Answers(to_vec(a)),
                Stream::Waits => TcpOutcome::Waiting,
                Stream::Closes => TcpOutcome::Closed,
            };
            (c.name, want, got)
        });
    }
    let mut wrong = vec![];
    while let Some(r) = runs.join_next().await {
        let (name, want, got) = r.unwrap();
        if got != want {
            wrong.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    still_serving(bridge, "aftertcp").await;
    assert!(!task.is_finished());
}

fn to_vec(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// A request that is broken in a way the bridge sees but is an ACK: never answered
/// (RFC 3261 §17.2.1), not even with 400. And things that are not SIP at all.
#[tokio::test]
async fn a_broken_ack_and_non_sip_get_no_answer() {
    let (bridge, _task) = start().await;
    let ack = b"ACK sip:bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKack1\r\n\
        From: <sip:a@x>;tag=1\r\nTo: <sip:bridge>;tag=2\r\nCall-ID: ack1\r\nCSeq: 1 INVITE\r\n\
        Content-Length: 0\r\n\r\n";
    let http = b"GET / HTTP/1.1\r\nHost: bridge\r\n\r\n";
    for (i, bytes) in [&ack[..], http, b"\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            over_udp(bridge, bytes, &format!("quiet{i}")).await,
            Vec::<String>::new()
        );
    }
}

/// A request in another SIP version whose Via is ours to answer: 505 (RFC 3261 §21.5.6).
#[tokio::test]
async fn another_sip_version_is_505() {
    let (bridge, _task) = start().await;
    let v3 = b"OPTIONS sip:bridge SIP/3.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKv3\r\n\
        From: <sip:a@x>;tag=1\r\nTo: <sip:bridge>\r\nCall-ID: v3\r\nCSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";
    assert_eq!(
        over_udp(bridge, v3, "v3").await,
        vec!["SIP/2.0 505 SIP version not supported".to_owned()]
    );
}

/// What the bridge may send back to anything: a challenge, 200 to OPTIONS, 400 (505 for
/// another SIP version), 481, and the digest code's 400/403.
const MAY_ANSWER: &[u16] = &[200, 400, 401, 403, 481, 505];

#[test]
fn parsing_mutations_never_panics_and_what_parses_prints_back() {
    let all = mutations();
    assert!(all.len() > 2_000, "{}", all.len());
    let (mut ok, mut bad, mut dropped) = (0, 0, 0);
    for m in &all {
        let shown = || String::from_utf8_lossy(m).into_owned();
        match SipMsg::parse(m) {
            Ok(parsed) => {
                ok += 1;
                // What the B2BUA prints again parses again, to the same start line and body.
                let again = SipMsg::parse(&parsed.to_bytes())
                    .unwrap_or_else(|e| panic!("{e:?} after printing {}", shown()));
                assert_eq!((&again.start, &again.body), (&parsed.start, &parsed.body));
                if parsed.is_request() {
                    let r = msg::response(&parsed, 481, msg::reason(481), Some("t1"));
                    assert!(SipMsg::parse(&r.to_bytes()).is_ok(), "{}", shown());
                }
            }
            Err(ParseError::BadRequest { partial, why }) => {
                bad += 1;
                assert!(
                    partial.is_request() && partial.branch().is_some(),
                    "{}",
                    shown()
                );
                assert!(!why.contains(['\r', '\n']));
                let r = msg::response(&partial, 400, &why, None).to_bytes();
                assert!(r.starts_with(format!("SIP/2.0 400 {why}\r\n").as_bytes()));
            }
            Err(ParseError::Garbage(_)) => dropped += 1,
        }
    }
    eprintln!(
        "{} mutations: {ok} parse, {bad} get 400, {dropped} dropped",
        all.len()
    );
    // Each class is exercised, or the mutations are too gentle or too harsh to mean much.
    assert!(
        ok > 100 && bad > 100 && dropped > 100,
        "{ok} {bad} {dropped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_survives_thousands_of_mutated_datagrams_and_streams() {
    let (bridge, task) = start().await;
    let all = mutations();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = vec![0u8; 65536];
    let (mut answered, mut done) = (0, false);
    // Whatever comes back is a SIP response of a kind the bridge sends.
    let mut take = |bytes: &[u8]| {
        let line = status_line(bytes);
        let code: u16 = line
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not a SIP response: {line:?}"));
        assert!(MAY_ANSWER.contains(&code), "{line}");
        answered += 1;
        answers_sentinel(bytes, "fuzz")
    };
    for (i, m) in all.iter().enumerate() {
        if !m.is_empty() {
            sock.send_to(m, bridge).await.unwrap();
        }
        if i % 32 == 0 {
            // Read the answers so far (our socket's buffer would overflow), and let the
            // bridge drain its own: the point is that it reads every one.
            while let Ok((n, _)) = sock.try_recv_from(&mut buf) {
                take(&buf[..n]);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    for round in 0..40 {
        sock.send_to(&sentinel("fuzz"), bridge).await.unwrap();
        let until = tokio::time::Instant::now() + Duration::from_millis(250);
        while let Ok(r) = tokio::time::timeout_at(until, sock.recv_from(&mut buf)).await {
            let (n, _) = r.unwrap();
            done |= take(&buf[..n]);
        }
        if done {
            break;
        }
        assert!(
            round < 39,
            "the bridge stopped answering after the mutations"
        );
    }
    eprintln!("{} mutated datagrams: {answered} answers", all.len());
    assert!(answered > 500, "only {answered} answers");

    // The same mutations over TCP, a connection per hundred (the bridge closes one it
    // cannot frame; writes into a closed one just fail).
    for chunk in all.chunks(100) {
        let Ok(mut conn) = TcpStream::connect(bridge).await else {
            panic!("the bridge stopped accepting TCP connections");
        };
        for m in chunk {
            if conn.write_all(m).await.is_err() {
                break;
            }
        }
    }
    still_serving(bridge, "afterfuzz").await;
    assert!(!task.is_finished());
}

/// SIPVicious' svmap: `sipvicious_svmap` from PyPI (`pip install sipvicious`) or `svmap` from
/// Debian's `sipvicious` package, whichever is on PATH.
fn svmap_command() -> Option<&'static str> {
    let found = ["sipvicious_svmap", "svmap"].into_iter().find(|cmd| {
        std::process::Command::new(cmd)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok()
    });
    if found.is_none() {
        eprintln!(
            "SKIPPED: svmap is missing (apt-get install sipvicious, or pip install sipvicious)"
        );
    }
    found
}

/// Runs svmap against 127.0.0.1:`port` (off the runtime's threads: it takes seconds);
/// its exit code (PyPI's 0.3.8 exits 30 on "found nothing", Debian's 0.3.3 exits 0), stdout
/// and stderr.
async fn svmap(cmd: &'static str, port: u16) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(cmd)
            .args(["-b", "127.0.0.1", "-p", &port.to_string(), "127.0.0.1"])
            .output()
            .expect("svmap runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// SIPVicious' svmap, the scanner behind most SIP toll-fraud sweeps, finds nothing at the
/// bridge: it announces itself (`User-Agent: friendly-scanner`) and the edge drops it. A
/// control first: svmap does find a plain responder that answers OPTIONS, and what it sends
/// is what the guard calls a scanner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svmap_finds_nothing_at_the_bridge() {
    let Some(cmd) = svmap_command() else {
        return;
    };
    let control = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let control_port = control.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let responder = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = control.recv_from(&mut buf).await {
                seen.lock().unwrap().push(buf[..n].to_vec());
                if let Ok(req) = SipMsg::parse(&buf[..n]) {
                    let mut ok = msg::response(&req, 200, "OK", Some("ctl"));
                    ok.set("Server", "control-pbx".into());
                    let _ = control.send_to(&ok.to_bytes(), from).await;
                }
            }
        })
    };
    let (code, out, err) = svmap(cmd, control_port).await;
    responder.abort();
    let seen = seen.lock().unwrap().clone();
    let shown = format!("exit {code:?}, {} probes\n{out}{err}", seen.len());
    assert_eq!(code, Some(0), "svmap found the control: {shown}");
    assert!(
        out.contains(&format!("127.0.0.1:{control_port}")),
        "{shown}"
    );
    for probe in &seen {
        assert!(
            trunkline_sip::bridge::guard::is_scanner(probe),
            "{}",
            String::from_utf8_lossy(probe)
        );
    }

    let (bridge, task) = start().await;
    let (code, out, err) = svmap(cmd, bridge.port()).await;
    eprintln!("svmap against the bridge: exit {code:?}\n{out}{err}");
    assert!(
        matches!(code, Some(0 | 30)),
        "svmap ran: {code:?} {out}{err}"
    );
    assert!(err.contains("found nothing"), "{err}");
    assert!(!out.contains(&format!(":{}", bridge.port())), "{out}");
    still_serving(bridge, "aftersvmap").await;
    assert!(!task.is_finished());
}
