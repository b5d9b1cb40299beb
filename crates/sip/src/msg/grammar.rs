//! The grammar behind `SipMsg::parse` (RFC 3261 §25, as RFC 4475's torture messages
//! exercise it): start lines, Via, host:port, parameters, URIs and name-addrs. Each check
//! answers only "well-formed or not"; what to do about it is the message module's business.
//! Nothing here looks back at that module: the start line and parameters are defined here.

/// The reason of a request in another SIP version: answered 505 rather than 400 (§8.2.2.1…
/// §21.5.6).
pub const VERSION_NOT_SUPPORTED: &str = "SIP version not supported";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
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

pub(super) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// The start line. A request line that is broken but begins with a method token still
/// makes a request (answered 400 when its Via is usable, RFC 4475 §3.1.2.7–§3.1.2.11), with
/// the reason it is broken; anything else is no SIP message.
pub(super) fn start_line(first: &str) -> Option<(Start, Option<&'static str>)> {
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
pub(super) fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A Via element's sent-protocol, sent-by and parameters (RFC 3261 §20.42), with the SWS the
/// grammar allows around `/` (`SIP / 2.0 / UDP host`, RFC 4475 §3.1.1.1).
pub(super) fn via_parts(v: &str) -> Option<(&str, &str, &str)> {
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
pub(super) fn via_usable(v: &str) -> bool {
    via_parts(v).is_some() && param(v, "branch").is_some_and(|b| !b.is_empty())
}

/// A Via element as the grammar has it: a host and port, then well-formed parameters.
pub(super) fn via_valid(v: &str) -> bool {
    via_parts(v).is_some_and(|(_, sent_by, params)| hostport_ok(sent_by) && params_ok(params))
}

/// `host [ ":" port ]`: a name or IPv4 address, or an IPv6 reference in brackets.
pub(super) fn hostport_ok(s: &str) -> bool {
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
pub(super) fn params_ok(s: &str) -> bool {
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
pub(super) fn quoted_len(s: &str) -> Option<usize> {
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
pub fn uri_ok(u: &str) -> bool {
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
pub fn request_uri_ok(u: &str) -> bool {
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
pub(super) fn name_addr_ok(v: &str) -> bool {
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
