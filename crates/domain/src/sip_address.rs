//! Where a trunk sends its INVITEs. LiveKit wants `host[:port]`: not a SIP URI, so no `sip:`,
//! no user part (`@`), no URI parameters (`;transport=…`). Users paste all of those (seed 001
//! even tells them to type `sip:`), so `sip:` is accepted and dropped and the rest is refused
//! with a message saying where each piece belongs instead.

use crate::errors::FieldError;
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
        Self::domain(field, raw)
    }

    /// A domain name only (no IP literal): used for SIP realms such as Exotel's `sip_domain`.
    pub fn domain(field: &str, raw: &str) -> Result<Self, FieldError> {
        let rule = "must be a host name: letters, digits and '-' in dot-separated labels of 1 to 63 characters, 253 at most";
        let name = raw.strip_suffix('.').unwrap_or(raw);
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let all_numeric = name
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) || all_numeric {
            return Err(FieldError::new(
                field,
                format!("{rule}; got {}", quote(raw)),
            ));
        }
        Ok(Self::Domain(name.to_ascii_lowercase()))
    }
}

impl HostName {
    /// Whether this names the operator's own network rather than a provider on the internet:
    /// loopback, private (RFC 1918, RFC 4193), link-local (cloud metadata lives there),
    /// carrier-grade NAT, unspecified, broadcast, multicast, or `localhost`. A tenant must not
    /// be able to aim LiveKit's SIP traffic there. (A public name that resolves to such an
    /// address is beyond a syntactic check; the operator's egress rules are the backstop.)
    pub fn is_internal(&self) -> bool {
        fn v4(ip: &Ipv4Addr) -> bool {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        match self {
            Self::Ipv4(ip) => v4(ip),
            Self::Ipv6(ip) => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || ip.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
                    || ip.to_ipv4_mapped().is_some_and(|m| v4(&m))
            }
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
        ];
        for (raw, want) in cases {
            let got = SipAddress::parse("address", raw)
                .map(|a| a.to_string())
                .ok();
            assert_eq!(got.as_deref(), *want, "{raw:?}");
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
            ("localhost", true),
            ("pbx.localhost", true),
            ("203.0.113.7", false),
            ("8.8.8.8", false),
            ("100.128.0.1", false),
            ("2001:db8::1", false),
            ("example.pstn.twilio.com", false),
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
