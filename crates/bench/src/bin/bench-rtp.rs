//! bench/sip.sh's RTP relay measurement. The relay runs in its own process (`bench-rtp relay`,
//! driven over stdin/stdout), so the CPU and RSS read from /proc are the relay's alone; this
//! process is the load generator:
//!
//! 1. reference: `--calls` G.711 calls, `--pps` packets/s of 172 bytes each way, sent socket to
//!    socket directly for `--ref-secs`;
//! 2. relay: the same calls, the same sockets, through the relay for `--secs`.
//!
//! Every packet carries its call, direction, phase and send time; the receiver checks the call
//! (cross-talk) and records send-to-receive latency. Added latency is the relay phase's
//! percentile minus the reference's. Calls are spread evenly over the 20 ms packet interval,
//! as independent calls are.

use clap::{Parser, Subcommand};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use trunkline_sip::rtp::{RelayConfig, RtpRelay};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
    /// Concurrent calls.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Seconds of load through the relay.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Seconds of the direct socket-to-socket reference.
    #[arg(long, default_value_t = 10)]
    ref_secs: u64,
    /// Packets per second per direction per call (20 ms G.711 frames: 50).
    #[arg(long, default_value_t = 50)]
    pps: u32,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
    /// Tokio worker threads of the relay process (0: a current-thread runtime). Default 2:
    /// `trunkline bridge` runs its relay on a multi-thread runtime, a worker per core; with
    /// one thread, every preemption of it stalls all calls at once (p99 ~20 ms here).
    #[arg(long, default_value_t = 2)]
    relay_threads: usize,
    /// Tokio worker threads of the load generator (0: a current-thread runtime).
    #[arg(long, default_value_t = 2)]
    gen_threads: usize,
    /// Load generator sockets per side, shared by the calls (round-robin).
    #[arg(long, default_value_t = 32)]
    gen_sockets: usize,
    /// Pin the relay process to these CPUs (a `taskset` list, e.g. `1`), as a media host
    /// would dedicate a core to its relay. Unset: the scheduler places it.
    #[arg(long)]
    relay_cpus: Option<String>,
    /// Pin the load generator to these CPUs (e.g. `0`).
    #[arg(long)]
    gen_cpus: Option<String>,
}

/// Sets the CPU affinity of every thread of `pid` (util-linux `taskset`).
fn pin(pid: u32, cpus: &str) {
    let ok = Command::new("taskset")
        .args(["-a", "-cp", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "taskset -a -cp {cpus} {pid} failed");
}

#[derive(Subcommand)]
enum Role {
    /// The relay process: reads `open N`, `peer I A B`, `sync`, `stats` lines on stdin.
    Relay {
        #[arg(long, default_value_t = 40000)]
        port_min: u16,
        #[arg(long, default_value_t = 49999)]
        port_max: u16,
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
}

const HEADER: usize = 12;
const PAYLOAD: usize = 160;
const PACKET: usize = HEADER + PAYLOAD;
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Latency histogram: 1 µs buckets up to 50 ms, then one overflow bucket.
const BUCKETS: usize = 50_000;
const WINDOWS: usize = 36_000;

fn main() {
    let args = Args::parse();
    match args.role {
        Some(Role::Relay {
            port_min,
            port_max,
            threads,
        }) => runtime(threads).block_on(relay_process(port_min, port_max)),
        None => runtime(args.gen_threads).block_on(generator(&args)),
    }
}

fn pinned(cpus: &Option<String>) -> String {
    cpus.as_ref()
        .map(|c| format!(", on CPU {c}"))
        .unwrap_or_default()
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    let mut b = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().expect("runtime")
}

// ---------------------------------------------------------------------------------------------
// The relay process.

async fn relay_process(port_min: u16, port_max: u16) {
    let relay = RtpRelay::new(RelayConfig {
        bind_ip: LOCAL,
        port_min,
        port_max,
        rtp_timeout: Duration::from_secs(300),
    });
    let mut sessions = Vec::new();
    let mut out = std::io::stdout().lock();
    // stdin is read on a thread of its own, so a current-thread runtime keeps relaying.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line.expect("stdin")).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["open", n] => {
                for i in 0..n.parse::<usize>().expect("count") {
                    let s = relay.open(&format!("bench-{i}")).await.expect("open");
                    writeln!(out, "{} {}", s.local_a(), s.local_b()).unwrap();
                    sessions.push(s);
                }
            }
            ["peer", i, a, b] => {
                let s = &sessions[i.parse::<usize>().expect("index")];
                s.set_peer_a(a.parse().expect("peer a"));
                s.set_peer_b(b.parse().expect("peer b"));
            }
            ["sync"] => writeln!(out, "ok").unwrap(),
            ["stats"] => {
                let (mut ab, mut ba, mut wrong, mut nopeer, mut other) = (0, 0, 0, 0, 0);
                for s in &sessions {
                    let st = s.stats();
                    ab += st.rtp_a_to_b.packets;
                    ba += st.rtp_b_to_a.packets;
                    wrong += st.dropped_wrong_source;
                    nopeer += st.dropped_no_peer;
                    other += st.dropped_other;
                }
                writeln!(out, "{ab} {ba} {wrong} {nopeer} {other} {}", relay.in_use()).unwrap();
            }
            _ => panic!("unknown command {line:?}"),
        }
        out.flush().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The load generator.

struct Phase {
    sent: AtomicU64,
    send_failed: AtomicU64,
    received: AtomicU64,
    cross_talk: AtomicU64,
    histogram: Vec<AtomicU64>,
    /// The worst latency (µs) in each 100 ms window since the start, to tell a stall from a
    /// steady delay.
    worst: Vec<AtomicU64>,
}

impl Phase {
    fn new() -> Self {
        Self {
            sent: AtomicU64::new(0),
            send_failed: AtomicU64::new(0),
            received: AtomicU64::new(0),
            cross_talk: AtomicU64::new(0),
            histogram: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            worst: (0..WINDOWS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The latency at quantile `q`, in µs.
    fn quantile(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self.histogram.iter().map(|c| c.load(Relaxed)).collect();
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

    fn loss_pct(&self) -> f64 {
        let sent = self.sent.load(Relaxed) as f64;
        100.0 * (sent - self.received.load(Relaxed) as f64) / sent.max(1.0)
    }
}

struct Shared {
    epoch: Instant,
    /// Which phase is sending (0 reference, 1 relay); senders stop when `running` clears.
    phase: AtomicU64,
    running: AtomicBool,
    phases: [Phase; 2],
}

/// One call: its index picks the load generator's sockets (`i % sockets`), and the relay
/// session's two RTP addresses.
struct Call {
    relay_a: SocketAddr,
    relay_b: SocketAddr,
}

/// The load generator's side: a few sockets per side, shared by the calls. The relay still has
/// its four sockets per call; sharing only keeps the generator's own cost (one task and one
/// wake-up per socket instead of per call) from crowding out the relay on two cores.
struct Ends {
    a: Vec<UdpSocket>,
    b: Vec<UdpSocket>,
    addr_a: Vec<SocketAddr>,
    addr_b: Vec<SocketAddr>,
    calls: Vec<Call>,
}

struct RelayChild {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl RelayChild {
    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("relay stdin");
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).expect("relay stdout");
        assert!(!s.is_empty(), "the relay process exited");
        s.trim().to_owned()
    }

    fn sync(&mut self) {
        self.send("sync");
        self.stdin.flush().unwrap();
        assert_eq!(self.line(), "ok");
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

async fn generator(args: &Args) {
    let port_min = 40000u16;
    let port_max = (u32::from(port_min) + 4 * args.calls as u32 + 999).min(65535) as u16;
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "relay",
            "--port-min",
            &port_min.to_string(),
            "--port-max",
            &port_max.to_string(),
            "--threads",
            &args.relay_threads.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the relay process");
    let mut relay = RelayChild {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
        child,
    };
    relay.sync();
    if let Some(cpus) = &args.relay_cpus {
        pin(relay.pid(), cpus);
    }
    if let Some(cpus) = &args.gen_cpus {
        pin(std::process::id(), cpus);
    }
    let rss_base = rss_kb(relay.pid());

    let n_sockets = args.gen_sockets.clamp(1, args.calls.max(1));
    let mut ends = Ends {
        a: Vec::new(),
        b: Vec::new(),
        addr_a: Vec::new(),
        addr_b: Vec::new(),
        calls: Vec::with_capacity(args.calls),
    };
    for _ in 0..n_sockets {
        let (a, b) = (
            UdpSocket::bind((LOCAL, 0)).await.unwrap(),
            UdpSocket::bind((LOCAL, 0)).await.unwrap(),
        );
        ends.addr_a.push(a.local_addr().unwrap());
        ends.addr_b.push(b.local_addr().unwrap());
        ends.a.push(a);
        ends.b.push(b);
    }
    relay.send(&format!("open {}", args.calls));
    relay.stdin.flush().unwrap();
    for i in 0..args.calls {
        let line = relay.line();
        let (ra, rb) = line.split_once(' ').expect("two addresses");
        let k = i % n_sockets;
        relay.send(&format!("peer {i} {} {}", ends.addr_a[k], ends.addr_b[k]));
        ends.calls.push(Call {
            relay_a: ra.parse().unwrap(),
            relay_b: rb.parse().unwrap(),
        });
    }
    relay.sync();
    let ends = Arc::new(ends);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        phase: AtomicU64::new(0),
        running: AtomicBool::new(false),
        phases: [Phase::new(), Phase::new()],
    });
    for k in 0..n_sockets {
        for side in 0..2 {
            tokio::spawn(receive(ends.clone(), shared.clone(), k, side));
        }
    }

    println!(
        "RTP relay: {} concurrent G.711 calls, {} packets/s of {PACKET} bytes each way per call; \
         relay in its own process (pid {}, {}{}), load generator with {} sockets per side ({}{})",
        args.calls,
        args.pps,
        relay.pid(),
        flavour(args.relay_threads),
        pinned(&args.relay_cpus),
        n_sockets,
        flavour(args.gen_threads),
        pinned(&args.gen_cpus),
    );
    run_phase(&ends, &shared, args, 0, args.ref_secs).await;
    let cpu0 = cpu_ticks(relay.pid());
    let own0 = cpu_ticks(std::process::id());
    let t0 = Instant::now();
    run_phase(&ends, &shared, args, 1, args.secs).await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(relay.pid()) - cpu0) as f64 / args.clk_tck as f64;
    let own = (cpu_ticks(std::process::id()) - own0) as f64 / args.clk_tck as f64;
    let rss_end = rss_kb(relay.pid());
    relay.send("stats");
    relay.stdin.flush().unwrap();
    let stats = relay.line();

    let (r, p) = (&shared.phases[0], &shared.phases[1]);
    let ms = |us: f64| us / 1000.0;
    println!(
        "  reference, socket to socket ({} s): {} packets sent, p50 {:.3} ms, p99 {:.3} ms, \
         p99.9 {:.3} ms, loss {:.3}%",
        args.ref_secs,
        r.sent.load(Relaxed),
        ms(r.quantile(0.5)),
        ms(r.quantile(0.99)),
        ms(r.quantile(0.999)),
        r.loss_pct()
    );
    println!(
        "  through the relay ({} s): {} packets sent, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, \
         loss {:.3}% ({} lost, {} send failures), cross-talk {}",
        args.secs,
        p.sent.load(Relaxed),
        ms(p.quantile(0.5)),
        ms(p.quantile(0.99)),
        ms(p.quantile(0.999)),
        p.loss_pct(),
        p.sent
            .load(Relaxed)
            .saturating_sub(p.received.load(Relaxed)),
        p.send_failed.load(Relaxed),
        p.cross_talk.load(Relaxed) + r.cross_talk.load(Relaxed),
    );
    if std::env::var_os("BENCH_RTP_STALLS").is_some() {
        for (name, ph) in [("reference", r), ("relay", p)] {
            let stalls: Vec<String> = ph
                .worst
                .iter()
                .enumerate()
                .filter(|(_, w)| w.load(Relaxed) > 2000)
                .map(|(i, w)| format!("{:.1}s:{}ms", i as f64 / 10.0, w.load(Relaxed) / 1000))
                .collect();
            println!("  {name} windows worse than 2 ms: {}", stalls.join(" "));
        }
    }
    let added50 = p.quantile(0.5) - r.quantile(0.5);
    let added99 = p.quantile(0.99) - r.quantile(0.99);
    println!(
        "  added latency: p50 {:.3} ms, p99 {:.3} ms (goal: p99 < 1 ms, no loss)",
        ms(added50),
        ms(added99)
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "  relay process: CPU {:.1}% of one core ({:.1}% of this machine's {} cores), \
         {:.3} ms CPU/s per call, {:.2} µs per packet; RSS {:.1} MB idle, {:.1} MB with {} calls, \
         {:.1} KB per call",
        100.0 * cpu / wall,
        100.0 * cpu / wall / cores() as f64,
        cores(),
        1000.0 * cpu / wall / args.calls as f64,
        1e6 * cpu / (p.received.load(Relaxed).max(1) as f64),
        mb(rss_base),
        mb(rss_end),
        args.calls,
        (rss_end.saturating_sub(rss_base)) as f64 / args.calls as f64
    );
    println!(
        "  load generator (this process): CPU {:.1}% of one core",
        100.0 * own / wall
    );
    println!("  relay counters (a→b b→a wrong-source no-peer other sessions): {stats}");
    let ok = added99 < 1000.0
        && p.loss_pct() == 0.0
        && p.send_failed.load(Relaxed) == 0
        && p.cross_talk.load(Relaxed) == 0;
    println!("  goal met: {}", if ok { "yes" } else { "NO" });
    drop(relay.stdin);
    let _ = relay.child.wait();
}

fn flavour(threads: usize) -> String {
    match threads {
        0 => "current-thread runtime".to_owned(),
        n => format!("{n} tokio workers"),
    }
}

/// Sends for `secs`, then waits for what is in flight (up to 1 s).
async fn run_phase(ends: &Arc<Ends>, shared: &Arc<Shared>, args: &Args, phase: u64, secs: u64) {
    shared.phase.store(phase, Relaxed);
    shared.running.store(true, Relaxed);
    // One sender per core; each owns every other call.
    let senders: Vec<_> = (0..cores())
        .map(|k| tokio::spawn(send(ends.clone(), shared.clone(), k, cores(), args.pps)))
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    shared.running.store(false, Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let ph = &shared.phases[phase as usize];
    let deadline = Instant::now() + Duration::from_secs(1);
    while ph.received.load(Relaxed) < ph.sent.load(Relaxed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A 1 ms tick; call `i` sends both ways on the ticks where `i % slots == tick % slots`, so
/// the calls are spread over the packet interval.
async fn send(ends: Arc<Ends>, shared: Arc<Shared>, k: usize, of: usize, pps: u32) {
    let slots = (1000 / pps.max(1)).max(1) as usize;
    let phase = shared.phase.load(Relaxed);
    let ph = &shared.phases[phase as usize];
    let n_sockets = ends.a.len();
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
        for i in (k..ends.calls.len())
            .step_by(of)
            .filter(|i| i % slots == slot)
        {
            let (c, s) = (&ends.calls[i], i % n_sockets);
            for side in 0..2 {
                let (from, to) = match (phase, side) {
                    (0, 0) => (&ends.a[s], ends.addr_b[s]),
                    (0, _) => (&ends.b[s], ends.addr_a[s]),
                    (_, 0) => (&ends.a[s], c.relay_a),
                    (_, _) => (&ends.b[s], c.relay_b),
                };
                let ssrc = (i as u32) | ((side as u32) << 31);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
                buf[HEADER] = phase as u8;
                let sent_ns = shared.epoch.elapsed().as_nanos() as u64;
                buf[HEADER + 1..HEADER + 9].copy_from_slice(&sent_ns.to_be_bytes());
                match from.try_send_to(&buf, to) {
                    Ok(_) => ph.sent.fetch_add(1, Relaxed),
                    Err(_) => ph.send_failed.fetch_add(1, Relaxed),
                };
            }
        }
    }
}

/// Receives on generator socket `k` of `side` (0: the A ends, which get what B ends sent).
/// Cross-talk check: the packet's SSRC names its call, which must be one of this socket's,
/// sent by the other side, and (through the relay) it must come from that call's own relay
/// socket; a packet relayed by another session would come from another port.
async fn receive(ends: Arc<Ends>, shared: Arc<Shared>, k: usize, side: usize) {
    let n_sockets = ends.a.len();
    let sock = if side == 0 { &ends.a[k] } else { &ends.b[k] };
    let mut buf = [0u8; 2048];
    loop {
        let Ok((len, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let now_ns = shared.epoch.elapsed().as_nanos() as u64;
        if len != PACKET {
            continue;
        }
        let phase = usize::from(buf[HEADER] & 1);
        let ph = &shared.phases[phase];
        let ssrc = u32::from_be_bytes(buf[8..12].try_into().unwrap());
        let (i, from_side) = ((ssrc & 0x7fff_ffff) as usize, (ssrc >> 31) as usize);
        let expected_from = ends.calls.get(i).map(|c| match (phase, side) {
            (0, 0) => ends.addr_b[k],
            (0, _) => ends.addr_a[k],
            (_, 0) => c.relay_a,
            (_, _) => c.relay_b,
        });
        if i % n_sockets != k || from_side == side || expected_from != Some(from) {
            ph.cross_talk.fetch_add(1, Relaxed);
            continue;
        }
        let sent_ns = u64::from_be_bytes(buf[HEADER + 1..HEADER + 9].try_into().unwrap());
        let us = (now_ns.saturating_sub(sent_ns) / 1000) as usize;
        ph.histogram[us.min(BUCKETS)].fetch_add(1, Relaxed);
        ph.worst[((now_ns / 100_000_000) as usize).min(WINDOWS - 1)].fetch_max(us as u64, Relaxed);
        ph.received.fetch_add(1, Relaxed);
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // The command name may hold spaces; the fields after it are split by single spaces.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
