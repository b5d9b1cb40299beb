//! bench/sip.sh's RTP relay measurement: trunkline's relay and rtpengine (userspace) under the
//! same load, in one run, each in its own process so that the CPU and RSS read from /proc are
//! its own. This process is the load generator:
//!
//! 1. reference: `--calls` G.711 calls, `--pps` packets/s of 172 bytes each way, sent socket to
//!    socket directly for `--ref-secs`;
//! 2. trunkline: the same calls, the same sockets, through trunkline's relay for `--secs`;
//! 3. rtpengine: the same through rtpengine, set up over ng (offer/answer) as Kamailio does.
//!
//! `--rounds N` repeats 2 and 3 in turn, so drift in the machine's load falls on both.
//! Every packet carries its call, direction, phase and send time; the receiver checks the call
//! (cross-talk) and records send-to-receive latency. Added latency is a relay's percentile
//! minus the reference's. Calls are spread evenly over the 20 ms packet interval, as
//! independent calls are.

mod bencode;
mod callgrind;
mod kernel_work;
mod load;
mod ng;
mod relays;
mod report;
mod rx;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};

use kernel_work::{Counting, KernelWork};
use load::{Ends, Shared, CANARY, PACKET, REFERENCE};
use relays::{Hosting, RtpEngine, TrunklineRelay};
use report::RelayFigures;

/// A flag given twice (bench/sip.sh's defaults, then the caller's) takes the last value.
#[derive(Parser)]
#[command(args_override_self = true)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
    /// Concurrent calls.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Seconds of load through each relay (per round).
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Seconds of the direct socket-to-socket reference.
    #[arg(long, default_value_t = 10)]
    ref_secs: u64,
    /// Times the two relays are measured in turn (their figures add up over the rounds).
    #[arg(long, default_value_t = 1)]
    rounds: u64,
    /// Packets per second per direction per call (20 ms G.711 frames: 50).
    #[arg(long, default_value_t = 50)]
    pps: u32,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
    /// trunkline's relay threads (0: one per core, what `trunkline bridge` runs).
    #[arg(long, default_value_t = 0)]
    relay_threads: usize,
    /// Host trunkline's relay on a multi-thread tokio runtime of this many workers instead
    /// (`RtpRelay::on_runtime`: its sessions in shards, one task per worker).
    #[arg(long)]
    relay_on_runtime: Option<usize>,
    /// rtpengine's `--num-threads` (0: its default, one per core).
    #[arg(long, default_value_t = 2)]
    rtpengine_threads: usize,
    /// The rtpengine executable (Debian `rtpengine-daemon`).
    #[arg(long, default_value = "rtpengine")]
    rtpengine: String,
    /// Measure trunkline's relay alone.
    #[arg(long)]
    no_rtpengine: bool,
    /// Tokio worker threads of the load generator (0: a current-thread runtime).
    #[arg(long, default_value_t = 2)]
    gen_threads: usize,
    /// Load generator sockets per side, shared by the calls (round-robin).
    #[arg(long, default_value_t = 32)]
    gen_sockets: usize,
    /// Canary calls: socket to socket beside every phase, to tell the machine's stalls from
    /// a relay's.
    #[arg(long, default_value_t = 20)]
    canary: usize,
    /// Run both relays under valgrind's callgrind, writing its files in this directory, and
    /// report user-space instructions per packet (use few calls: valgrind is slow).
    #[arg(long)]
    callgrind: Option<std::path::PathBuf>,
    /// Count each relay's system calls and context switches over its phases (perf stat). The
    /// tracepoints cost each system call some time, so the latency and CPU figures of such a
    /// run are not the ones to quote: bench/sip.sh counts in a run of its own.
    #[arg(long)]
    count_kernel_work: bool,
    /// Also list every stalled window with its time.
    #[arg(long)]
    list_stalls: bool,
    /// Pin both relay processes to these CPUs (a `taskset` list, e.g. `1`). Unset: the
    /// scheduler places them.
    #[arg(long)]
    relay_cpus: Option<String>,
    /// Pin the load generator to these CPUs (e.g. `0`).
    #[arg(long)]
    gen_cpus: Option<String>,
}

#[derive(Subcommand)]
enum Role {
    /// trunkline's relay process: reads `open N`, `peer I A B`, `sync`, `stats` on stdin.
    Relay {
        #[arg(long, default_value = "127.0.0.1")]
        ip: IpAddr,
        #[arg(long, default_value_t = 40000)]
        port_min: u16,
        #[arg(long, default_value_t = 49999)]
        port_max: u16,
        /// Relay threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Workers of a tokio runtime to host the relay on instead (0: own threads).
        #[arg(long, default_value_t = 0)]
        on_runtime: usize,
    },
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// trunkline's ports start here, rtpengine's at `ENGINE_PORTS`; each relay gets four ports
/// per call and room to spare.
const TRUNKLINE_PORTS: u16 = 40000;
const ENGINE_PORTS: u16 = 20000;

fn main() {
    let args = Args::parse();
    match args.role {
        Some(Role::Relay {
            ip,
            port_min,
            port_max,
            threads,
            on_runtime,
        }) => {
            let hosting = if on_runtime > 0 {
                Hosting::Runtime(on_runtime)
            } else {
                Hosting::Threads(threads)
            };
            runtime(hosting.runtime_workers())
                .block_on(relays::trunkline_process(ip, port_min, port_max, hosting))
        }
        None => runtime(args.gen_threads).block_on(generator(&args)),
    }
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

fn port_max(min: u16, calls: usize) -> u16 {
    (u32::from(min) + 4 * calls as u32 + 999).min(65535) as u16
}

async fn generator(args: &Args) {
    let hosting = match args.relay_on_runtime {
        Some(w) => Hosting::Runtime(w.max(1)),
        None => Hosting::Threads(args.relay_threads),
    };
    let mut trunkline = TrunklineRelay::start(
        LOCAL,
        TRUNKLINE_PORTS,
        port_max(TRUNKLINE_PORTS, args.calls),
        hosting,
        args.callgrind.as_deref(),
    );
    let mut engine = (!args.no_rtpengine).then(|| {
        let ng_port = std::net::UdpSocket::bind((LOCAL, 0))
            .and_then(|s| s.local_addr())
            .expect("a free port for ng")
            .port();
        RtpEngine::start(
            &args.rtpengine,
            LOCAL,
            ng_port,
            ENGINE_PORTS,
            port_max(ENGINE_PORTS, args.calls),
            args.rtpengine_threads,
            args.callgrind.as_deref(),
        )
        .unwrap_or_else(|e| panic!("{e} (--no-rtpengine measures trunkline alone)"))
    });
    if let Some(cpus) = &args.relay_cpus {
        pin(trunkline.pid(), cpus);
        if let Some(e) = &engine {
            pin(e.pid(), cpus);
        }
    }
    if let Some(cpus) = &args.gen_cpus {
        pin(std::process::id(), cpus);
    }
    let rss_idle = [
        rss_kb(trunkline.pid()),
        engine.as_ref().map_or(0, |e| rss_kb(e.pid())),
    ];

    let mut ends = Ends::bind(LOCAL, args.calls, args.gen_sockets, args.canary);
    let peers = ends.peers();
    ends.legs.push(trunkline.open(&peers));
    if let Some(e) = engine.as_mut() {
        ends.legs.push(e.open(&peers).expect("rtpengine calls"));
    }
    let ends = Arc::new(ends);
    let relays = 1 + usize::from(engine.is_some());
    let total_secs = args.ref_secs + args.rounds * args.secs * relays as u64 + 5;
    let shared = Shared::new(total_secs);
    load::start_receivers(&ends, &shared);

    println!(
        "RTP relay: {} concurrent G.711 calls, {} packets/s of {PACKET} bytes each way per call; \
         each relay in its own process ({}{}), load generator with {} sockets per side ({}{}), \
         {} canary calls",
        args.calls,
        args.pps,
        match &engine {
            Some(_) => format!(
                "trunkline: on {}; rtpengine {}: {}",
                hosting.describe(),
                engine_version(&args.rtpengine),
                match args.rtpengine_threads {
                    0 => "its default threads".to_owned(),
                    n => format!("{n} threads, userspace"),
                }
            ),
            None => format!("trunkline: on {}", hosting.describe()),
        },
        pinned(&args.relay_cpus),
        ends.sockets(),
        flavour(args.gen_threads),
        pinned(&args.gen_cpus),
        args.canary,
    );
    load::run_phase(&ends, &shared, args.pps, REFERENCE, args.ref_secs).await;
    let pids = [Some(trunkline.pid()), engine.as_ref().map(|e| e.pid())];
    let (mut cpu, mut wall) = ([0u64; 2], [0f64; 2]);
    let mut kernel = [args.count_kernel_work.then(KernelWork::default); 2];
    let mut instructions = [args.callgrind.as_ref().map(|_| 0u64); 2];
    for _ in 0..args.rounds {
        for (r, pid) in pids.iter().enumerate() {
            let Some(pid) = *pid else { continue };
            let counting = kernel[r].and_then(|_| Counting::start(pid));
            if counting.is_some() {
                tokio::time::sleep(kernel_work::ATTACH).await;
            }
            if let (Some(_), Some(_)) = (&args.callgrind, instructions[r]) {
                instructions[r] = callgrind::zero(pid).then_some(instructions[r]).flatten();
            }
            let (c0, t0) = (cpu_ticks(pid), Instant::now());
            load::run_phase(&ends, &shared, args.pps, 1 + r, args.secs).await;
            if let (Some(dir), Some(sum)) = (&args.callgrind, instructions[r]) {
                instructions[r] = callgrind::dump(dir, pid).map(|n| sum + n);
            }
            cpu[r] += cpu_ticks(pid) - c0;
            wall[r] += t0.elapsed().as_secs_f64();
            let counted = counting.and_then(|c| c.stop(kernel[r].as_mut()?));
            if counted.is_none() {
                kernel[r] = None;
            }
        }
    }
    let rss_calls = [
        rss_kb(trunkline.pid()),
        engine.as_ref().map_or(0, |e| rss_kb(e.pid())),
    ];
    let counters = trunkline.stats();
    if let Some(e) = engine.as_mut() {
        e.close().expect("rtpengine delete");
    }

    let judged = report::reference(&shared, args.ref_secs);
    let figures = |r: usize, name| RelayFigures {
        name,
        phase: 1 + r,
        secs: wall[r],
        cpu_secs: cpu[r] as f64 / args.clk_tck as f64,
        rss_idle_kb: rss_idle[r],
        rss_calls_kb: rss_calls[r],
        counters: (r == 0).then(|| counters.clone()),
        kernel: kernel[r],
        instructions: instructions[r],
    };
    let t = report::relay(&shared, &figures(0, "trunkline"), args.calls);
    let e = engine
        .is_some()
        .then(|| report::relay(&shared, &figures(1, "rtpengine"), args.calls));
    if let Some(e) = &e {
        report::ratios(&t, e);
    }
    let mut rows = vec![("reference", REFERENCE), ("trunkline", 1)];
    if engine.is_some() {
        rows.push(("rtpengine", 2));
    }
    rows.push(("canary", CANARY));
    report::stalls(&shared, &rows);
    if args.list_stalls {
        for &(name, phase) in &rows {
            report::list_stalls(&shared, name, phase);
        }
    }
    if !judged {
        println!("  goals: not judged (the reference shows a busy machine)");
        return;
    }
    let yes = |b: bool| if b { "yes" } else { "NO" };
    print!(
        "  goals: trunkline added p99 < 1 ms: {}; no loss or cross-talk: {}",
        yes(t.added_p99_us < 1000.0),
        yes(t.clean)
    );
    match &e {
        Some(e) => println!(
            "; added p99 no worse than rtpengine's: {}; CPU per packet at most rtpengine's: {}",
            yes(t.added_p99_us <= e.added_p99_us),
            yes(t.cpu_us_per_packet <= e.cpu_us_per_packet)
        ),
        None => println!(),
    }
}

fn flavour(threads: usize) -> String {
    match threads {
        0 => "current-thread runtime".to_owned(),
        n => format!("{n} tokio workers"),
    }
}

fn pinned(cpus: &Option<String>) -> String {
    cpus.as_ref()
        .map(|c| format!(", on CPU {c}"))
        .unwrap_or_default()
}

fn engine_version(bin: &str) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(if o.stdout.is_empty() {
                &o.stderr
            } else {
                &o.stdout
            })
            .trim()
            .trim_start_matches("Version: ")
            .to_owned()
        })
        .unwrap_or_default()
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
