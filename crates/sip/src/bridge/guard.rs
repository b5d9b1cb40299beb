//! Security at the bridge's edge, as decisions without I/O: which source may
//! talk to us at all, how fast, over how many TCP connections, and which user agents are
//! scanners. Everything refused is dropped silently: an answer would tell a scanner that
//! something is here, and cost us a send.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Source networks that get an answer (LiveKit's and the provider's). Empty: any source
    /// (labs and tests; `trunkline bridge` warns when started that way).
    pub allow: Vec<IpNet>,
    /// Sustained SIP messages per second per source IP, and the burst above it.
    pub rate_per_sec: f64,
    pub burst: f64,
    /// Open TCP connections per source.
    pub max_tcp_per_source: usize,
    /// Calls in progress per source: a source past it gets 503 for a new INVITE.
    pub max_calls_per_source: usize,
    /// Relay ports held by one source's calls (each call holds `media::PORTS_PER_CALL`).
    pub max_rtp_ports_per_source: usize,
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
            // LiveKit is one source for all its calls; a provider's SBC too. The caps keep
            // one source from taking the whole relay (2,500 calls by default).
            max_calls_per_source: 1_000,
            max_rtp_ports_per_source: 5_000,
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
    TooManyCalls,
    TooManyPorts,
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

/// Per-source state: token buckets, TCP connections, calls and relay ports. Sources are
/// forgotten once their bucket is full again and they hold nothing, so the maps stay as
/// small as the set of active sources.
///
/// A source is an IPv4 address, or an IPv6 /64: one host is routinely given a whole /64
/// (RFC 7934), so counting single IPv6 addresses would give it 2^64 allowances.
pub struct EdgeGuard {
    cfg: GuardConfig,
    buckets: HashMap<IpAddr, Bucket>,
    tcp: HashMap<IpAddr, usize>,
    calls: HashMap<IpAddr, usize>,
    ports: HashMap<IpAddr, usize>,
}

/// The source `ip` counts as: IPv4 (also when written IPv4-mapped), or its IPv6 /64.
pub fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn release(map: &mut HashMap<IpAddr, usize>, src: IpAddr, n: usize) {
    if let Some(held) = map.get_mut(&src) {
        *held = held.saturating_sub(n);
        if *held == 0 {
            map.remove(&src);
        }
    }
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
            calls: HashMap::new(),
            ports: HashMap::new(),
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
        let b = self.buckets.entry(source(src)).or_insert(Bucket {
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
        let n = self.tcp.entry(source(src)).or_insert(0);
        if *n >= self.cfg.max_tcp_per_source {
            return Verdict::Drop(Drop::TooManyConnections);
        }
        *n += 1;
        Verdict::Accept
    }

    pub fn tcp_closed(&mut self, src: IpAddr) {
        release(&mut self.tcp, source(src), 1);
    }

    /// A new call from `src` that will hold `ports` relay ports; on `Accept`, call
    /// [`EdgeGuard::call_ended`] and [`EdgeGuard::ports_released`] as it lets them go.
    pub fn call_started(&mut self, src: IpAddr, ports: usize) -> Verdict {
        let src = source(src);
        let calls = self.calls.get(&src).copied().unwrap_or(0);
        if calls >= self.cfg.max_calls_per_source {
            return Verdict::Drop(Drop::TooManyCalls);
        }
        let held = self.ports.get(&src).copied().unwrap_or(0);
        if held + ports > self.cfg.max_rtp_ports_per_source {
            return Verdict::Drop(Drop::TooManyPorts);
        }
        *self.calls.entry(src).or_insert(0) += 1;
        if ports > 0 {
            *self.ports.entry(src).or_insert(0) += ports;
        }
        Verdict::Accept
    }

    pub fn call_ended(&mut self, src: IpAddr) {
        release(&mut self.calls, source(src), 1);
    }

    pub fn ports_released(&mut self, src: IpAddr, ports: usize) {
        release(&mut self.ports, source(src), ports);
    }
}

/// The guard as the bridge's tasks share it.
pub type SharedGuard = Arc<Mutex<EdgeGuard>>;

/// The guard, even if a task panicked holding it (its counters stay consistent).
pub fn lock(g: &SharedGuard) -> MutexGuard<'_, EdgeGuard> {
    g.lock().unwrap_or_else(|p| p.into_inner())
}

/// A call's claim on its source's allowances (one call, its relay ports), given back when
/// dropped, whichever way the call ends.
pub struct CallHold {
    guard: SharedGuard,
    src: IpAddr,
    ports: usize,
}

impl CallHold {
    /// Claims a call holding `ports` relay ports for `src`, or says why not.
    pub fn claim(guard: &SharedGuard, src: IpAddr, ports: usize) -> Result<Self, Drop> {
        match lock(guard).call_started(src, ports) {
            Verdict::Accept => Ok(Self {
                guard: guard.clone(),
                src,
                ports,
            }),
            Verdict::Drop(why) => Err(why),
        }
    }

    /// The call's relay session is closed: its ports count no more.
    pub fn release_ports(&mut self) {
        if self.ports > 0 {
            lock(&self.guard).ports_released(self.src, self.ports);
            self.ports = 0;
        }
    }
}

impl std::ops::Drop for CallHold {
    fn drop(&mut self) {
        self.release_ports();
        lock(&self.guard).call_ended(self.src);
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
    fn calls_and_relay_ports_per_source_are_capped_and_released() {
        let mut g = EdgeGuard::new(GuardConfig {
            max_calls_per_source: 2,
            max_rtp_ports_per_source: 6,
            ..Default::default()
        });
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        assert_eq!(g.call_started(a, 4), Verdict::Accept);
        // 8 ports would pass the port cap: refused on ports, the call count untouched.
        assert_eq!(g.call_started(a, 4), Verdict::Drop(Drop::TooManyPorts));
        assert_eq!(g.call_started(a, 0), Verdict::Accept);
        assert_eq!(g.call_started(a, 0), Verdict::Drop(Drop::TooManyCalls));
        assert_eq!(g.call_started(b, 4), Verdict::Accept);
        g.ports_released(a, 4);
        assert_eq!(g.call_started(a, 4), Verdict::Drop(Drop::TooManyCalls));
        g.call_ended(a);
        assert_eq!(g.call_started(a, 4), Verdict::Accept);
        g.call_ended(a);
        g.call_ended(a);
        g.ports_released(a, 4);
        g.call_ended(b);
        g.ports_released(b, 4);
        assert!(g.calls.is_empty() && g.ports.is_empty());
    }

    #[test]
    fn an_ipv6_source_is_its_slash_64() {
        assert_eq!(source(ip("2001:db8:1:2:a:b:c:d")), ip("2001:db8:1:2::"));
        assert_eq!(source(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source(ip("192.0.2.7")), ip("192.0.2.7"));
        let mut g = EdgeGuard::new(GuardConfig {
            rate_per_sec: 1.0,
            burst: 2.0,
            max_tcp_per_source: 1,
            max_calls_per_source: 1,
            ..Default::default()
        });
        let now = Instant::now();
        // Addresses of one /64 share one allowance, whatever their last 64 bits.
        assert_eq!(g.message(ip("2001:db8::1"), OPTIONS, now), Verdict::Accept);
        assert_eq!(g.message(ip("2001:db8::2"), OPTIONS, now), Verdict::Accept);
        assert_eq!(
            g.message(ip("2001:db8::3"), OPTIONS, now),
            Verdict::Drop(Drop::RateLimited)
        );
        assert_eq!(
            g.message(ip("2001:db8:0:1::1"), OPTIONS, now),
            Verdict::Accept
        );
        assert_eq!(g.tcp_opened(ip("2001:db8::a")), Verdict::Accept);
        assert_eq!(
            g.tcp_opened(ip("2001:db8::b")),
            Verdict::Drop(Drop::TooManyConnections)
        );
        g.tcp_closed(ip("2001:db8::c"));
        assert_eq!(g.tcp_opened(ip("2001:db8::b")), Verdict::Accept);
        assert_eq!(g.call_started(ip("2001:db8::a"), 0), Verdict::Accept);
        assert_eq!(
            g.call_started(ip("2001:db8::ffff"), 0),
            Verdict::Drop(Drop::TooManyCalls)
        );
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
