//! One call's relay state, shared by its `RelaySession` (which sets peers and reads counters)
//! and the shard that relays its packets: the four sockets, the latches and the counters, and
//! the per-packet work.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use super::batch::{Datagram, RecvBatch, VLEN};
use super::latch::{rtcp_of, Latch, Verdict};
use super::pool::Lease;
use super::{FlowStats, RelayStats};

/// Leg indices: A faces LiveKit, B the provider.
pub(super) const A: usize = 0;
pub(super) const B: usize = 1;
/// Channel indices.
pub(super) const RTP: usize = 0;
pub(super) const RTCP: usize = 1;

/// Field order matters: the sockets close before the leases give the ports back.
pub(super) struct Shared {
    pub(super) call_id: String,
    /// `[channel][leg]`, non-blocking, registered with the session's shard only.
    pub(super) sockets: [[UdpSocket; 2]; 2],
    /// `[channel][leg]`: one lock for the four, taken once per packet (by the shard) and by
    /// `set_peer` (a re-INVITE); it is never contended in steady state.
    latches: Mutex<[[Latch; 2]; 2]>,
    counters: [[Counters; 2]; 2],
    /// `[channel][leg]`: which relay thread, if any, is reading the socket (see
    /// `relay_claimed`).
    claims: [[AtomicU8; 2]; 2],
    /// Bumped by `set_peer`: restarts the RTP timeout.
    peer_changes: AtomicU64,
    _leases: [Lease; 2],
}

impl Drop for Shared {
    fn drop(&mut self) {
        tracing::debug!(call_id = %self.call_id, stats = ?self.stats(), "RTP relay closed");
    }
}

/// A socket's claim: nobody reads it, one thread does, or one does and another was told of
/// more packets meanwhile.
const IDLE: u8 = 0;
const READING: u8 = 1;
const AGAIN: u8 = 2;

/// One socket's counters, written only by whoever reads the socket (one shard task, or the
/// relay thread holding its claim).
#[derive(Default)]
struct Counters {
    /// Sent on to the other leg.
    packets: AtomicU64,
    bytes: AtomicU64,
    /// Accepted from the peer (RTP: what the timeout watches).
    accepted: AtomicU64,
    wrong_source: AtomicU64,
    no_peer: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    fn flow(&self) -> FlowStats {
        FlowStats {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
        }
    }

    fn bump(c: &AtomicU64) {
        // Only the owning shard writes, so a load and a store are enough (no locked RMW).
        c.store(c.load(Relaxed) + 1, Relaxed);
    }
}

impl Shared {
    pub(super) fn new(call_id: &str, sockets: [[UdpSocket; 2]; 2], leases: [Lease; 2]) -> Self {
        Self {
            call_id: call_id.to_owned(),
            sockets,
            latches: Default::default(),
            counters: Default::default(),
            claims: Default::default(),
            peer_changes: AtomicU64::new(0),
            _leases: leases,
        }
    }

    fn latches(&self) -> MutexGuard<'_, [[Latch; 2]; 2]> {
        // A Latch is updated by single assignments; a poisoned one is still consistent.
        self.latches.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn set_peer(&self, side: usize, addr: SocketAddr) {
        {
            let mut l = self.latches();
            l[RTP][side].set_peer(addr);
            l[RTCP][side].set_peer(rtcp_of(addr));
        }
        self.peer_changes.fetch_add(1, Relaxed);
        tracing::debug!(call_id = %self.call_id, leg = leg_name(side), peer = %addr, "RTP peer set");
    }

    pub(super) fn activity(&self) -> u64 {
        let c = &self.counters[RTP];
        c[A].accepted.load(Relaxed) + c[B].accepted.load(Relaxed) + self.peer_changes.load(Relaxed)
    }

    pub(super) fn stats(&self) -> RelayStats {
        let all = self.counters.iter().flatten();
        let sum = |f: fn(&Counters) -> &AtomicU64| all.clone().map(|c| f(c).load(Relaxed)).sum();
        RelayStats {
            rtp_a_to_b: self.counters[RTP][A].flow(),
            rtp_b_to_a: self.counters[RTP][B].flow(),
            rtcp_a_to_b: self.counters[RTCP][A].flow(),
            rtcp_b_to_a: self.counters[RTCP][B].flow(),
            dropped_wrong_source: sum(|c| &c.wrong_source),
            dropped_no_peer: sum(|c| &c.no_peer),
            dropped_other: sum(|c| &c.other),
        }
    }

    /// As `relay_ready`, for threads that may be told of the same socket at once: the first
    /// claims the socket and relays; one told meanwhile marks it to be read again and leaves,
    /// and the claimant reads again before letting go. So one thread at a time reads a
    /// socket (its packets stay in order, its counters have one writer), and no arrival is
    /// left unread.
    pub(super) fn relay_claimed(&self, ch: usize, side: usize, batch: &mut RecvBatch) {
        let claim = &self.claims[ch][side];
        let mut seen = claim.load(Ordering::Acquire);
        loop {
            let next = if seen == IDLE { READING } else { AGAIN };
            if seen == AGAIN {
                return;
            }
            match claim.compare_exchange(seen, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if next == AGAIN => return,
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        loop {
            self.relay_ready(ch, side, batch);
            match claim.compare_exchange(READING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                // AGAIN: another thread was told of a packet while this one read.
                Err(_) => claim.store(READING, Ordering::Release),
            }
        }
    }

    /// Socket `[ch][side]` is readable: relays everything queued on it, in order. The
    /// socket's registration is edge-triggered, so it is drained: a `recv` that returns fewer
    /// than `VLEN` datagrams found the queue empty, and the next arrival signals again.
    pub(super) fn relay_ready(&self, ch: usize, side: usize, batch: &mut RecvBatch) {
        let from = &self.sockets[ch][side];
        let counters = &self.counters[ch][side];
        // A receive error is a pending socket error (e.g. a late ICMP unreachable), reported
        // once; two in a row would be something else, and must not spin the shard.
        let mut errors = 0;
        loop {
            let n = match batch.recv(from) {
                Ok(n) => n,
                Err(e) => {
                    tracing::trace!(call_id = %self.call_id, error = %e, "RTP recv");
                    Counters::bump(&counters.other);
                    errors += 1;
                    if errors < 2 {
                        continue;
                    }
                    return;
                }
            };
            errors = 0;
            for i in 0..n {
                self.forward(ch, side, batch.get(i));
            }
            if n < VLEN {
                return;
            }
        }
    }

    /// One datagram received on leg `side`: decided by that leg's latch, sent from the other
    /// leg's socket to the other leg's peer, untouched.
    fn forward(&self, ch: usize, side: usize, d: Datagram<'_>) {
        let counters = &self.counters[ch][side];
        let other = 1 - side;
        let (verdict, dest) = {
            let mut l = self.latches();
            let verdict = match d.from {
                Some(src) => l[ch][side].on_packet(src),
                None => Verdict::DropWrongSource,
            };
            (verdict, l[ch][other].destination())
        };
        match verdict {
            Verdict::Accept => {}
            Verdict::Latched => {
                tracing::debug!(call_id = %self.call_id, leg = leg_name(side), rtcp = ch == RTCP, src = ?d.from, "RTP source latched");
            }
            Verdict::DropNoPeer => return Counters::bump(&counters.no_peer),
            Verdict::DropWrongSource => return Counters::bump(&counters.wrong_source),
        }
        Counters::bump(&counters.accepted);
        if d.truncated {
            return Counters::bump(&counters.other);
        }
        let Some(dest) = dest else {
            return Counters::bump(&counters.no_peer);
        };
        match self.sockets[ch][other].send_to(d.data, dest) {
            Ok(_) => {
                Counters::bump(&counters.packets);
                counters
                    .bytes
                    .store(counters.bytes.load(Relaxed) + d.data.len() as u64, Relaxed);
            }
            Err(e) => {
                tracing::trace!(call_id = %self.call_id, error = %e, %dest, "RTP send");
                Counters::bump(&counters.other);
            }
        }
    }
}

pub(super) fn leg_name(side: usize) -> &'static str {
    if side == A {
        "A"
    } else {
        "B"
    }
}
