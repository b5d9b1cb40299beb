//! The load generator: G.711-sized RTP packets both ways for every call, each carrying its
//! call, direction, phase and send time, and the receivers that check and time them.
//!
//! Phases run one after another on the same calls and sockets: the direct socket-to-socket
//! reference, then each relay. A few *canary* calls run socket to socket in every phase, on
//! sockets of their own: a 10 ms window in which a relay's packets and the canary's stalled
//! together is a stall of the machine (or of this generator); one in which only the relay's
//! did is the relay's.
//!
//! Latency is taken two ways: to the moment this generator read the packet (what a peer's
//! application would see, the generator's own delays included), and to the moment the kernel
//! queued it on the generator's socket (`rx`: the relay's or the sender's `sendto`, so the
//! generator's read delay is left out). Stalls are judged on the first.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use crate::relays::Legs;
use crate::rx::{enable_timestamps, realtime_ns, Rx, VLEN};

pub const HEADER: usize = 12;
pub const PAYLOAD: usize = 160;
pub const PACKET: usize = HEADER + PAYLOAD;
/// Latency histogram: 1 µs buckets up to 50 ms, then one overflow bucket.
pub const BUCKETS: usize = 50_000;
/// Stall windows are this long.
pub const WINDOW_NS: u64 = 10_000_000;

/// Phase numbers, carried in each packet.
pub const REFERENCE: usize = 0;
pub const CANARY: usize = 3;
pub const PHASES: usize = 4;
/// The relay of phase `p` (1 or 2) is `relays[p - 1]`.
pub fn relay_of(phase: usize) -> usize {
    phase - 1
}

pub struct Phase {
    pub sent: AtomicU64,
    pub send_failed: AtomicU64,
    pub received: AtomicU64,
    pub cross_talk: AtomicU64,
    /// Latency to the generator's read, 1 µs buckets.
    pub histogram: Vec<AtomicU64>,
    /// Latency to the kernel's arrival stamp on the generator's socket.
    pub at_socket: Vec<AtomicU64>,
    /// The worst latency (µs) in each 10 ms window since the epoch.
    pub worst: Vec<AtomicU64>,
}

impl Phase {
    fn new(windows: usize) -> Self {
        Self {
            sent: AtomicU64::new(0),
            send_failed: AtomicU64::new(0),
            received: AtomicU64::new(0),
            cross_talk: AtomicU64::new(0),
            histogram: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            at_socket: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            worst: (0..windows).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The latency (to the read) at quantile `q`, in µs.
    pub fn quantile(&self, q: f64) -> f64 {
        quantile(&self.histogram, q)
    }

    /// The latency to the socket at quantile `q`, in µs.
    pub fn quantile_at_socket(&self, q: f64) -> f64 {
        quantile(&self.at_socket, q)
    }

    pub fn lost(&self) -> u64 {
        self.sent
            .load(Relaxed)
            .saturating_sub(self.received.load(Relaxed))
    }

    pub fn loss_pct(&self) -> f64 {
        100.0 * self.lost() as f64 / (self.sent.load(Relaxed).max(1) as f64)
    }
}

fn quantile(histogram: &[AtomicU64], q: f64) -> f64 {
    let counts: Vec<u64> = histogram.iter().map(|c| c.load(Relaxed)).collect();
    let total: u64 = counts.iter().sum();
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (us, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return us as f64 + 0.5;
        }
    }
    BUCKETS as f64
}

pub struct Shared {
    /// CLOCK_REALTIME at the start, ns (packets carry realtime send stamps, the clock of the
    /// kernel's arrival stamps).
    pub epoch_ns: u64,
    /// Which phase is sending; senders stop when `running` clears.
    phase: AtomicUsize,
    running: AtomicBool,
    pub phases: [Phase; PHASES],
}

impl Shared {
    pub fn new(total_secs: u64) -> Arc<Self> {
        let windows = ((total_secs + 30) * 1_000_000_000 / WINDOW_NS) as usize;
        Arc::new(Self {
            epoch_ns: realtime_ns(),
            phase: AtomicUsize::new(REFERENCE),
            running: AtomicBool::new(false),
            phases: std::array::from_fn(|_| Phase::new(windows)),
        })
    }
}

/// The generator's sockets: a few per side, shared by the calls round-robin (the relays still
/// have their own ports per call; sharing keeps the generator's cost, a wake-up per socket,
/// from crowding out the relay on two cores), and one canary socket per side.
pub struct Ends {
    a: Vec<AsyncFd<UdpSocket>>,
    b: Vec<AsyncFd<UdpSocket>>,
    pub addr_a: Vec<SocketAddr>,
    pub addr_b: Vec<SocketAddr>,
    canary: [AsyncFd<UdpSocket>; 2],
    canary_addr: [SocketAddr; 2],
    canary_calls: usize,
    /// Per call, per relay: where its sides send.
    pub legs: Vec<Vec<Legs>>,
    calls: usize,
}

impl Ends {
    /// Binds on `ip` (IPv4) inside the runtime.
    pub fn bind(ip: std::net::IpAddr, calls: usize, sockets: usize, canary: usize) -> Self {
        let n = sockets.clamp(1, calls.max(1));
        let bind = || {
            let s = UdpSocket::bind((ip, 0)).expect("bind");
            s.set_nonblocking(true).unwrap();
            enable_timestamps(&s).expect("SO_TIMESTAMPNS");
            // SAFETY: the socket owns its fd, which nothing closes while the AsyncFd holds it.
            unsafe { AsyncFd::register(s) }.expect("register")
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..n {
            a.push(bind());
            b.push(bind());
        }
        let canary_socks = [bind(), bind()];
        let addr = |s: &AsyncFd<UdpSocket>| s.get_ref().local_addr().unwrap();
        Self {
            addr_a: a.iter().map(addr).collect(),
            addr_b: b.iter().map(addr).collect(),
            a,
            b,
            canary_addr: [addr(&canary_socks[0]), addr(&canary_socks[1])],
            canary: canary_socks,
            canary_calls: canary,
            legs: Vec::new(),
            calls,
        }
    }

    pub fn sockets(&self) -> usize {
        self.a.len()
    }

    /// Call `i`'s two ends, the peers a relay session is given.
    pub fn peers(&self) -> Vec<Legs> {
        (0..self.calls)
            .map(|i| {
                let s = i % self.sockets();
                Legs {
                    a: self.addr_a[s],
                    b: self.addr_b[s],
                }
            })
            .collect()
    }
}

/// Starts the receivers (they run until the runtime ends).
pub fn start_receivers(ends: &Arc<Ends>, shared: &Arc<Shared>) {
    for k in 0..ends.sockets() {
        for side in 0..2 {
            tokio::spawn(receive(ends.clone(), shared.clone(), Some(k), side));
        }
    }
    for side in 0..2 {
        tokio::spawn(receive(ends.clone(), shared.clone(), None, side));
    }
}

/// Sends `phase` for `secs`, then waits for what is in flight (up to 1 s).
pub async fn run_phase(ends: &Arc<Ends>, shared: &Arc<Shared>, pps: u32, phase: usize, secs: u64) {
    shared.phase.store(phase, Relaxed);
    shared.running.store(true, Relaxed);
    let senders: Vec<_> = (0..cores())
        .map(|k| tokio::spawn(send(ends.clone(), shared.clone(), k, cores(), pps)))
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    shared.running.store(false, Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    for ph in [phase, CANARY] {
        let ph = &shared.phases[ph];
        while ph.received.load(Relaxed) < ph.sent.load(Relaxed) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A 1 ms tick; call `i` sends both ways on the ticks where `i % slots == tick % slots`, so
/// the calls are spread over the packet interval as independent calls are. Sender `k` of
/// `of` owns every `of`-th call; sender 0 also sends the canary calls.
async fn send(ends: Arc<Ends>, shared: Arc<Shared>, k: usize, of: usize, pps: u32) {
    let slots = (1000 / pps.max(1)).max(1) as usize;
    let phase = shared.phase.load(Relaxed);
    let n_sockets = ends.sockets();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut seq: u16 = 0;
    let mut buf = [0u8; PACKET];
    buf[0] = 0x80; // RTP version 2, PT 0 (PCMU)
    buf[HEADER..].fill(0xff); // PCMU silence
    let mut n: usize = 0;
    while shared.running.load(Relaxed) {
        tick.tick().await;
        let slot = n % slots;
        if slot == 0 {
            seq = seq.wrapping_add(1);
        }
        n += 1;
        for i in (k..ends.calls).step_by(of).filter(|i| i % slots == slot) {
            let s = i % n_sockets;
            for side in 0..2 {
                let from = if side == 0 { &ends.a[s] } else { &ends.b[s] };
                let to = match (phase, side) {
                    (REFERENCE, 0) => ends.addr_b[s],
                    (REFERENCE, _) => ends.addr_a[s],
                    (p, 0) => ends.legs[relay_of(p)][i].a,
                    (p, _) => ends.legs[relay_of(p)][i].b,
                };
                stamp_and_send(&shared, phase, from, to, i, side, seq, &mut buf);
            }
        }
        if k == 0 {
            for j in
                (0..ends.canary_calls).filter(|j| (j * slots / ends.canary_calls.max(1)) == slot)
            {
                for side in 0..2 {
                    let to = ends.canary_addr[1 - side];
                    stamp_and_send(
                        &shared,
                        CANARY,
                        &ends.canary[side],
                        to,
                        j,
                        side,
                        seq,
                        &mut buf,
                    );
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn stamp_and_send(
    shared: &Shared,
    phase: usize,
    from: &AsyncFd<UdpSocket>,
    to: SocketAddr,
    call: usize,
    side: usize,
    seq: u16,
    buf: &mut [u8; PACKET],
) {
    let ssrc = (call as u32) | ((side as u32) << 31);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    buf[HEADER] = phase as u8;
    buf[HEADER + 1..HEADER + 9].copy_from_slice(&realtime_ns().to_be_bytes());
    let ph = &shared.phases[phase];
    // Non-blocking: a full send buffer is a send failure, counted, never a wait.
    match from.get_ref().send_to(buf, to) {
        Ok(_) => ph.sent.fetch_add(1, Relaxed),
        Err(_) => ph.send_failed.fetch_add(1, Relaxed),
    };
}

/// Receives on generator socket `k` of `side` (0: the A ends, which get what B ends sent), or
/// on the canary socket of `side` when `k` is None. Cross-talk check: the packet's SSRC names
/// its call, which must be one of this socket's, sent by the other side, and (through a
/// relay) it must come from that call's own relay port; a packet relayed by another session
/// would come from another port.
async fn receive(ends: Arc<Ends>, shared: Arc<Shared>, k: Option<usize>, side: usize) {
    let sock = match (k, side) {
        (None, _) => &ends.canary[side],
        (Some(k), 0) => &ends.a[k],
        (Some(k), _) => &ends.b[k],
    };
    let mut rx = Rx::new();
    loop {
        let Ok(mut ready) = sock.readable().await else {
            return;
        };
        // Edge-triggered: fewer than VLEN datagrams means the socket was drained, and the
        // next arrival wakes this task again.
        loop {
            match rx.recv(sock.get_ref()) {
                Ok(n) => {
                    let read_ns = realtime_ns();
                    for i in 0..n {
                        let (data, from, kernel_ns) = rx.get(i);
                        record(&ends, &shared, k, side, data, from, read_ns, kernel_ns);
                    }
                    if n < VLEN {
                        ready.clear_ready();
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    break;
                }
                Err(_) => continue,
            }
        }
    }
}

/// Checks one received packet and records its latencies.
#[allow(clippy::too_many_arguments)]
fn record(
    ends: &Ends,
    shared: &Shared,
    k: Option<usize>,
    side: usize,
    data: Option<&[u8]>,
    from: SocketAddr,
    read_ns: u64,
    kernel_ns: u64,
) {
    let Some(buf) = data.filter(|d| d.len() == PACKET) else {
        return;
    };
    let phase = usize::from(buf[HEADER]).min(PHASES - 1);
    let ph = &shared.phases[phase];
    let ssrc = u32::from_be_bytes(buf[8..12].try_into().unwrap());
    let (i, from_side) = ((ssrc & 0x7fff_ffff) as usize, (ssrc >> 31) as usize);
    let ok = match k {
        None => phase == CANARY && from == ends.canary_addr[1 - side],
        Some(k) => {
            let expected = match (phase, side) {
                (CANARY, _) => None,
                (REFERENCE, 0) => Some(ends.addr_b[k]),
                (REFERENCE, _) => Some(ends.addr_a[k]),
                (p, 0) => ends.legs[relay_of(p)].get(i).map(|l| l.a),
                (p, _) => ends.legs[relay_of(p)].get(i).map(|l| l.b),
            };
            i < ends.calls && i % ends.sockets() == k && expected == Some(from)
        }
    };
    if !ok || from_side == side {
        ph.cross_talk.fetch_add(1, Relaxed);
        return;
    }
    let sent_ns = u64::from_be_bytes(buf[HEADER + 1..HEADER + 9].try_into().unwrap());
    let us = (read_ns.saturating_sub(sent_ns) / 1000) as usize;
    ph.histogram[us.min(BUCKETS)].fetch_add(1, Relaxed);
    let at_socket = (kernel_ns.max(sent_ns) - sent_ns) / 1000;
    ph.at_socket[(at_socket as usize).min(BUCKETS)].fetch_add(1, Relaxed);
    let w = (sent_ns.saturating_sub(shared.epoch_ns) / WINDOW_NS) as usize;
    ph.worst[w.min(ph.worst.len() - 1)].fetch_max(us as u64, Relaxed);
    ph.received.fetch_add(1, Relaxed);
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
