//! The port pool: even RTP ports with RTCP on RTP + 1 (RFC 3550 §11), handed out
//! least-recently-used first.
//!
//! Why LRU rather than lowest-first: a port released by one call keeps receiving that call's
//! late packets for a while (the peer has not yet processed the BYE, packets are in flight,
//! a provider keeps sending for seconds). Lowest-first hands the port straight to the next
//! call, which is the RTP cross-talk of the Python baseline. Released pairs go to the back of
//! the queue, so a port is reused only after every other free pair has been; with the default
//! 5,000 pairs and 1,000 calls that is thousands of allocations later. On top of that, a new
//! call accepts packets only from its own negotiated peer IP (see `latch`).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use std::net::UdpSocket;

use tokio::sync::watch;

/// Free RTP base ports, least recently released first. No I/O, so it is table-testable.
#[derive(Debug)]
pub(crate) struct PairQueue {
    free: VecDeque<u16>,
}

impl PairQueue {
    /// Every even port `p` with `min <= p` and `p + 1 <= max`, ascending.
    pub(crate) fn new(min: u16, max: u16) -> Self {
        // Port 0 would mean "any port" to bind.
        let min = min.max(2);
        let first = min.saturating_add(min % 2);
        let free = (u32::from(first)..u32::from(max))
            .step_by(2)
            .map(|p| p as u16)
            .collect();
        Self { free }
    }

    pub(crate) fn take(&mut self) -> Option<u16> {
        self.free.pop_front()
    }

    /// Back of the queue: the last to be handed out again.
    pub(crate) fn give_back(&mut self, base: u16) {
        self.free.push_back(base);
    }

    pub(crate) fn len(&self) -> usize {
        self.free.len()
    }
}

pub(crate) struct Pool {
    ip: IpAddr,
    queue: Mutex<PairQueue>,
    total: usize,
    /// Free pairs, for `RtpRelay::wait_idle`.
    free_tx: watch::Sender<usize>,
}

/// A bound RTP/RTCP pair. Field order matters: the sockets close before the lease returns
/// the ports, so the next call can bind them.
pub(crate) struct BoundPair {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
    pub(crate) lease: Lease,
}

/// A pair taken from the pool; dropping it gives the pair back.
pub(crate) struct Lease {
    pool: Arc<Pool>,
    base: u16,
}

impl Lease {
    pub(crate) fn base(&self) -> u16 {
        self.base
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.give_back(self.base);
    }
}

/// How many taken pairs may fail to bind (another process holds the port) before giving up.
const BIND_ATTEMPTS: usize = 32;

impl Pool {
    pub(crate) fn new(ip: IpAddr, min: u16, max: u16) -> Arc<Self> {
        let queue = PairQueue::new(min, max);
        let total = queue.len();
        Arc::new(Self {
            ip,
            queue: Mutex::new(queue),
            total,
            free_tx: watch::Sender::new(total),
        })
    }

    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn free(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<usize> {
        self.free_tx.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PairQueue> {
        // The queue stays consistent if a holder panicked (every operation is one call).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(self: &Arc<Self>) -> Option<Lease> {
        let mut q = self.lock();
        let base = q.take()?;
        self.free_tx.send_replace(q.len());
        Some(Lease {
            pool: self.clone(),
            base,
        })
    }

    fn give_back(&self, base: u16) {
        let mut q = self.lock();
        q.give_back(base);
        self.free_tx.send_replace(q.len());
    }

    /// Takes the least recently used pair and binds both sockets. A pair that some other
    /// process holds goes back to the end of the queue and the next one is tried.
    pub(crate) fn bind_pair(self: &Arc<Self>) -> Result<BoundPair, PoolError> {
        let mut last_err = None;
        // Each free pair at most once: a failed one goes to the back of the queue.
        let attempts = self.free().clamp(1, BIND_ATTEMPTS);
        for _ in 0..attempts {
            let Some(lease) = self.take() else {
                return Err(last_err.map_or(PoolError::Exhausted, PoolError::Io));
            };
            match self.bind_both(lease.base) {
                Ok((rtp, rtcp)) => return Ok(BoundPair { rtp, rtcp, lease }),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last_err = Some(e),
                Err(e) => return Err(PoolError::Io(e)),
            }
            // `lease` drops here, after the socket bound on the first port has closed.
        }
        Err(PoolError::Io(
            last_err.expect("at least one attempt failed"),
        ))
    }

    fn bind_both(&self, base: u16) -> std::io::Result<(UdpSocket, UdpSocket)> {
        let rtp = bind(SocketAddr::new(self.ip, base))?;
        let rtcp = bind(SocketAddr::new(self.ip, base + 1))?;
        Ok((rtp, rtcp))
    }
}

pub(crate) enum PoolError {
    Exhausted,
    Io(std::io::Error),
}

/// A non-blocking socket for a shard's epoll set (see `shard`); no await needed, so
/// `bind_pair` stays synchronous and holds no lock across a suspension.
fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(addr)?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_with_room_for_rtcp() {
        let rows: &[(u16, u16, &[u16])] = &[
            (40000, 40007, &[40000, 40002, 40004, 40006]),
            (40001, 40007, &[40002, 40004, 40006]),
            (40000, 40006, &[40000, 40002, 40004]),
            (40000, 40000, &[]),
            (40000, 40001, &[40000]),
            (65534, 65535, &[65534]),
            (65535, 65535, &[]),
            (0, 5, &[2, 4]),
        ];
        for (min, max, want) in rows {
            let q = PairQueue::new(*min, *max);
            assert_eq!(Vec::from(q.free.clone()), want.to_vec(), "{min}..={max}");
        }
        assert_eq!(PairQueue::new(40000, 49999).len(), 5000);
    }

    #[test]
    fn released_pairs_are_reused_last() {
        let mut q = PairQueue::new(40000, 40007);
        let first = q.take().unwrap();
        assert_eq!(first, 40000);
        q.give_back(first);
        // Every other free pair comes before the one just released.
        let order: Vec<u16> = std::iter::from_fn(|| q.take()).collect();
        assert_eq!(order, vec![40002, 40004, 40006, 40000]);
    }
}
