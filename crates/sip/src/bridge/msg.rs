//! SIP messages as a B2BUA handles them: headers kept verbatim and in order (a B2BUA copies
//! Via, Record-Route, From and To back byte for byte), compact names expanded. Parsing never
//! panics; a request whose Via parses but that is otherwise broken is reported as such so the
//! endpoint can answer 400 (RFC 3261 §8.2.2/§21.4.1), anything else is dropped.
//!
//! A request is held to the grammar of what the bridge copies or routes on (request line,
//! Via, From, To, Contact, Call-ID, CSeq, Max-Forwards, Content-Length): RFC 4475's invalid
//! messages get their 400 (tests/bridge_torture.rs). A response only needs what matching it
//! takes: the provider's quirks must not drop a call.

/// The most a single message may take (as `wire::MAX_MESSAGE`).
pub const MAX_MESSAGE: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// The reason of a request in another SIP version: answered 505 rather than 400 (§8.2.2.1…
/// §21.5.6).
pub const VERSION_NOT_SUPPORTED: &str = "SIP version not supported";

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

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
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

/// The start line. A request line that is broken but begins with a method token still
/// makes a request (answered 400 when its Via is usable, RFC 4475 §3.1.2.7–§3.1.2.11), with
/// the reason it is broken; anything else is no SIP message.
fn start_line(first: &str) -> Option<(Start, Option<&'static str>)> {
    if first.starts_with("SIP/") {
        let rest = first.strip_prefix("SIP/2.0 ")?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = digits::<u16>(code).filter(|c| (100..700).contains(c) && code.len() == 3)?;
        let start = Start::Response {
            status,
            reason: reason.chars().take(100).collect(),
        };
        return Some((start, None));
    }
    let f: Vec<&str> = first.split(' ').collect();
    if !is_token(f[0]) {
        return None;
    }
    let uri = f.get(1).copied().unwrap_or("");
    let start = Start::Request {
        method: f[0].to_owned(),
        uri: uri.to_owned(),
    };
    // §7.1: Method SP Request-URI SP SIP-Version, single spaces, nothing after.
    let why = if f.len() != 3 || uri.is_empty() {
        Some("malformed request line")
    } else if f[2] != "SIP/2.0" {
        Some(VERSION_NOT_SUPPORTED)
    } else if !request_uri_ok(uri) {
        Some("malformed Request-URI")
    } else {
        None
    };
    Some((start, why))
}

/// A number written as 1*DIGIT (no sign, no spaces inside), `None` when it does not fit.
fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A Via element's sent-protocol, sent-by and parameters (RFC 3261 §20.42), with the SWS the
/// grammar allows around `/` (`SIP / 2.0 / UDP host`, RFC 4475 §3.1.1.1).
fn via_parts(v: &str) -> Option<(&str, &str, &str)> {
    let (protocol, params) = v.split_at(v.find(';').unwrap_or(v.len()));
    let mut p = protocol.splitn(3, '/');
    let (name, version, rest) = (p.next()?.trim(), p.next()?.trim(), p.next()?.trim());
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
        return None;
    }
    let end = rest.find(char::is_whitespace)?;
    let (transport, sent_by) = (&rest[..end], rest[end..].trim());
    (is_token(transport) && !sent_by.is_empty()).then_some((transport, sent_by, params))
}

/// Enough of a Via to answer: SIP/2.0, a sent-by and a branch.
fn via_usable(v: &str) -> bool {
    via_parts(v).is_some() && param(v, "branch").is_some_and(|b| !b.is_empty())
}

/// A Via element as the grammar has it: a host and port, then well-formed parameters.
fn via_valid(v: &str) -> bool {
    via_parts(v).is_some_and(|(_, sent_by, params)| hostport_ok(sent_by) && params_ok(params))
}

/// `host [ ":" port ]`: a name or IPv4 address, or an IPv6 reference in brackets.
fn hostport_ok(s: &str) -> bool {
    let (host_ok, port) = match s.strip_prefix('[') {
        Some(r) => match r.split_once(']') {
            Some((h, p)) => (
                h.contains(':')
                    && h.bytes()
                        .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b)),
                p.trim_start(),
            ),
            None => return false,
        },
        None => {
            let end = s
                .find(|c: char| c == ':' || c.is_whitespace())
                .unwrap_or(s.len());
            let host = &s[..end];
            (
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
                s[end..].trim_start(),
            )
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            let p = p.trim_start();
            (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        });
    host_ok && port_ok
}

/// `*( SEMI generic-param )` (RFC 3261 §25.1): `;name[=value]` with SWS around `;` and `=`;
/// a value is a token, a host (IPv6 too) or a quoted string. An empty parameter (`;;`,
/// RFC 4475 §3.1.2.1) is malformed.
fn params_ok(s: &str) -> bool {
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(';') else {
            return false;
        };
        let r = r.trim_start();
        let name_end = r.find(|c: char| !is_token_char(c)).unwrap_or(r.len());
        if name_end == 0 {
            return false;
        }
        rest = r[name_end..].trim_start();
        if let Some(v) = rest.strip_prefix('=') {
            let v = v.trim_start();
            let end = if v.starts_with('"') {
                match quoted_len(v) {
                    Some(n) => n,
                    None => return false,
                }
            } else {
                v.find(|c: char| !(is_token_char(c) || "[]:".contains(c)))
                    .unwrap_or(v.len())
            };
            if end == 0 {
                return false;
            }
            rest = v[end..].trim_start();
        }
    }
    true
}

/// The length of the quoted string `s` starts with, quotes included (`\` escapes any
/// character, §25.1 quoted-pair); `None` when it is not closed (RFC 4475 §3.1.2.6).
fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A URI as SIP carries it (RFC 3261 §19.1, RFC 3986): a scheme, then printable ASCII with no
/// space, `<`, `>` or `"`, and every `%` an escape. Any scheme: an unknown one is no syntax
/// error (RFC 4475 §3.3.2).
fn uri_ok(u: &str) -> bool {
    let Some((scheme, rest)) = u.split_once(':') else {
        return false;
    };
    let b = u.as_bytes();
    scheme
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
        && !rest.is_empty()
        && b.iter().enumerate().all(|(i, &c)| match c {
            b'%' => b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            b'<' | b'>' | b'"' => false,
            _ => c.is_ascii_graphic(),
        })
}

/// A Request-URI: a URI, and for sip/sips a host and no headers (§19.1.5 allows `?headers`
/// outside the Request-URI only, RFC 4475 §3.1.2.11). The user part may hold `?` and `;`.
fn request_uri_ok(u: &str) -> bool {
    if !uri_ok(u) {
        return false;
    }
    let lower = u.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"))
    else {
        return true;
    };
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    let hostport = host.split(';').next().unwrap_or("");
    !host.contains('?') && hostport_ok(hostport)
}

/// A From, To or Contact element (RFC 3261 §20.10, §20.20, §20.39): `[display-name] <uri>`
/// or a bare URI, then parameters. The display name is tokens or one quoted string (RFC 4475
/// §3.1.2.15); no space inside `<>` (§3.1.2.14); a bare URI holding `?` or `,` needed the
/// brackets (§20, RFC 4475 §3.1.2.13).
fn name_addr_ok(v: &str) -> bool {
    let v = v.trim();
    let bracketed = if v.starts_with('"') {
        match quoted_len(v) {
            Some(n) => v[n..].trim_start(),
            None => return false,
        }
    } else {
        match v.find('<') {
            Some(i) if v[..i].split_whitespace().all(is_token) => &v[i..],
            Some(_) => return false,
            None => {
                let (uri, params) = v.split_at(v.find(';').unwrap_or(v.len()));
                let uri = uri.trim_end();
                return uri_ok(uri) && !uri.contains(['?', ',']) && params_ok(params);
            }
        }
    };
    let Some((uri, params)) = bracketed.strip_prefix('<').and_then(|r| r.split_once('>')) else {
        return false;
    };
    uri_ok(uri) && params_ok(params)
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
}
