//! The pool handle (`RtpRelay`) and one call's relay (`RelaySession`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::pool::{BoundPair, Pool, PoolError};
use super::shard::Shard;
use super::shared::{Shared, A, B};
use super::slots::Membership;
use super::threads::Threads;
use super::totals::Totals;
use super::{RelayConfig, RelayError, RelayStats};

/// The port pool and its configuration. Clones share the pool.
#[derive(Clone)]
pub struct RtpRelay {
    inner: Arc<RelayInner>,
}

struct RelayInner {
    config: RelayConfig,
    host: Host,
    pool: Arc<Pool>,
    sessions: AtomicUsize,
    /// Counters of every session, open and closed, for metrics (see `totals`).
    totals: Totals,
    /// Started at the first `open`; stopped with the last clone and session.
    running: Mutex<Option<Running>>,
    next_shard: AtomicUsize,
}

/// Where packets are relayed.
enum Host {
    /// Threads of the relay's own, this many.
    Threads(usize),
    /// Shards on a tokio runtime, one per worker.
    Runtime(tokio::runtime::Handle),
}

enum Running {
    Threads(Threads),
    Shards(Vec<Shard>),
}

impl RtpRelay {
    /// Packets are relayed by threads of the relay's own, one per core (see `threads`):
    /// started at the first `open`, stopped when the relay and its sessions are dropped.
    pub fn new(config: RelayConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_threads(config, cores)
    }

    /// As `new`, with `threads` relay threads (at least one).
    pub fn with_threads(config: RelayConfig, threads: usize) -> Self {
        Self::build(config, Host::Threads(threads.max(1)))
    }

    /// Packets are relayed by tasks on `runtime`, one shard of the sessions per worker (see
    /// `shard`), whoever calls `open`: for a runtime given to media, or tests on a paused
    /// clock.
    pub fn on_runtime(config: RelayConfig, runtime: tokio::runtime::Handle) -> Self {
        Self::build(config, Host::Runtime(runtime))
    }

    fn build(config: RelayConfig, host: Host) -> Self {
        let pool = Pool::new(config.bind_ip, config.port_min, config.port_max);
        Self {
            inner: Arc::new(RelayInner {
                config,
                host,
                pool,
                sessions: AtomicUsize::new(0),
                totals: Totals::default(),
                running: Mutex::new(None),
                next_shard: AtomicUsize::new(0),
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
        let shared = Arc::new(Shared::new(
            call_id,
            [[a_rtp, b_rtp], [a_rtcp, b_rtcp]],
            [a_lease, b_lease],
        ));
        let membership = self.inner.join_shard(&shared)?;
        self.inner.sessions.fetch_add(1, Relaxed);
        self.inner.totals.opened(&shared);
        tracing::debug!(call_id, a = %local[A], b = %local[B], "RTP relay opened");
        Ok(RelaySession {
            membership: Some(membership),
            shared,
            local,
            rtp_timeout: self.inner.config.rtp_timeout,
            relay: self.inner.clone(),
        })
    }

    /// Sessions open (dropped sessions no longer count).
    pub fn in_use(&self) -> usize {
        self.inner.sessions.load(Relaxed)
    }

    /// How many sessions the pool holds when none is open.
    pub fn capacity(&self) -> usize {
        self.inner.pool.total() / 2
    }

    /// Packets relayed and dropped by every session so far, open or closed: read at each
    /// metrics scrape, off the packet path (the relay threads only ever touch their own
    /// session's atomics).
    pub fn totals(&self) -> RelayStats {
        self.inner.totals.sum()
    }

    /// UDP ports of the pool (RTP and RTCP): (in use, free).
    pub fn ports(&self) -> (usize, usize) {
        let free = self.inner.pool.free();
        (2 * (self.inner.pool.total() - free), 2 * free)
    }

    /// How many more sessions could be opened now.
    pub fn available(&self) -> usize {
        self.inner.pool.free() / 2
    }

    /// Resolves once every port is back in the pool: all sessions dropped and their sockets
    /// closed. For shutdown, and for tests proving nothing leaks.
    pub async fn wait_idle(&self) {
        let total = self.inner.pool.total();
        let mut rx = self.inner.pool.subscribe();
        // The sender lives in the pool, which `self` keeps alive, so this cannot fail.
        let _ = rx.wait_for(|free| *free == total).await;
    }
}

impl RelayInner {
    /// Hands a session to the threads, or to the next shard round-robin; starts them first
    /// if this is the first session.
    fn join_shard(&self, shared: &Arc<Shared>) -> std::io::Result<Membership> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.is_none() {
            *running = Some(match &self.host {
                Host::Threads(n) => Running::Threads(Threads::start(*n)?),
                Host::Runtime(rt) => {
                    // The shards' epoll sets register with this runtime's I/O driver.
                    let _entered = rt.enter();
                    let workers = rt.metrics().num_workers().max(1);
                    Running::Shards(
                        (0..workers)
                            .map(|_| Shard::start())
                            .collect::<Result<_, _>>()?,
                    )
                }
            });
        }
        match running.as_ref().expect("started above") {
            Running::Threads(t) => t.add(shared),
            Running::Shards(shards) => {
                let k = self.next_shard.fetch_add(1, Relaxed) % shards.len();
                shards[k].add(shared)
            }
        }
    }
}

/// One call's relay. Dropping it stops relaying and returns the ports to the pool.
pub struct RelaySession {
    /// Dropped first: the shard lets go of the sockets before `shared` closes them.
    membership: Option<Membership>,
    shared: Arc<Shared>,
    local: [SocketAddr; 2],
    rtp_timeout: Duration,
    relay: Arc<RelayInner>,
}

impl Drop for RelaySession {
    fn drop(&mut self) {
        self.membership.take();
        // After the shard let go: no packet moves the session's counters any more.
        self.relay.totals.closed(&self.shared);
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
