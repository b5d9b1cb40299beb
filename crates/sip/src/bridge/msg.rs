//! SIP messages as a B2BUA handles them: headers kept verbatim and in order (a B2BUA copies
//! Via, Record-Route, From and To back byte for byte), compact names expanded. Parsing never
//! panics; a request whose Via parses but that is otherwise broken is reported as such so the
//! endpoint can answer 400 (RFC 3261 §8.2.2/§21.4.1), anything else is dropped.

/// The most a single message may take (as `wire::MAX_MESSAGE`).
pub const MAX_MESSAGE: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipMsg {
    pub start: Start,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not answerable: drop it.
    Garbage(String),
    /// A request whose Via (and enough to build a response) parsed: answer 400 with this
    /// reason, built by `bad_request`.
    BadRequest { partial: Box<SipMsg>, why: String },
}

fn expand(name: &str) -> String {
    let long = match name.to_ascii_lowercase().as_str() {
        "v" => "Via",
        "f" => "From",
        "t" => "To",
        "i" => "Call-ID",
        "m" => "Contact",
        "l" => "Content-Length",
        "c" => "Content-Type",
        "k" => "Supported",
        "s" => "Subject",
        "e" => "Content-Encoding",
        "call-id" => "Call-ID",
        "cseq" => "CSeq",
        "www-authenticate" => "WWW-Authenticate",
        _ => return name.to_owned(),
    };
    long.to_owned()
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

impl SipMsg {
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let garbage = |w: &str| Err(ParseError::Garbage(w.to_owned()));
        if bytes.len() > MAX_MESSAGE {
            return garbage("over 64 KiB");
        }
        let (head, body) = match find(bytes, b"\r\n\r\n") {
            Some(i) => (&bytes[..i], &bytes[i + 4..]),
            None => match find(bytes, b"\n\n") {
                Some(i) => (&bytes[..i], &bytes[i + 2..]),
                None => return garbage("no end of headers"),
            },
        };
        let Ok(head) = std::str::from_utf8(head) else {
            return garbage("headers are not UTF-8");
        };
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().unwrap_or("");
        let start = if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            match code.parse::<u16>() {
                Ok(c) if (100..700).contains(&c) && code.len() == 3 => Start::Response {
                    status: c,
                    reason: reason.chars().take(100).collect(),
                },
                _ => return garbage("bad status code"),
            }
        } else {
            let f: Vec<&str> = first.split(' ').collect();
            if f.len() != 3 || f[2] != "SIP/2.0" || !is_token(f[0]) || f[1].is_empty() {
                return garbage("bad request line");
            }
            Start::Request {
                method: f[0].to_owned(),
                uri: f[1].to_owned(),
            }
        };
        let mut headers: Vec<(String, String)> = vec![];
        let mut header_error = None;
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                // Folded continuation (RFC 3261 §7.3.1).
                match headers.last_mut() {
                    Some((_, v)) => {
                        v.push(' ');
                        v.push_str(line.trim());
                    }
                    None => return garbage("continuation before any header"),
                }
                continue;
            }
            match line.split_once(':') {
                Some((n, v)) if is_token(n.trim()) => {
                    headers.push((expand(n.trim()), v.trim().to_owned()))
                }
                _ => {
                    header_error.get_or_insert("a header line without a name");
                }
            }
            if headers.len() > MAX_HEADERS {
                return garbage("too many headers");
            }
        }
        let mut msg = SipMsg {
            start,
            headers,
            body: body.to_vec(),
        };
        // A response we cannot match is dropped; requests are checked below.
        let via_ok = msg.top_via().is_some_and(|v| {
            v.starts_with("SIP/2.0/")
                && v.split_whitespace().count() >= 2
                && param(&v, "branch").is_some()
        });
        let bad = |msg: SipMsg, why: String| {
            if msg.is_request() && via_ok && msg.header("Call-ID").is_some() {
                Err(ParseError::BadRequest {
                    partial: Box::new(msg),
                    why,
                })
            } else {
                Err(ParseError::Garbage(why))
            }
        };
        if !via_ok {
            return garbage("no usable Via");
        }
        if let Some(why) = header_error {
            return bad(msg, why.to_owned());
        }
        match msg.header("Content-Length").map(|l| l.parse::<usize>()) {
            Some(Ok(n)) if n <= msg.body.len() => msg.body.truncate(n),
            Some(Ok(_)) => return bad(msg, "body shorter than Content-Length".into()),
            Some(Err(_)) => return bad(msg, "Content-Length is not a number".into()),
            None => {}
        }
        for h in ["From", "To", "Call-ID", "CSeq"] {
            if msg.header(h).is_none_or(str::is_empty) {
                return bad(msg, format!("missing {h}"));
            }
        }
        let Some((_, cseq_method)) = msg.cseq() else {
            return bad(msg, "CSeq does not parse".into());
        };
        if let Start::Request { method, .. } = &msg.start {
            if !cseq_method.eq_ignore_ascii_case(method) {
                return bad(msg, "CSeq method differs from the request method".into());
            }
        }
        Ok(msg)
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match &self.start {
            Start::Request { uri, .. } => Some(uri),
            Start::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            Start::Response { status, .. } => Some(*status),
            Start::Request { .. } => None,
        }
    }

    pub fn reason(&self) -> &str {
        match &self.start {
            Start::Response { reason, .. } => reason,
            Start::Request { .. } => "",
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma-separated lists split (outside quotes and `<>`).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }

    pub fn top_via(&self) -> Option<String> {
        self.all("Via").into_iter().next()
    }

    pub fn branch(&self) -> Option<String> {
        param(&self.top_via()?, "branch")
    }

    pub fn call_id(&self) -> &str {
        self.header("Call-ID").unwrap_or("")
    }

    pub fn cseq(&self) -> Option<(u32, String)> {
        let v = self.header("CSeq")?;
        let mut f = v.split_whitespace();
        let n = f.next()?.parse().ok()?;
        let m = f.next()?;
        is_token(m).then(|| (n, m.to_ascii_uppercase()))
    }

    pub fn from_tag(&self) -> Option<String> {
        param(self.header("From")?, "tag")
    }

    pub fn to_tag(&self) -> Option<String> {
        param(self.header("To")?, "tag")
    }

    /// The URI of the first Contact.
    pub fn contact_uri(&self) -> Option<String> {
        self.all("Contact").first().and_then(|c| name_addr_uri(c))
    }

    pub fn set(&mut self, name: &str, value: String) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = match &self.start {
            Start::Request { method, uri } => format!("{method} {uri} SIP/2.0\r\n"),
            Start::Response { status, reason } => format!("SIP/2.0 {status} {reason}\r\n"),
        };
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits a header value at commas that are outside quotes and angle brackets.
pub fn split_list(v: &str) -> Vec<String> {
    let (mut out, mut cur) = (vec![], String::new());
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for ch in v.chars() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// `;name=value` (or a bare `;name`, as `""`) from a header value's parameters.
pub fn param(value: &str, name: &str) -> Option<String> {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The URI inside a name-addr (`"x" <sip:a@b>;tag=1`) or an addr-spec (`sip:a@b;tag=1`).
pub fn name_addr_uri(v: &str) -> Option<String> {
    let v = v.trim();
    let uri = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        (None, None) => v.split(';').next().unwrap_or(""),
        _ => return None,
    };
    let uri = uri.trim();
    (uri.starts_with("sip:") || uri.starts_with("sips:")).then(|| uri.to_owned())
}

/// The user part of a SIP URI (`sip:+9199@host` → `+9199`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or(user);
    (!user.is_empty()).then_some(user)
}

/// A response to `req` (RFC 3261 §8.2.6.2): Via, From, Call-ID, CSeq copied; To copied with
/// `to_tag` added when it has none (not on 100, §8.2.6.2); Record-Route copied on
/// dialog-forming responses (§12.1.1).
pub fn response(req: &SipMsg, status: u16, reason: &str, to_tag: Option<&str>) -> SipMsg {
    let mut headers = vec![];
    for (n, v) in &req.headers {
        let keep = ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
            || (n.eq_ignore_ascii_case("Record-Route")
                && status > 100
                && status < 300
                && req.method() == Some("INVITE"));
        if keep {
            headers.push((n.clone(), v.clone()));
        } else if n.eq_ignore_ascii_case("To") {
            let mut to = v.clone();
            if let (Some(tag), None, true) = (to_tag, param(v, "tag"), status > 100) {
                to.push_str(";tag=");
                to.push_str(tag);
            }
            headers.push(("To".into(), to));
        }
    }
    headers.push(("Server".into(), "trunkline".into()));
    SipMsg {
        start: Start::Response {
            status,
            reason: reason.to_owned(),
        },
        headers,
        body: vec![],
    }
}

/// The standard reason phrase for the codes the bridge sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
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
            b"OPTIONS sip:a@b SIP/3.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n",
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
}
