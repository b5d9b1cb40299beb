//! trunkline's one SIP message model, for the bridge and the probe alike: headers kept
//! verbatim and in order (a B2BUA copies Via, Record-Route, From and To back byte for byte),
//! compact names expanded. Why our own rather than a crate's: README, "One SIP message
//! model" (bench/sip_parsers.sh measures the candidates). Parsing never
//! panics; a request whose Via parses but that is otherwise broken is reported as such so the
//! endpoint can answer 400 (RFC 3261 §8.2.2/§21.4.1), anything else is dropped.
//!
//! A request is held to the grammar of what the bridge copies or routes on (request line,
//! Via, From, To, Contact, Call-ID, CSeq, Max-Forwards, Content-Length): RFC 4475's invalid
//! messages get their 400 (tests/bridge_torture.rs). A response only needs what matching it
//! takes: the provider's quirks must not drop a call.

mod grammar;

use grammar::*;
pub use grammar::{param, request_uri_ok, uri_ok, Start, VERSION_NOT_SUPPORTED};

/// The most a single message may take (a stream is framed to the same bound).
pub const MAX_MESSAGE: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
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

/// Headers a request carries once (RFC 3261 §7.3.1: only comma-list headers may repeat);
/// RFC 4475 §3.3.8 and §3.3.9 are answered 400.
const SINGLE: [&str; 6] = [
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
];

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
        let Some((start, line_error)) = start_line(lines.next().unwrap_or("")) else {
            return garbage("bad start line");
        };
        let mut headers: Vec<(String, String)> = vec![];
        let mut header_error = None;
        for line in lines {
            if line.contains('\r') {
                // A bare CR is no line end and allowed nowhere else (RFC 3261 §7.3.1, not
                // even in a quoted-pair): the line is left out rather than echoed back.
                header_error.get_or_insert("a bare CR in a header line");
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                // Folded continuation (RFC 3261 §7.3.1).
                match headers.last_mut() {
                    Some((_, v)) => {
                        if !v.is_empty() {
                            v.push(' ');
                        }
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
        // No usable top Via (SIP/2.0, a sent-by, a branch): no answer, whatever else is
        // wrong, as there is no transaction to answer in (RFC 2543 requests included).
        if !msg.top_via().is_some_and(|v| via_usable(&v)) {
            return garbage("no usable Via");
        }
        let checked = match line_error.or(header_error) {
            Some(why) => Err(why.to_owned()),
            None => msg.check(),
        };
        match checked {
            Ok(()) => Ok(msg),
            Err(why) if msg.is_request() => Err(ParseError::BadRequest {
                partial: Box::new(msg),
                why,
            }),
            // A response we cannot match is dropped.
            Err(why) => Err(ParseError::Garbage(why)),
        }
    }

    /// What a B2BUA needs of every message (the body cut to Content-Length), and for a
    /// request the syntax of what it copies or routes on: RFC 4475's invalid messages are
    /// caught here. Responses are read liberally: the provider's quirks are not ours to fix.
    fn check(&mut self) -> Result<(), String> {
        let request = self.is_request();
        if request {
            for name in SINGLE {
                let n = self
                    .headers
                    .iter()
                    .filter(|(h, _)| h.eq_ignore_ascii_case(name))
                    .count();
                if n > 1 {
                    return Err(format!("more than one {name}"));
                }
            }
        }
        match self.header("Content-Length").map(digits::<usize>) {
            Some(Some(n)) if n <= self.body.len() => self.body.truncate(n),
            Some(Some(_)) => return Err("body shorter than Content-Length".into()),
            Some(None) => return Err("Content-Length is not a number".into()),
            None => {}
        }
        for h in ["From", "To", "Call-ID", "CSeq"] {
            if self.header(h).is_none_or(str::is_empty) {
                return Err(format!("missing {h}"));
            }
        }
        let Some((number, cseq_method)) = self.cseq() else {
            return Err("CSeq does not parse".into());
        };
        let Start::Request { method, .. } = &self.start else {
            return Ok(());
        };
        if self
            .header("CSeq")
            .is_some_and(|v| v.split_whitespace().count() != 2)
        {
            return Err("CSeq does not parse".into());
        }
        // §8.1.1.5: the sequence number is below 2^31.
        if number > i32::MAX as u32 {
            return Err("CSeq number over 2^31 - 1".into());
        }
        if !cseq_method.eq_ignore_ascii_case(method) {
            return Err("CSeq method differs from the request method".into());
        }
        // §20.22: 0 to 255.
        if self
            .header("Max-Forwards")
            .is_some_and(|v| digits::<u8>(v).is_none())
        {
            return Err("Max-Forwards is not 0 to 255".into());
        }
        if !self.all_elements("Via").iter().all(|v| via_valid(v)) {
            return Err("malformed Via".into());
        }
        for h in ["From", "To"] {
            if !self.header(h).is_some_and(name_addr_ok) {
                return Err(format!("malformed {h}"));
            }
        }
        let contacts = self.all_elements("Contact");
        let star = contacts.len() == 1 && contacts[0] == "*";
        if !star && !contacts.iter().all(|c| name_addr_ok(c)) {
            return Err("malformed Contact".into());
        }
        // §25.1: callid = word ["@" word]; no whitespace in either.
        if self.call_id().contains(char::is_whitespace) {
            return Err("malformed Call-ID".into());
        }
        Ok(())
    }

    /// Every element of a list header, empty ones kept (`a,,b` and `a,` hold one).
    fn all_elements(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_raw(v))
            .collect()
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

    /// Every value of `name` unsplit (challenges contain commas).
    pub fn all_raw(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
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
    let mut out = split_raw(v);
    if out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// `split_list` with every element kept, a trailing empty one too (`a,` is two elements).
fn split_raw(v: &str) -> Vec<String> {
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
    out.push(cur.trim().to_owned());
    out
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
mod tests;
