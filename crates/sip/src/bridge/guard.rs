//! Security at the bridge's edge (issue 4 item 4), as decisions without I/O: which source may
//! talk to us at all, how fast, over how many TCP connections, and which user agents are
//! scanners. Everything refused is dropped silently: an answer would tell a scanner that
//! something is here, and cost us a send.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Source networks that get an answer (LiveKit's and the provider's). Empty: any source
    /// (labs and tests; `trunkline bridge` warns when started that way).
    pub allow: Vec<IpNet>,
    /// Sustained SIP messages per second per source IP, and the burst above it.
    pub rate_per_sec: f64,
    pub burst: f64,
    /// Open TCP connections per source IP.
    pub max_tcp_per_source: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            allow: vec![],
            // Per source, and LiveKit's SIP service (or a provider's SBC) is one source for
            // all its calls: about five messages per call arrive from it, so this admits some
            // 2,000 calls/s from one address. A flood beyond is dropped; sources outside the
            // allow-list never get this far.
            rate_per_sec: 10_000.0,
            burst: 20_000.0,
            max_tcp_per_source: 256,
        }
    }
}

/// Why a message or connection was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    NotAllowed,
    RateLimited,
    TooManyConnections,
    Scanner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop(Drop),
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-source state: token buckets and TCP connection counts. Sources are forgotten once
/// their bucket is full again, so the maps stay as small as the set of active sources.
pub struct EdgeGuard {
    cfg: GuardConfig,
    buckets: HashMap<IpAddr, Bucket>,
    tcp: HashMap<IpAddr, usize>,
}

/// User agents of SIP scanners and toll-fraud tools seen in the wild (SIPVicious and its
/// clones announce themselves); matched case-insensitively anywhere in the User-Agent.
const SCANNERS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipsak-scan",
    "sundayddr",
    "iWar",
    "sipptk",
    "VaxSIPUserAgent",
    "pplsip",
    "smap",
];

impl EdgeGuard {
    pub fn new(cfg: GuardConfig) -> Self {
        Self {
            cfg,
            buckets: HashMap::new(),
            tcp: HashMap::new(),
        }
    }

    fn allowed(&self, src: IpAddr) -> bool {
        // An IPv4 peer may appear as ::ffff:a.b.c.d on a dual-stack socket.
        let src = match src {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(src, IpAddr::V4),
            v4 => v4,
        };
        self.cfg.allow.is_empty() || self.cfg.allow.iter().any(|n| n.contains(&src))
    }

    /// One SIP message from `src` (UDP datagram or framed TCP message) with its bytes.
    pub fn message(&mut self, src: IpAddr, bytes: &[u8], now: Instant) -> Verdict {
        if !self.allowed(src) {
            return Verdict::Drop(Drop::NotAllowed);
        }
        if is_scanner(bytes) {
            return Verdict::Drop(Drop::Scanner);
        }
        let (rate, burst) = (self.cfg.rate_per_sec, self.cfg.burst);
        let b = self.buckets.entry(src).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens < 1.0 {
            return Verdict::Drop(Drop::RateLimited);
        }
        b.tokens -= 1.0;
        if self.buckets.len() > 10_000 {
            // Forget sources whose bucket has refilled: they are not limited anyway.
            self.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        Verdict::Accept
    }

    /// A TCP connection from `src` is being accepted; on `Accept`, call
    /// [`EdgeGuard::tcp_closed`] when it ends.
    pub fn tcp_opened(&mut self, src: IpAddr) -> Verdict {
        if !self.allowed(src) {
            return Verdict::Drop(Drop::NotAllowed);
        }
        let n = self.tcp.entry(src).or_insert(0);
        if *n >= self.cfg.max_tcp_per_source {
            return Verdict::Drop(Drop::TooManyConnections);
        }
        *n += 1;
        Verdict::Accept
    }

    pub fn tcp_closed(&mut self, src: IpAddr) {
        if let Some(n) = self.tcp.get_mut(&src) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.tcp.remove(&src);
            }
        }
    }
}

/// Whether the message's User-Agent names a known scanner. Only the header block is looked
/// at, and only as bytes: no parse is spent on what will be dropped.
pub fn is_scanner(bytes: &[u8]) -> bool {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    head.lines().any(|line| {
        let Some((name, value)) = line.split_once(':') else {
            return false;
        };
        let name = name.trim();
        (name.eq_ignore_ascii_case("user-agent") || name.eq_ignore_ascii_case("server"))
            && SCANNERS
                .iter()
                .any(|s| value.to_ascii_lowercase().contains(&s.to_ascii_lowercase()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const OPTIONS: &[u8] =
        b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\nUser-Agent: LiveKit\r\n\r\n";

    #[test]
    fn only_configured_networks_get_through() {
        let mut g = EdgeGuard::new(GuardConfig {
            allow: vec![
                "10.0.0.0/8".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
            ..Default::default()
        });
        let now = Instant::now();
        let table = [
            ("10.1.2.3", Verdict::Accept),
            ("::ffff:10.1.2.3", Verdict::Accept),
            ("2001:db8::1", Verdict::Accept),
            ("11.1.2.3", Verdict::Drop(Drop::NotAllowed)),
            ("127.0.0.1", Verdict::Drop(Drop::NotAllowed)),
            ("2001:db9::1", Verdict::Drop(Drop::NotAllowed)),
        ];
        for (src, want) in table {
            assert_eq!(g.message(ip(src), OPTIONS, now), want, "{src}");
        }
        assert_eq!(
            g.tcp_opened(ip("11.1.2.3")),
            Verdict::Drop(Drop::NotAllowed)
        );
        // An empty list admits any source.
        let mut open = EdgeGuard::new(GuardConfig::default());
        assert_eq!(
            open.message(ip("203.0.113.9"), OPTIONS, now),
            Verdict::Accept
        );
    }

    #[test]
    fn a_source_past_its_rate_is_dropped_then_refills() {
        let mut g = EdgeGuard::new(GuardConfig {
            rate_per_sec: 10.0,
            burst: 5.0,
            ..Default::default()
        });
        let t0 = Instant::now();
        let src = ip("198.51.100.7");
        for i in 0..5 {
            assert_eq!(g.message(src, OPTIONS, t0), Verdict::Accept, "burst {i}");
        }
        assert_eq!(
            g.message(src, OPTIONS, t0),
            Verdict::Drop(Drop::RateLimited)
        );
        // Another source is not affected.
        assert_eq!(g.message(ip("198.51.100.8"), OPTIONS, t0), Verdict::Accept);
        // 10/s: after 100 ms one more message is allowed, not two.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(g.message(src, OPTIONS, t1), Verdict::Accept);
        assert_eq!(
            g.message(src, OPTIONS, t1),
            Verdict::Drop(Drop::RateLimited)
        );
    }

    #[test]
    fn tcp_connections_per_source_are_capped_and_released() {
        let mut g = EdgeGuard::new(GuardConfig {
            max_tcp_per_source: 2,
            ..Default::default()
        });
        let src = ip("192.0.2.1");
        assert_eq!(g.tcp_opened(src), Verdict::Accept);
        assert_eq!(g.tcp_opened(src), Verdict::Accept);
        assert_eq!(g.tcp_opened(src), Verdict::Drop(Drop::TooManyConnections));
        assert_eq!(g.tcp_opened(ip("192.0.2.2")), Verdict::Accept);
        g.tcp_closed(src);
        assert_eq!(g.tcp_opened(src), Verdict::Accept);
    }

    #[test]
    fn scanners_are_recognised_by_user_agent() {
        let table: &[(&[u8], bool)] = &[
            (
                b"OPTIONS sip:100@x SIP/2.0\r\nUser-Agent: friendly-scanner\r\n\r\n",
                true,
            ),
            (
                b"REGISTER sip:x SIP/2.0\r\nuser-agent:  SIPVicious 0.3\r\n\r\n",
                true,
            ),
            (
                b"INVITE sip:x SIP/2.0\r\nUser-Agent: sipcli/v1.8\r\n\r\n",
                true,
            ),
            (
                b"INVITE sip:x SIP/2.0\r\nUser-Agent: VaxSIPUserAgent/3.1\r\n\r\n",
                true,
            ),
            (
                b"INVITE sip:x SIP/2.0\r\nUser-Agent: LiveKit\r\n\r\n",
                false,
            ),
            (
                b"INVITE sip:x SIP/2.0\r\n\r\nUser-Agent: friendly-scanner",
                false,
            ),
            (b"\xff\xfe garbage", false),
            (b"", false),
        ];
        for (bytes, want) in table {
            assert_eq!(
                is_scanner(bytes),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
