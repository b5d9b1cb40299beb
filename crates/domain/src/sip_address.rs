//! Where a trunk sends its INVITEs. LiveKit wants `host[:port]`: not a SIP URI, so no `sip:`,
//! no user part (`@`), no URI parameters (`;transport=…`). Users paste all of those (seed 001
//! even tells them to type `sip:`), so `sip:` is accepted and dropped and the rest is refused
//! with a message saying where each piece belongs instead.

use crate::errors::FieldError;
use crate::internal;
use crate::number::quote;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A DNS host name (RFC 1123 labels) or an IP literal, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostName {
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl HostName {
    /// A DNS name, a dotted-quad IPv4 address (four decimal numbers, no leading zeros) or an
    /// IPv6 address. Every other numeric form is refused: resolvers (`inet_aton`, browsers'
    /// URL parsers) read `0x7f000001`, `0x7f.0.0.1`, `0177.0.0.1`, `127.1` and `2130706433`
    /// as 127.0.0.1, so a check on the text would pass what the connect then reaches.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if let Ok(v4) = raw.parse::<Ipv4Addr>() {
            return Ok(Self::Ipv4(v4));
        }
        if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return inner.parse::<Ipv6Addr>().map(Self::Ipv6).map_err(|_| {
                FieldError::new(
                    field,
                    format!("is not a valid IPv6 address: {}", quote(raw)),
                )
            });
        }
        if let Ok(v6) = raw.parse::<Ipv6Addr>() {
            return Ok(Self::Ipv6(v6));
        }
        if ends_in_a_number(raw) {
            return Err(FieldError::new(
                field,
                format!(
                    "is not a host name or a standard IP address: a name whose last label is a number (or 0x…) is read as an IPv4 address by resolvers (0x7f000001, 0177.0.0.1 and 127.1 all mean 127.0.0.1). \
                     Write an IPv4 address as four decimal numbers without leading zeros (e.g. 203.0.113.7), or give a DNS name (e.g. sip.example.com); got {}",
                    quote(raw)
                ),
            ));
        }
        Self::domain(field, raw)
    }

    /// A domain name only (no IP literal): used for SIP realms such as Exotel's `sip_domain`.
    pub fn domain(field: &str, raw: &str) -> Result<Self, FieldError> {
        let rule = "must be a host name: letters, digits and '-' in dot-separated labels of 1 to 63 characters, 253 at most, the last one not a number";
        let name = raw.strip_suffix('.').unwrap_or(raw);
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if name.is_empty()
            || name.len() > 253
            || !name.split('.').all(valid_label)
            || ends_in_a_number(name)
        {
            return Err(FieldError::new(
                field,
                format!("{rule}; got {}", quote(raw)),
            ));
        }
        Ok(Self::Domain(name.to_ascii_lowercase()))
    }
}

/// Whether a name's last label (after one trailing dot) is a number in any base a resolver
/// accepts: decimal, octal (leading 0) or hex (`0x`, even with no digits after it). Such a
/// name is read as an IPv4 address by `inet_aton` and by WHATWG URL parsing ("ends in a
/// number"), never looked up in DNS; no top-level domain is numeric (RFC 3696 §2).
fn ends_in_a_number(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let last = name.rsplit('.').next().unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

impl HostName {
    /// Whether this names the operator's own network rather than a provider on the internet
    /// (the ranges are in [`crate::internal`]), or `localhost`. A tenant must not be able to
    /// aim LiveKit's SIP traffic there. A DNS name that resolves to such an address (e.g.
    /// `127.0.0.1.nip.io`) is beyond a check of the text: whatever dials checks each resolved
    /// address with this same predicate before it connects.
    pub fn is_internal(&self) -> bool {
        match self {
            Self::Ipv4(ip) => internal::ipv4_is_internal(*ip),
            Self::Ipv6(ip) => internal::ipv6_is_internal(*ip),
            Self::Domain(d) => d == "localhost" || d.ends_with(".localhost"),
        }
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(d) => f.write_str(d),
            Self::Ipv4(ip) => write!(f, "{ip}"),
            Self::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipAddress {
    pub host: HostName,
    pub port: Option<u16>,
}

impl SipAddress {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let err = |why: &str| FieldError::new(field, format!("{why}; got {}", quote(raw)));
        if raw.is_empty() {
            return Err(FieldError::new(
                field,
                "must not be empty: give the provider's SIP host, e.g. example.pstn.twilio.com",
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("must not contain spaces"));
        }
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("sips:") {
            return Err(err(
                "must not start with 'sips:': give the host alone and set transport to \"tls\"",
            ));
        }
        let rest = if lower.starts_with("sip:") {
            &raw[4..]
        } else {
            raw
        };
        if rest.contains("://") {
            return Err(err("must be a SIP host, not a URL"));
        }
        if rest.contains('@') {
            return Err(err(
                "must be host[:port] without a user part ('@'): put the user name in 'username'",
            ));
        }
        if rest.contains(';') || rest.contains('?') {
            return Err(err("must be host[:port] without URI parameters (';' or '?'): set 'transport' instead of ';transport='"));
        }
        if rest.contains('/') {
            return Err(err("must be host[:port] without a path ('/')"));
        }
        let (host, port) = split_host_port(rest).map_err(&err)?;
        let host = HostName::parse(field, host)?;
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| err("port must be a number from 1 to 65535"))?,
            ),
        };
        Ok(Self { host, port })
    }
}

/// Splits `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 literal, or a bare host.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), &'static str> {
    if s.starts_with('[') {
        let end = s
            .find(']')
            .ok_or("has an unclosed '[' in an IPv6 address")?;
        let host = &s[..=end];
        return match &s[end + 1..] {
            "" => Ok((host, None)),
            tail => tail
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or("has unexpected text after the IPv6 address"),
        };
    }
    match s.matches(':').count() {
        0 => Ok((s, None)),
        1 => {
            let (h, p) = s.split_once(':').expect("one colon");
            Ok((h, Some(p)))
        }
        _ if s.parse::<Ipv6Addr>().is_ok() => Ok((s, None)),
        _ => Err("has too many ':' (write an IPv6 address with a port as [addr]:port)"),
    }
}

impl fmt::Display for SipAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_table() {
        // (input, normalized form or None when rejected)
        let cases: &[(&str, Option<&str>)] = &[
            ("example.pstn.twilio.com", Some("example.pstn.twilio.com")),
            ("Example.PSTN.Twilio.com", Some("example.pstn.twilio.com")),
            (
                "sip:example.pstn.twilio.com",
                Some("example.pstn.twilio.com"),
            ),
            (
                "SIP:example.pstn.twilio.com:5060",
                Some("example.pstn.twilio.com:5060"),
            ),
            ("sip.telnyx.com:5061", Some("sip.telnyx.com:5061")),
            ("203.0.113.7", Some("203.0.113.7")),
            ("203.0.113.7:5080", Some("203.0.113.7:5080")),
            ("[2001:db8::1]:5060", Some("[2001:db8::1]:5060")),
            ("[2001:db8::1]", Some("[2001:db8::1]")),
            ("2001:db8::1", Some("[2001:db8::1]")),
            ("localhost", Some("localhost")),
            ("pbx.example.com.", Some("pbx.example.com")),
            ("", None),
            ("sip:", None),
            ("sips:example.com", None),
            ("user@example.com", None),
            ("sip:user@example.com", None),
            ("example.com;transport=tcp", None),
            ("example.com?x=y", None),
            ("example.com/path", None),
            ("https://example.com", None),
            ("exa mple.com", None),
            ("example.com:0", None),
            ("example.com:65536", None),
            ("example.com:port", None),
            ("example.com:", None),
            ("-bad.example.com", None),
            ("bad-.example.com", None),
            ("a..b", None),
            ("under_score.example.com", None),
            ("[2001:db8::1", None),
            ("[2001:db8::1]x", None),
            ("[not-ip]:5060", None),
            ("1.2.3", None),
            ("999.1.1.1", None),
            ("127.0.0.1.", None),
            ("1e100.net", Some("1e100.net")),
            ("0x7f.example.com", Some("0x7f.example.com")),
            ("example.cafe", Some("example.cafe")),
            ("[::127.0.0.1]", Some("[::7f00:1]")),
            ("[64:ff9b::7f00:1]:5060", Some("[64:ff9b::7f00:1]:5060")),
        ];
        for (raw, want) in cases {
            let got = SipAddress::parse("address", raw)
                .map(|a| a.to_string())
                .ok();
            assert_eq!(got.as_deref(), *want, "{raw:?}");
        }
    }

    /// Numeric forms that `inet_aton`, WHATWG URL parsing or some resolvers read as an IPv4
    /// address (here all 127.0.0.1 or another internal address) are not host names.
    #[test]
    fn non_canonical_numeric_hosts_are_refused() {
        let forms = [
            "0x7f000001",
            "0X7F000001",
            "0x7f.0.0.1",
            "0x7f.0x0.0x0.0x1",
            "0177.0.0.1",
            "0177.0000.0000.0001",
            "127.1",
            "127.0.1",
            "2130706433",
            "017700000001",
            "0",
            "0x",
            "10.0.0.010",
            "127.000.000.001",
            "169.254.169.254.",
            "a.0x1",
            "foo.123",
            "internal.0177",
        ];
        for raw in forms {
            for result in [
                HostName::parse("trunk_config.address", raw),
                SipAddress::parse("trunk_config.address", raw).map(|a| a.host),
                SipAddress::parse("trunk_config.address", &format!("{raw}:5060")).map(|a| a.host),
                HostName::domain("trunk_config.sip_domain", raw),
            ] {
                let e = result.expect_err(raw);
                assert!(e.field.starts_with("trunk_config."), "{raw}: {e:?}");
                assert!(
                    e.message.contains(&format!("\"{raw}")),
                    "{raw}: {}",
                    e.message
                );
            }
            let e = HostName::parse("h", raw).unwrap_err();
            assert!(
                e.message.contains("four decimal numbers") && e.message.contains("DNS name"),
                "{raw}: {}",
                e.message
            );
        }
    }

    #[test]
    fn errors_say_where_the_piece_belongs() {
        let e = SipAddress::parse("trunk_config.address", "sip:alice@pbx.example.com").unwrap_err();
        assert_eq!(e.field, "trunk_config.address");
        assert!(e.message.contains("username"), "{}", e.message);
        let e = SipAddress::parse("a", "pbx.example.com;transport=tls").unwrap_err();
        assert!(e.message.contains("transport"), "{}", e.message);
    }

    #[test]
    fn internal_targets_table() {
        let cases = [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("255.255.255.255", true),
            ("224.0.0.1", true),
            ("::1", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("::ffff:10.0.0.1", true),
            ("[::127.0.0.1]", true),
            ("::ffff:127.0.0.1", true),
            ("[64:ff9b::127.0.0.1]", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b:1::1", true),
            ("fec0::1", true),
            ("198.18.0.1", true),
            ("198.19.1.1", true),
            ("240.0.0.1", true),
            ("192.0.0.8", true),
            ("localhost", true),
            ("pbx.localhost", true),
            ("203.0.113.7", false),
            ("8.8.8.8", false),
            ("100.128.0.1", false),
            ("2001:db8::1", false),
            ("64:ff9b::8.8.8.8", false),
            ("::ffff:8.8.8.8", false),
            ("example.pstn.twilio.com", false),
            // A name that resolves to loopback: caught when the name is resolved.
            ("127.0.0.1.nip.io", false),
        ];
        for (raw, internal) in cases {
            assert_eq!(
                HostName::parse("h", raw).unwrap().is_internal(),
                internal,
                "{raw}"
            );
        }
    }

    #[test]
    fn long_labels_are_rejected() {
        let label = "a".repeat(64);
        assert!(HostName::domain("d", &format!("{label}.com")).is_err());
        let long = format!("{}.com", ["abcdefghij"; 25].join("."));
        assert!(long.len() > 253);
        assert!(HostName::domain("d", &long).is_err());
    }
}
