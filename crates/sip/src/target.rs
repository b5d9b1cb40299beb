//! Which addresses the SIP edge may connect to. A trunk's host is a tenant's input: left
//! unchecked, a tenant could aim the probe or the bridge at the operator's own network
//! (`0x7f000001` resolves to 127.0.0.1). The check is on the resolved address, so a public
//! name pointing inside is refused too, and it is the domain's one notion of "internal".

use std::net::IpAddr;
use trunkline_domain::HostName;

/// Loopback, private, link-local and the other ranges the domain counts as internal.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => HostName::Ipv4(v4).is_internal(),
        IpAddr::V6(v6) => HostName::Ipv6(v6).is_internal(),
    }
}

/// Whether a connection to `ip` is allowed, `allow_internal` being the operator's
/// `TRUNKLINE_ALLOW_PRIVATE_TARGETS`.
pub fn allowed(ip: IpAddr, allow_internal: bool) -> bool {
    allow_internal || !is_internal(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_need_the_operators_consent() {
        for (ip, internal) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("169.254.0.1", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("fd00::1", true),
            ("203.0.113.7", false),
            ("2001:4860::8888", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(is_internal(ip), internal, "{ip}");
            assert_eq!(allowed(ip, false), !internal, "{ip}");
            assert!(allowed(ip, true), "{ip}");
        }
    }
}
