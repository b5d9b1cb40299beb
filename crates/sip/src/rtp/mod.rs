//! The bridge's RTP relay: each call has two legs, A facing LiveKit and B facing the provider,
//! and packets received on one leg's socket are sent, untouched, out of the other leg's socket.
//! Nothing is decoded or transcoded (PCMU/PCMA and telephone-event pass as bytes), and a packet
//! costs no allocation.
//!
//! Per call: two RTP/RTCP port pairs from a pool (`pool`), four sockets, and per socket a
//! `Latch` deciding what is accepted and where the other side's packets go (`latch`, symmetric
//! RTP, RFC 4961). RTCP (RTP port + 1) is relayed the same way with its own latches.
//!
//! The relay's own threads (one per core) wait on one epoll set holding every session's
//! sockets, as rtpengine's pollers do (`threads`); or, with `RtpRelay::on_runtime`, shards of
//! the sessions run as tasks on a tokio runtime (`shard`). Either way a wake-up serves every
//! socket found readable, each with one `recvmmsg` (`batch`) and a `sendto` per packet
//! (`shared`), and no packet waits for a task of its own to be scheduled.
//!
//! Every path releases everything: dropping a `RelaySession` takes it out of its shard (after a
//! pass in progress), its sockets close, and only then do the ports return to the pool (to its
//! back, see `pool` for why).

mod batch;
mod latch;
mod pool;
mod session;
mod shard;
mod shared;
mod slots;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod thread_tests;
mod threads;
mod totals;

pub use session::{RelaySession, RtpRelay};

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Where and how the relay binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The address the relay's sockets bind to. With 0.0.0.0 the bridge writes its public
    /// address into each SDP `c=` line; `RelaySession::local_a`/`local_b` give the ports.
    pub bind_ip: IpAddr,
    /// Lowest and highest port the pool uses. RTP ports are even, RTCP is RTP + 1, so the
    /// range holds `(port_max - port_min + 1) / 2` pairs and half as many calls.
    pub port_min: u16,
    pub port_max: u16,
    /// How long both legs may stay silent before `RelaySession::timed_out` resolves.
    pub rtp_timeout: Duration,
}

impl Default for RelayConfig {
    /// 0.0.0.0, ports 40000–49999 (2,500 calls), 30 s. The range sits above LiveKit SIP's
    /// default RTP range (10000–40000), so both can run on one host.
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_min: 40000,
            port_max: 49999,
            rtp_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Every port pair is in use: the bridge answers the call 503.
    #[error("RTP port pool exhausted")]
    Exhausted,
    #[error("RTP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Packets and bytes relayed in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
}

/// A session's counters so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// RTP received from A (LiveKit) and sent to B (the provider).
    pub rtp_a_to_b: FlowStats,
    pub rtp_b_to_a: FlowStats,
    pub rtcp_a_to_b: FlowStats,
    pub rtcp_b_to_a: FlowStats,
    /// Packets (RTP or RTCP, either leg) from a source other than the negotiated peer IP, or
    /// from another port once latched.
    pub dropped_wrong_source: u64,
    /// Packets that arrived before the sending side's peer was known, or with nowhere to go
    /// (the other side's peer unknown, or on hold with `c=0.0.0.0`).
    pub dropped_no_peer: u64,
    /// Oversized (truncated) packets and failed sends.
    pub dropped_other: u64,
}
