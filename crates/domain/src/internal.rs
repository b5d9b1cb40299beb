//! Which IP addresses belong to the operator's own network (or to nobody) rather than to a
//! provider on the internet. A tenant must not be able to aim trunkline's or LiveKit's SIP
//! traffic, or a webhook, at them: this is the SSRF boundary, checked on the literal a tenant
//! gives and again on every address a name resolves to before anything dials it.
//!
//! The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)
//! are deliberately *not* internal: they are routed nowhere, so a target there reaches
//! nothing, and they are the ranges RFC 5737 and RFC 3849 set aside for examples, which is how
//! the README and the tests write a public provider.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is internal: see [`ipv4_is_internal`] and [`ipv6_is_internal`].
pub fn ip_is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => ipv4_is_internal(v4),
        IpAddr::V6(v6) => ipv6_is_internal(v6),
    }
}

/// IPv4 ranges that are never a provider on the internet (IANA special-purpose registry).
pub fn ipv4_is_internal(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", 0.0.0.0/8 (RFC 791); Linux connects 0.0.0.0 to loopback
        || a == 10 // private (RFC 1918)
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64.0.0/10 (RFC 6598)
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local (RFC 3927): cloud metadata services live here
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24 (RFC 6890)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18.0.0/15 (RFC 2544)
        || a >= 224 // multicast 224/4, reserved 240/4 (RFC 1112), broadcast
}

/// IPv6 ranges that are never a provider on the internet, and the ranges that embed an IPv4
/// address a host or a translator would end up connecting to (judged as that IPv4 address).
pub fn ipv6_is_internal(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = || {
        Ipv4Addr::new(
            ip.octets()[12],
            ip.octets()[13],
            ip.octets()[14],
            ip.octets()[15],
        )
    };
    match s {
        // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1): no
        // provider uses them, and stacks differ on where a connect to them goes.
        [0, 0, 0, 0, 0, 0, _, _] => true,
        // IPv4-mapped ::ffff:a.b.c.d (RFC 4291 §2.5.5.2): a dual-stack socket connects to the
        // IPv4 address itself.
        [0, 0, 0, 0, 0, 0xffff, _, _] => ipv4_is_internal(embedded()),
        // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765 §2.1), used by stateless translators.
        [0, 0, 0, 0, 0xffff, 0, _, _] => ipv4_is_internal(embedded()),
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1): the translator connects to the
        // last 32 bits as IPv4.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => ipv4_is_internal(embedded()),
        // NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215): a translator of the operator's own
        // network, and the IPv4 address sits at a position set by its prefix length (RFC 6052
        // §2.2), which cannot be known from here. Refused whole.
        [0x64, 0xff9b, 1, ..] => true,
        // 6to4 2002:a.b.c.d::/48 (RFC 3056): a relay delivers to the IPv4 address in bits 16–47.
        [0x2002, hi, lo, ..] => {
            ipv4_is_internal(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
        }
        // Discard-only 100::/64 (RFC 6666).
        [0x100, 0, 0, 0, ..] => true,
        [first, ..] => {
            (first & 0xfe00) == 0xfc00 // unique local fc00::/7 (RFC 4193)
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (RFC 3879: deprecated, still routed inside some sites)
                || (first & 0xff00) == 0xff00 // multicast
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_table() {
        let cases = [
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("10.0.0.1", true),
            ("100.64.0.1", true),
            ("100.127.255.255", true),
            ("100.63.255.255", false),
            ("100.128.0.1", false),
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("169.254.169.254", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("172.15.255.255", false),
            ("172.32.0.1", false),
            ("192.0.0.8", true),
            ("192.0.0.170", true),
            ("192.0.1.1", false),
            ("192.168.1.1", true),
            ("198.18.0.1", true),
            ("198.19.255.255", true),
            ("198.17.255.255", false),
            ("198.20.0.1", false),
            ("224.0.0.1", true),
            ("239.255.255.250", true),
            ("240.0.0.1", true),
            ("255.255.255.254", true),
            ("255.255.255.255", true),
            ("8.8.8.8", false),
            ("1.1.1.1", false),
            ("54.172.60.1", false),
            // Documentation ranges: routed nowhere, and the examples' public addresses.
            ("192.0.2.1", false),
            ("198.51.100.7", false),
            ("203.0.113.7", false),
        ];
        for (raw, want) in cases {
            assert_eq!(ipv4_is_internal(raw.parse().unwrap()), want, "{raw}");
        }
    }

    #[test]
    fn ipv6_table() {
        let cases = [
            ("::", true),
            ("::1", true),
            // IPv4-compatible, whatever the embedded address.
            ("::127.0.0.1", true),
            ("::8.8.8.8", true),
            // IPv4-mapped and IPv4-translated: judged by the embedded address.
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.1", true),
            ("::ffff:169.254.169.254", true),
            ("::ffff:8.8.8.8", false),
            ("::ffff:0:127.0.0.1", true),
            ("::ffff:0:8.8.8.8", false),
            // NAT64, well-known prefix: judged by the embedded address.
            ("64:ff9b::127.0.0.1", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::192.168.0.1", true),
            ("64:ff9b::8.8.8.8", false),
            // NAT64, local-use prefix: the operator's translator.
            ("64:ff9b:1::8.8.8.8", true),
            ("64:ff9b:1:ffff::1", true),
            ("64:ff9b:2::1", false),
            // 6to4: the embedded IPv4 address.
            ("2002:7f00:1::1", true),
            ("2002:a00:1::1", true),
            ("2002:808:808::1", false),
            ("100::1", true),
            ("fc00::1", true),
            ("fd12:3456::1", true),
            ("fe80::1", true),
            ("febf::1", true),
            ("fec0::1", true),
            ("feff::1", true),
            ("ff02::1", true),
            ("ff0e::1", true),
            ("2001:4860:4860::8888", false),
            ("2600::1", false),
            ("2001:db8::1", false),
        ];
        for (raw, want) in cases {
            assert_eq!(ipv6_is_internal(raw.parse().unwrap()), want, "{raw}");
        }
    }
}
