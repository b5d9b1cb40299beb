//! Puts each candidate SIP message model through RFC 4475's torture messages and the bridge's
//! mutation corpus (crates/sip/tests/support/torture_corpus.rs), as a B2BUA would use it:
//! parse the message, then read what a B2BUA routes on (top Via, From, To, Call-ID, CSeq, and
//! Max-Forwards and Contact when present). For each candidate it prints:
//!
//! - torture: how many of the 49 messages it judged as RFC 4475 does (valid ones accepted,
//!   invalid ones refused; `baddate` may go either way), and which it got wrong;
//! - verbatim: of the messages it accepted, how many it hands back with every header field's
//!   value byte for byte and in the order received (folding counts as one space; header names
//!   may be spelled canonically), which a B2BUA needs to copy Via, From, To and Record-Route;
//! - mutations: accepted, refused, and panics (caught) over the deterministic mutations;
//! - speed: a LiveKit-like INVITE with SDP parsed and read, messages per second.

#[path = "../../../crates/sip/tests/support/torture_corpus.rs"]
mod torture_corpus;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// A header list as a candidate exposes it: (name, value) in the candidate's order.
type Fields = Vec<(String, String)>;

/// What a candidate made of a message: accepted with its fields, or refused.
type Parse = fn(&[u8]) -> Option<Fields>;

/// RFC 4475's judgement: §3.1.1, §3.2, §3.3 (but 3.3.1, 3.3.8, 3.3.9) and §3.4 are valid.
fn rfc_valid(name: &str) -> Option<bool> {
    const INVALID: &[&str] = &[
        "badinv01",
        "clerr",
        "ncl",
        "scalar02",
        "scalarlg",
        "quotbal",
        "ltgtruri",
        "lwsruri",
        "lwsstart",
        "trws",
        "escruri",
        "regbadct",
        "badaspec",
        "baddn",
        "badvers",
        "mismatch01",
        "mismatch02",
        "bigcode",
        "insuf",
        "multi01",
        "mcl01",
    ];
    match name {
        // §3.1.2.13: rejecting it is acceptable, so is ignoring the Date.
        "baddate" => None,
        n => Some(!INVALID.contains(&n)),
    }
}

fn canonical(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let long = match lower.as_str() {
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "i" => "call-id",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "k" => "supported",
        "s" => "subject",
        "e" => "content-encoding",
        other => other,
    };
    long.to_owned()
}

/// Folded lines as one space, nothing else changed.
fn unfold(v: &str) -> String {
    let mut out = String::new();
    let mut lines = v.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if let Some(first) = lines.next() {
        out.push_str(first.trim());
    }
    for l in lines {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(l.trim());
    }
    out.trim().to_owned()
}

/// The header fields as received (the reference for "verbatim").
fn received(bytes: &[u8]) -> Fields {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut fields: Fields = vec![];
    for line in head.split("\r\n").skip(1) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            fields.push((canonical(n), v.trim().to_owned()));
        }
    }
    fields
}

fn verbatim(bytes: &[u8], got: &Fields) -> bool {
    let want = received(bytes);
    let got: Fields = got.iter().map(|(n, v)| (canonical(n), unfold(v))).collect();
    want == got
}

fn bridge(bytes: &[u8]) -> Option<Fields> {
    let m = trunkline_sip::msg::SipMsg::parse(bytes).ok()?;
    m.top_via()?;
    let _ = (m.from_tag(), m.to_tag(), m.cseq()?, m.call_id());
    Some(m.headers.clone())
}

fn rsip(bytes: &[u8]) -> Option<Fields> {
    use rsipstack::sip::headers::untyped::ToTypedHeader;
    use rsipstack::sip::message::HeadersExt;
    use rsipstack::sip::SipMessage;
    let m = SipMessage::try_from(bytes).ok()?;
    fn read<T: HeadersExt>(m: &T) -> Option<()> {
        m.via_header().ok()?.typed().ok()?;
        m.from_header().ok()?.typed().ok()?;
        m.to_header().ok()?.typed().ok()?;
        m.call_id_header().ok()?;
        m.cseq_header().ok()?.typed().ok()?;
        if let Ok(mf) = m.max_forwards_header() {
            mf.value().trim().parse::<u8>().ok()?;
        }
        if let Ok(c) = m.contact_header() {
            c.typed().ok()?;
        }
        Some(())
    }
    let headers = match &m {
        SipMessage::Request(r) => {
            read(r)?;
            &r.headers
        }
        SipMessage::Response(r) => {
            read(r)?;
            &r.headers
        }
    };
    Some(
        headers
            .iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect(),
    )
}

fn ezk(bytes: &[u8]) -> Option<Fields> {
    use ezk_sip_types::header::typed::{CSeq, CallID, Contact, FromTo, MaxForwards, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};
    let src = bytes::Bytes::copy_from_slice(bytes);
    let mut lines = PullParser::new(&src, 0);
    let first = std::str::from_utf8(lines.next()?.ok()?).ok()?;
    let (rest, _) = MessageLine::parse(&src)(first).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut headers = Headers::new();
    for line in lines {
        let line = std::str::from_utf8(line.ok()?).ok()?;
        let (_, line) = Line::parse(&src, line).ok()?;
        headers.insert(line.name, line.value);
    }
    headers.get_named::<Vec<Via>>().ok()?;
    headers.get::<FromTo>(Name::FROM).ok()?;
    headers.get::<FromTo>(Name::TO).ok()?;
    headers.get_named::<CallID>().ok()?;
    headers.get_named::<CSeq>().ok()?;
    if headers.contains(&Name::MAX_FORWARDS) {
        headers.get_named::<MaxForwards>().ok()?;
    }
    if headers.contains(&Name::CONTACT) {
        headers.get_named::<Vec<Contact>>().ok()?;
    }
    Some(
        headers
            .iter()
            .map(|(n, v)| (n.as_print_str().to_owned(), v.as_str().to_owned()))
            .collect(),
    )
}

/// Runs `parse` on `bytes`, a panic counted as such (and as a refusal).
fn run(parse: Parse, bytes: &[u8]) -> (Option<Fields>, bool) {
    match catch_unwind(AssertUnwindSafe(|| parse(bytes))) {
        Ok(r) => (r, false),
        Err(_) => (None, true),
    }
}

const INVITE: &str = "INVITE sip:+919876543210@bridge.example:5080 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK.8f3kd93Jd;alias\r\n\
Max-Forwards: 70\r\n\
From: \"+15550100\" <sip:+15550100@livekit.example>;tag=Ks83nD1\r\n\
To: <sip:+919876543210@bridge.example>\r\n\
Call-ID: 3c26b9c1-8d8e-4f1e-b2a9-55a1c0e0b5f7\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sip:livekit@10.0.0.5:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, timer\r\n\
User-Agent: LiveKit\r\n\
Authorization: Digest username=\"ST_5cab8a1135972d3d\", realm=\"trunkline\", nonce=\"65a0b1c2.0011223344556677.00112233445566778899aabbccddeeff\", uri=\"sip:+919876543210@bridge.example:5080\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 242\r\n\r\n\
v=0\r\no=LiveKit 1700000000 1700000000 IN IP4 10.0.0.5\r\ns=LiveKit\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
m=audio 10020 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

fn main() {
    let dir = torture_corpus::dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/sip"));
    let torture: Vec<(&str, Vec<u8>)> = torture_corpus::NAMES
        .iter()
        .map(|n| (*n, torture_corpus::message(&dir, n)))
        .collect();
    let mutations = torture_corpus::mutations(&dir);
    assert_eq!(
        INVITE.split_once("\r\n\r\n").unwrap().1.len(),
        242,
        "the sample's Content-Length"
    );
    // Quiet: rsip and ezk may panic on some inputs, which is counted, not printed.
    std::panic::set_hook(Box::new(|_| {}));
    let candidates: [(&str, Parse); 3] = [
        ("trunkline (bridge parser)", bridge),
        ("rsip (rsipstack 0.7.14)", rsip),
        ("ezk-sip-types 0.6.5", ezk),
    ];
    println!(
        "corpus: {} RFC 4475 messages, {} mutations",
        torture.len(),
        mutations.len()
    );
    for (name, parse) in candidates {
        let mut right = 0;
        let mut wrong = vec![];
        let (mut accepted, mut verbatim_ok, mut panics) = (0, 0, 0);
        let mut altered = vec![];
        for (msg, bytes) in &torture {
            let (got, panicked) = run(parse, bytes);
            panics += usize::from(panicked);
            let ok = match rfc_valid(msg) {
                Some(valid) => got.is_some() == valid,
                None => true,
            };
            if ok {
                right += 1;
            } else {
                wrong.push(format!(
                    "{msg} ({})",
                    if got.is_some() { "accepted" } else { "refused" }
                ));
            }
            if let Some(fields) = got {
                accepted += 1;
                if verbatim(bytes, &fields) {
                    verbatim_ok += 1;
                } else {
                    altered.push(*msg);
                }
            }
        }
        let (mut m_ok, mut m_verbatim, mut m_panics) = (0, 0, 0);
        for bytes in &mutations {
            let (got, panicked) = run(parse, bytes);
            m_panics += usize::from(panicked);
            if let Some(fields) = got {
                m_ok += 1;
                m_verbatim += usize::from(verbatim(bytes, &fields));
            }
        }
        let sample = INVITE.as_bytes();
        assert!(parse(sample).is_some(), "{name} reads the sample INVITE");
        let n = 50_000;
        let started = Instant::now();
        for _ in 0..n {
            std::hint::black_box(parse(std::hint::black_box(sample)));
        }
        let per_sec = n as f64 / started.elapsed().as_secs_f64();
        println!("== {name}");
        println!(
            "  torture: {right}/{} judged as RFC 4475 does; wrong: {}",
            torture.len(),
            if wrong.is_empty() {
                "none".to_owned()
            } else {
                wrong.join(", ")
            }
        );
        println!("  verbatim: {verbatim_ok}/{accepted} accepted torture messages (altered: {}), {m_verbatim}/{m_ok} accepted mutations", altered.join(", "));
        println!(
            "  mutations: {m_ok} accepted, {} refused, {} panics (torture: {panics})",
            mutations.len() - m_ok - m_panics,
            m_panics
        );
        println!("  speed: {per_sec:.0} INVITEs/s parsed and read");
    }
}
