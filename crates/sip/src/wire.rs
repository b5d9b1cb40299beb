//! The probe's requests and responses on the crate's one message model (`crate::msg`), and
//! the framing of SIP over a stream (RFC 3261 §18.3), which the bridge shares.

use crate::msg::{self, ParseError, SipMsg, Start};

/// The methods the probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Options,
    Invite,
    Ack,
    Cancel,
    Bye,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Options => "OPTIONS",
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Cancel => "CANCEL",
            Self::Bye => "BYE",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to print: its line, its headers in order, its body.
#[derive(Debug, Clone)]
pub struct OutRequest {
    pub method: Method,
    pub uri: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl OutRequest {
    /// The bytes on the wire, Content-Length last. Fails only if a URI we built is not a
    /// Request-URI, which is a bug on our side, reported rather than sent.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        if !msg::request_uri_ok(&self.uri) {
            return Err(format!("request URI {:?} does not parse", self.uri));
        }
        let request = SipMsg {
            start: Start::Request {
                method: self.method.as_str().to_owned(),
                uri: self.uri.clone(),
            },
            headers: self
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect(),
            body: self.body.clone(),
        };
        Ok(request.to_bytes())
    }
}

/// What the probe needs from a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InResponse {
    pub status: u16,
    pub reason: String,
    /// The `branch` of the top Via: which of our transactions this answers.
    pub branch: Option<String>,
    pub cseq_method: Option<String>,
    /// The whole To header value (with the tag the UAS added), for ACK and CANCEL.
    pub to: Option<String>,
    /// The Contact URI (a 2xx to INVITE: where ACK and BYE go).
    pub contact: Option<String>,
    pub www_authenticate: Vec<String>,
    pub proxy_authenticate: Vec<String>,
}

/// Parses one response. Anything else (a request, garbage) is an `Err` with a short reason:
/// peer input never crashes us.
pub fn parse_response(bytes: &[u8]) -> Result<InResponse, String> {
    let m = match SipMsg::parse(bytes) {
        Ok(m) => m,
        Err(ParseError::BadRequest { partial, .. }) => {
            return Err(format!(
                "a malformed {} request, not a response",
                short(partial.method().unwrap_or("?"))
            ))
        }
        Err(ParseError::Garbage(why)) => return Err(format!("not a SIP message: {}", short(&why))),
    };
    let Some(status) = m.status() else {
        return Err(format!(
            "a {} request, not a response",
            short(m.method().unwrap_or("?"))
        ));
    };
    Ok(InResponse {
        status,
        reason: m.reason().to_owned(),
        branch: m.branch(),
        cseq_method: m.cseq().map(|(_, method)| method),
        to: m.header("To").map(str::to_owned),
        contact: m.contact_uri(),
        www_authenticate: m.all_raw("WWW-Authenticate"),
        proxy_authenticate: m.all_raw("Proxy-Authenticate"),
    })
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Splits a TCP byte stream into SIP messages (RFC 3261 §18.3: Content-Length frames them).
/// Leading CRLF keep-alives (RFC 5626 §3.5.1) are skipped.
#[derive(Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

/// The most a single message may take; a peer sending more is broken or hostile.
pub const MAX_MESSAGE: usize = 64 * 1024;

impl StreamFramer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, `Ok(None)` if more bytes are needed, `Err` if the stream
    /// cannot be framed (then it is useless: the caller drops the connection).
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, String> {
        let skip = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        self.buf.drain(..skip);
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_MESSAGE {
                return Err("a message header over 64 KiB".into());
            }
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buf[..end]);
        let mut length = 0usize;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("Content-Length {:?} is not a number", short(value)))?;
            }
        }
        let total = end + 4 + length;
        if total > MAX_MESSAGE {
            return Err("a message over 64 KiB".into());
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buf.drain(..total).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = "SIP/2.0 401 Unauthorized Here\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport=5060, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother\r\n\
        From: <sip:+15550100@example.com>;tag=f1\r\n\
        To: <sip:example.com>;tag=t9\r\n\
        Call-ID: c1@probe\r\n\
        CSeq: 1 OPTIONS\r\n\
        Contact: \"UAS\" <sip:uas@192.0.2.9:5070;transport=tcp>;expires=60\r\n\
        WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\"\r\n\
        WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n2\", algorithm=MD5, qop=\"auth\"\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn a_response_parses_into_what_the_probe_needs() {
        let r = parse_response(RESPONSE.as_bytes()).unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.reason, "Unauthorized Here");
        assert_eq!(r.branch.as_deref(), Some("z9hG4bKabc"));
        assert_eq!(r.cseq_method.as_deref(), Some("OPTIONS"));
        assert_eq!(r.to.as_deref(), Some("<sip:example.com>;tag=t9"));
        assert_eq!(
            r.contact.as_deref(),
            Some("sip:uas@192.0.2.9:5070;transport=tcp")
        );
        assert_eq!(r.www_authenticate.len(), 2);
        assert!(r.proxy_authenticate.is_empty());
    }

    #[test]
    fn garbage_and_requests_are_errors_not_panics() {
        for input in [
            &b""[..],
            b"\r\n\r\n",
            b"hello",
            b"SIP/2.0 abc OK\r\n\r\n",
            b"SIP/2.0 99 Low\r\nContent-Length: 0\r\n\r\n",
            b"SIP/2.0 200\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n",
            b"SIP/2.0 200 OK\r\nVia: \r\nCSeq: \r\nTo: \r\nContact: <\r\n\r\n",
            &[0xff, 0xfe, 0x00, 0x0d, 0x0a, 0x0d, 0x0a],
        ] {
            // Either outcome is fine; what matters is that none panics and that nothing that
            // is not a 1xx-6xx response comes out as one.
            if let Ok(r) = parse_response(input) {
                assert!((100..700).contains(&r.status), "{input:?}");
            }
        }
        assert!(parse_response(b"hello").is_err());
    }

    #[test]
    fn a_printed_request_parses_back() {
        let req = OutRequest {
            method: Method::Options,
            uri: "sip:example.com:5070".into(),
            headers: vec![
                (
                    "Via",
                    "SIP/2.0/TCP 192.0.2.1:40000;branch=z9hG4bKx;rport".into(),
                ),
                ("From", "<sip:+15550100@example.com>;tag=a".into()),
                ("To", "<sip:example.com>".into()),
                ("Call-ID", "c@x".into()),
                ("CSeq", "1 OPTIONS".into()),
                ("Max-Forwards", "70".into()),
            ],
            body: vec![],
        };
        let bytes = req.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("OPTIONS sip:example.com:5070 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
        let back = SipMsg::parse(&bytes).unwrap();
        assert_eq!(back.method(), Some("OPTIONS"));
        assert_eq!(back.branch().as_deref(), Some("z9hG4bKx"));
    }

    #[test]
    fn the_framer_splits_a_stream_and_bounds_it() {
        let mut f = StreamFramer::default();
        let one = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n";
        let two = "SIP/2.0 200 OK\r\nl: 3\r\n\r\nabc";
        f.push(b"\r\n\r\n");
        f.push(one.as_bytes());
        f.push(&two.as_bytes()[..10]);
        assert_eq!(f.next_message().unwrap().unwrap(), one.as_bytes());
        assert_eq!(f.next_message().unwrap(), None);
        f.push(&two.as_bytes()[10..]);
        assert_eq!(f.next_message().unwrap().unwrap(), two.as_bytes());
        assert_eq!(f.next_message().unwrap(), None);

        let mut f = StreamFramer::default();
        f.push(b"SIP/2.0 200 OK\r\nContent-Length: 999999\r\n\r\n");
        assert!(f.next_message().is_err());
        let mut f = StreamFramer::default();
        f.push(b"SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\n");
        assert!(f.next_message().is_err());
        let mut f = StreamFramer::default();
        f.push(&vec![b'a'; MAX_MESSAGE + 1]);
        assert!(f.next_message().is_err());
    }
}
