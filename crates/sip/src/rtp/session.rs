//! The pool handle (`RtpRelay`), one call's relay (`RelaySession`), and the per-socket task.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::latch::{rtcp_of, Latch, Verdict};
use super::pool::{BoundPair, Lease, Pool, PoolError};
use super::{FlowStats, RelayConfig, RelayError, RelayStats};

/// Leg indices: A faces LiveKit, B the provider.
const A: usize = 0;
const B: usize = 1;
/// Channel indices.
const RTP: usize = 0;
const RTCP: usize = 1;

/// The largest datagram relayed. G.711 at 20 ms is 172 bytes and nothing on these trunks
/// comes near an Ethernet MTU; a datagram that fills the buffer was truncated by the kernel
/// and is dropped rather than relayed cut.
const MAX_DATAGRAM: usize = 2048;

/// The port pool and its configuration. Clones share the pool.
#[derive(Clone)]
pub struct RtpRelay {
    inner: Arc<RelayInner>,
}

struct RelayInner {
    config: RelayConfig,
    /// Where the sockets are registered and the tasks run; None: the caller's runtime.
    runtime: Option<tokio::runtime::Handle>,
    pool: Arc<Pool>,
    sessions: AtomicUsize,
}

impl RtpRelay {
    /// Sessions run on the runtime that calls `open`.
    pub fn new(config: RelayConfig) -> Self {
        Self::build(config, None)
    }

    /// Sessions run on `runtime`, whoever calls `open`: e.g. a current-thread runtime on a
    /// thread of its own, so media never waits behind signalling or HTTP work and a packet's
    /// task is woken without a cross-thread hand-off (bench/sip.sh measures both).
    pub fn on_runtime(config: RelayConfig, runtime: tokio::runtime::Handle) -> Self {
        Self::build(config, Some(runtime))
    }

    fn build(config: RelayConfig, runtime: Option<tokio::runtime::Handle>) -> Self {
        let pool = Pool::new(config.bind_ip, config.port_min, config.port_max);
        Self {
            inner: Arc::new(RelayInner {
                config,
                runtime,
                pool,
                sessions: AtomicUsize::new(0),
            }),
        }
    }

    /// Allocates two RTP/RTCP port pairs (one per leg) and starts relaying. Err when the pool
    /// is exhausted or binding fails; whatever was taken is given back.
    pub async fn open(&self, call_id: &str) -> Result<RelaySession, RelayError> {
        let map = |e| match e {
            PoolError::Exhausted => RelayError::Exhausted,
            PoolError::Io(e) => RelayError::Io(e),
        };
        // Sockets register with the I/O driver of the runtime current at bind time.
        let entered = self.inner.runtime.as_ref().map(|rt| rt.enter());
        let a = self.inner.pool.bind_pair().map_err(map)?;
        let b = self.inner.pool.bind_pair().map_err(map)?;
        let ip = self.inner.config.bind_ip;
        let local = [
            SocketAddr::new(ip, a.lease.base()),
            SocketAddr::new(ip, b.lease.base()),
        ];
        let BoundPair {
            rtp: a_rtp,
            rtcp: a_rtcp,
            lease: a_lease,
        } = a;
        let BoundPair {
            rtp: b_rtp,
            rtcp: b_rtcp,
            lease: b_lease,
        } = b;
        let shared = Arc::new(Shared {
            call_id: call_id.to_owned(),
            sockets: [[a_rtp, b_rtp], [a_rtcp, b_rtcp]],
            latches: Default::default(),
            counters: Default::default(),
            peer_changes: AtomicU64::new(0),
            _leases: [a_lease, b_lease],
        });
        let tasks = [(RTP, A), (RTP, B), (RTCP, A), (RTCP, B)]
            .map(|(ch, side)| tokio::spawn(relay(shared.clone(), ch, side)).abort_handle());
        drop(entered);
        self.inner.sessions.fetch_add(1, Relaxed);
        tracing::debug!(call_id, a = %local[A], b = %local[B], "RTP relay opened");
        Ok(RelaySession {
            shared,
            local,
            tasks,
            rtp_timeout: self.inner.config.rtp_timeout,
            relay: self.inner.clone(),
        })
    }

    /// Sessions open (dropped sessions no longer count, even while their sockets close).
    pub fn in_use(&self) -> usize {
        self.inner.sessions.load(Relaxed)
    }

    /// How many sessions the pool holds when none is open.
    pub fn capacity(&self) -> usize {
        self.inner.pool.total() / 2
    }

    /// How many more sessions could be opened now.
    pub fn available(&self) -> usize {
        self.inner.pool.free() / 2
    }

    /// Resolves once every port is back in the pool: all sessions dropped and their sockets
    /// closed (the sockets close when the aborted tasks are gone, just after the drop). For
    /// shutdown, and for tests proving nothing leaks.
    pub async fn wait_idle(&self) {
        let total = self.inner.pool.total();
        let mut rx = self.inner.pool.subscribe();
        // The sender lives in the pool, which `self` keeps alive, so this cannot fail.
        let _ = rx.wait_for(|free| *free == total).await;
    }
}

/// One call's relay. Dropping it stops the tasks and returns the ports to the pool.
pub struct RelaySession {
    shared: Arc<Shared>,
    local: [SocketAddr; 2],
    tasks: [AbortHandle; 4],
    rtp_timeout: Duration,
    relay: Arc<RelayInner>,
}

impl Drop for RelaySession {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.relay.sessions.fetch_sub(1, Relaxed);
    }
}

impl RelaySession {
    /// RTP address the A side (LiveKit) must send to: the port for the SDP toward LiveKit.
    pub fn local_a(&self) -> SocketAddr {
        self.local[A]
    }

    /// RTP address the B side (the provider) must send to.
    pub fn local_b(&self) -> SocketAddr {
        self.local[B]
    }

    /// The peer A negotiated in its SDP (`c=` and `m=` port). Packets are accepted only from
    /// that IP; the first one latches the exact source port (symmetric RTP, RFC 4961), later
    /// packets from other sources are dropped and counted. Calling it again (re-INVITE,
    /// hold/resume) re-latches; `c=0.0.0.0` or port 0 stops the media toward A.
    pub fn set_peer_a(&self, addr: SocketAddr) {
        self.shared.set_peer(A, addr);
    }

    /// As `set_peer_a`, for the provider's SDP.
    pub fn set_peer_b(&self, addr: SocketAddr) {
        self.shared.set_peer(B, addr);
    }

    pub fn stats(&self) -> RelayStats {
        self.shared.stats()
    }

    /// A counter that moves with every RTP packet accepted from either peer and every
    /// `set_peer_*` (what `timed_out` samples).
    pub fn activity(&self) -> u64 {
        self.shared.activity()
    }

    /// How long both sides may be silent before the bridge ends the call.
    pub fn rtp_timeout(&self) -> Duration {
        self.rtp_timeout
    }

    /// Resolves when no RTP arrived from either side for `rtp_timeout` (the bridge then ends
    /// the call). The clock starts when this is first polled and restarts at every RTP packet
    /// accepted and every `set_peer_*`; so await it once the call is answered, not while it
    /// rings without early media. RTCP does not count. It never resolves early, and at most
    /// a quarter of `rtp_timeout` late (the counters are sampled, not timed per packet).
    pub async fn timed_out(&self) {
        let timeout = self.rtp_timeout;
        let step = (timeout / 8).max(Duration::from_millis(1));
        let mut seen = self.shared.activity();
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(step).await;
            let now = self.shared.activity();
            if now != seen {
                seen = now;
                since = Instant::now();
            } else if since.elapsed() >= timeout {
                return;
            }
        }
    }
}

/// What a session's four tasks share. Field order matters: the sockets close before the
/// leases give the ports back.
struct Shared {
    call_id: String,
    /// `[channel][leg]`.
    sockets: [[UdpSocket; 2]; 2],
    latches: [[Mutex<Latch>; 2]; 2],
    counters: [[Counters; 2]; 2],
    /// Bumped by `set_peer_*`: restarts the RTP timeout.
    peer_changes: AtomicU64,
    _leases: [Lease; 2],
}

impl Drop for Shared {
    fn drop(&mut self) {
        tracing::debug!(call_id = %self.call_id, stats = ?self.stats(), "RTP relay closed");
    }
}

/// One socket's counters, written only by its task. A cache line each, so the tasks of a
/// session on two cores do not share one.
#[derive(Default)]
#[repr(align(64))]
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
}

impl Shared {
    fn latch(&self, ch: usize, side: usize) -> std::sync::MutexGuard<'_, Latch> {
        // A Latch is updated by single assignments; a poisoned one is still consistent.
        self.latches[ch][side]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn set_peer(&self, side: usize, addr: SocketAddr) {
        self.latch(RTP, side).set_peer(addr);
        self.latch(RTCP, side).set_peer(rtcp_of(addr));
        self.peer_changes.fetch_add(1, Relaxed);
        tracing::debug!(call_id = %self.call_id, leg = leg_name(side), peer = %addr, "RTP peer set");
    }

    fn activity(&self) -> u64 {
        let c = &self.counters[RTP];
        c[A].accepted.load(Relaxed) + c[B].accepted.load(Relaxed) + self.peer_changes.load(Relaxed)
    }

    fn stats(&self) -> RelayStats {
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
}

fn leg_name(side: usize) -> &'static str {
    if side == A {
        "A"
    } else {
        "B"
    }
}

/// One socket's loop: receive on leg `side` of channel `ch`, decide with that leg's latch,
/// send from the other leg's socket to the other leg's peer. The buffer lives in the task,
/// so a packet costs no allocation.
async fn relay(shared: Arc<Shared>, ch: usize, side: usize) {
    let other = 1 - side;
    let from = &shared.sockets[ch][side];
    let to = &shared.sockets[ch][other];
    let counters = &shared.counters[ch][side];
    let mut buf = [0u8; MAX_DATAGRAM];
    loop {
        let (len, src) = match from.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                // UDP receive errors are per datagram (e.g. an ICMP error reported late).
                tracing::trace!(call_id = %shared.call_id, error = %e, "RTP recv");
                counters.other.fetch_add(1, Relaxed);
                tokio::task::yield_now().await;
                continue;
            }
        };
        let verdict = shared.latch(ch, side).on_packet(src);
        match verdict {
            Verdict::Accept => {}
            Verdict::Latched => {
                tracing::debug!(call_id = %shared.call_id, leg = leg_name(side), rtcp = ch == RTCP, %src, "RTP source latched");
            }
            Verdict::DropNoPeer => {
                counters.no_peer.fetch_add(1, Relaxed);
                continue;
            }
            Verdict::DropWrongSource => {
                counters.wrong_source.fetch_add(1, Relaxed);
                continue;
            }
        }
        counters.accepted.fetch_add(1, Relaxed);
        if len == buf.len() {
            counters.other.fetch_add(1, Relaxed);
            continue;
        }
        let Some(dest) = shared.latch(ch, other).destination() else {
            counters.no_peer.fetch_add(1, Relaxed);
            continue;
        };
        match to.send_to(&buf[..len], dest).await {
            Ok(_) => {
                counters.packets.fetch_add(1, Relaxed);
                counters.bytes.fetch_add(len as u64, Relaxed);
            }
            Err(e) => {
                tracing::trace!(call_id = %shared.call_id, error = %e, %dest, "RTP send");
                counters.other.fetch_add(1, Relaxed);
            }
        }
    }
}
