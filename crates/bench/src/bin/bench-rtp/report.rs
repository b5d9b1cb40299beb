//! What bench-rtp prints: per relay, the latency it adds over the reference, its loss,
//! cross-talk, CPU and memory; the ratios trunkline/rtpengine; and the stall histogram.

use std::sync::atomic::Ordering::Relaxed;

use crate::load::{Phase, Shared, CANARY, REFERENCE, WINDOW_NS};

/// What was measured of one relay's process over its phase(s).
pub struct RelayFigures {
    pub name: &'static str,
    pub phase: usize,
    pub secs: f64,
    pub cpu_secs: f64,
    pub rss_idle_kb: u64,
    pub rss_calls_kb: u64,
    pub counters: Option<String>,
    /// System calls and context switches over the phase(s), when perf could count them.
    pub kernel: Option<crate::kernel_work::KernelWork>,
    /// User-space instructions over the phase(s), under `--callgrind`.
    pub instructions: Option<u64>,
}

pub struct Summary {
    pub added_p50_us: f64,
    pub added_p99_us: f64,
    pub added_p999_us: f64,
    pub added_p99_at_socket_us: f64,
    pub cpu_us_per_packet: f64,
    /// System calls and context switches per packet relayed (NaN: not counted).
    pub syscalls_per_packet: f64,
    pub switches_per_packet: f64,
    /// User-space instructions per packet relayed (NaN: not counted).
    pub instructions_per_packet: f64,
    pub kb_per_call: f64,
    pub clean: bool,
}

const STALL_US: u64 = 2000;
/// Histogram bucket edges of a stall window's worst latency, in ms.
const EDGES: [u64; 5] = [2, 5, 10, 20, 50];

fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// Prints the reference's figures; false when they show a machine too busy to judge by.
pub fn reference(shared: &Shared, secs: u64) -> bool {
    let r = &shared.phases[REFERENCE];
    println!(
        "  reference, socket to socket ({secs} s): {} packets, p50 {:.3} ms, p99 {:.3} ms, \
         p99.9 {:.3} ms, loss {:.3}%",
        r.sent.load(Relaxed),
        ms(r.quantile(0.5)),
        ms(r.quantile(0.99)),
        ms(r.quantile(0.999)),
        r.loss_pct()
    );
    println!(
        "    at the generator's socket (kernel arrival): p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
        ms(r.quantile_at_socket(0.5)),
        ms(r.quantile_at_socket(0.99)),
        ms(r.quantile_at_socket(0.999)),
    );
    let busy = r.lost() > 0 || r.quantile(0.99) >= 10_000.0;
    if busy {
        println!(
            "  WARNING: the reference itself lost packets or had a p99 of 10 ms or more: the \
             machine is busy (or the generator cannot keep up), and no figure below means much"
        );
    }
    !busy
}

pub fn relay(shared: &Shared, f: &RelayFigures, calls: usize) -> Summary {
    let (r, p) = (&shared.phases[REFERENCE], &shared.phases[f.phase]);
    let q = |ph: &Phase, q: f64| ph.quantile(q);
    let added = |x: f64| q(p, x) - q(r, x);
    let received = p.received.load(Relaxed);
    let cross_talk = p.cross_talk.load(Relaxed);
    let failed = p.send_failed.load(Relaxed);
    println!(
        "  {} ({:.0} s): {} packets, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms; \
         added p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms; loss {:.3}% ({} lost, {} send \
         failures), cross-talk {}",
        f.name,
        f.secs,
        p.sent.load(Relaxed),
        ms(q(p, 0.5)),
        ms(q(p, 0.99)),
        ms(q(p, 0.999)),
        ms(added(0.5)),
        ms(added(0.99)),
        ms(added(0.999)),
        p.loss_pct(),
        p.lost(),
        failed,
        cross_talk,
    );
    let added_at_socket = |x: f64| p.quantile_at_socket(x) - r.quantile_at_socket(x);
    println!(
        "    at the generator's socket (kernel arrival): p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} \
         ms; added p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
        ms(p.quantile_at_socket(0.5)),
        ms(p.quantile_at_socket(0.99)),
        ms(p.quantile_at_socket(0.999)),
        ms(added_at_socket(0.5)),
        ms(added_at_socket(0.99)),
        ms(added_at_socket(0.999)),
    );
    let cpu_us_per_packet = 1e6 * f.cpu_secs / received.max(1) as f64;
    let kb_per_call = f.rss_calls_kb.saturating_sub(f.rss_idle_kb) as f64 / calls as f64;
    println!(
        "    process: CPU {:.1}% of one core, {:.2} µs per packet; RSS {:.1} MB idle, {:.1} MB \
         with {calls} calls, {:.1} KB per call",
        100.0 * f.cpu_secs / f.secs,
        cpu_us_per_packet,
        f.rss_idle_kb as f64 / 1024.0,
        f.rss_calls_kb as f64 / 1024.0,
        kb_per_call,
    );
    let per_packet = |n: Option<u64>| n.map_or(f64::NAN, |n| n as f64 / received.max(1) as f64);
    let syscalls_per_packet = per_packet(f.kernel.map(|k| k.syscalls));
    let switches_per_packet = per_packet(f.kernel.map(|k| k.context_switches));
    if f.kernel.is_some() {
        println!(
            "    kernel work (perf stat, independent of the machine's load): {syscalls_per_packet:.3} \
             system calls and {switches_per_packet:.4} context switches per packet relayed"
        );
    }
    let instructions_per_packet = per_packet(f.instructions);
    if f.instructions.is_some() {
        println!(
            "    user-space instructions (callgrind, independent of the machine's load): \
             {instructions_per_packet:.0} per packet relayed"
        );
    }
    if let Some(c) = &f.counters {
        println!("    relay counters (a→b b→a wrong-source no-peer other sessions): {c}");
    }
    Summary {
        added_p50_us: added(0.5),
        added_p99_us: added(0.99),
        added_p999_us: added(0.999),
        added_p99_at_socket_us: added_at_socket(0.99),
        cpu_us_per_packet,
        syscalls_per_packet,
        switches_per_packet,
        instructions_per_packet,
        kb_per_call,
        clean: p.lost() == 0 && failed == 0 && cross_talk == 0,
    }
}

pub fn ratios(t: &Summary, e: &Summary) {
    let ratio = |a: f64, b: f64| {
        // Also NaN: a figure that was not counted.
        if !(b.abs() >= 1e-9 && a.is_finite()) {
            "n/a".to_owned()
        } else {
            format!("{:.2}", a / b)
        }
    };
    println!(
        "  trunkline/rtpengine: added p50 {}, added p99 {}, added p99.9 {}, added p99 at the \
         socket {}, CPU per packet {}, system calls per packet {}, context switches per packet \
         {}, user-space instructions per packet {}, memory per call {}",
        ratio(t.added_p50_us, e.added_p50_us),
        ratio(t.added_p99_us, e.added_p99_us),
        ratio(t.added_p999_us, e.added_p999_us),
        ratio(t.added_p99_at_socket_us, e.added_p99_at_socket_us),
        ratio(t.cpu_us_per_packet, e.cpu_us_per_packet),
        ratio(t.syscalls_per_packet, e.syscalls_per_packet),
        ratio(t.switches_per_packet, e.switches_per_packet),
        ratio(t.instructions_per_packet, e.instructions_per_packet),
        ratio(t.kb_per_call, e.kb_per_call),
    );
}

/// Windows in which `phase` sent packets, and of those the stalled ones by worst latency.
fn stall_row(shared: &Shared, phase: usize) -> (usize, [usize; EDGES.len()], usize) {
    let worst = &shared.phases[phase].worst;
    let canary = &shared.phases[CANARY].worst;
    let stalled = |w: usize| canary.get(w).is_some_and(|c| c.load(Relaxed) > STALL_US);
    let (mut windows, mut hist, mut with_canary) = (0, [0; EDGES.len()], 0);
    for (w, v) in worst.iter().enumerate() {
        let v = v.load(Relaxed);
        if v == 0 {
            continue;
        }
        windows += 1;
        if v <= STALL_US {
            continue;
        }
        let bucket = EDGES.iter().rposition(|&e| v > e * 1000).unwrap_or(0);
        hist[bucket] += 1;
        // A stall straddling a window edge may show in the neighbour of the canary's.
        if phase != CANARY && (stalled(w) || stalled(w.wrapping_sub(1)) || stalled(w + 1)) {
            with_canary += 1;
        }
    }
    (windows, hist, with_canary)
}

pub fn stalls(shared: &Shared, rows: &[(&str, usize)]) {
    println!(
        "  stalls: {} ms windows whose worst latency passed {} ms, by that latency (the canary \
         runs socket to socket beside every phase: a stall it shares is the machine's)",
        WINDOW_NS / 1_000_000,
        STALL_US / 1000
    );
    let head: Vec<String> = EDGES
        .iter()
        .enumerate()
        .map(|(i, e)| match EDGES.get(i + 1) {
            Some(next) => format!("{e}-{next} ms"),
            None => format!(">{e} ms"),
        })
        .collect();
    println!(
        "    {:<11} {:>8} {} {:>7} {:>14}",
        "",
        "windows",
        head.iter()
            .map(|h| format!("{h:>9}"))
            .collect::<Vec<_>>()
            .join(""),
        "stalled",
        "canary too"
    );
    for &(name, phase) in rows {
        let (windows, hist, with_canary) = stall_row(shared, phase);
        let total: usize = hist.iter().sum();
        let canary = if phase == CANARY {
            "-".to_owned()
        } else {
            with_canary.to_string()
        };
        println!(
            "    {:<11} {:>8} {} {:>7} {:>14}",
            name,
            windows,
            hist.iter()
                .map(|h| format!("{h:>9}"))
                .collect::<Vec<_>>()
                .join(""),
            total,
            canary
        );
    }
}

/// Each stalled window of `phase`: its start (seconds since the generator started) and worst
/// latency, with the canary's worst in the same window.
pub fn list_stalls(shared: &Shared, name: &str, phase: usize) {
    let canary = &shared.phases[CANARY].worst;
    let list: Vec<String> = shared.phases[phase]
        .worst
        .iter()
        .enumerate()
        .filter(|(_, w)| w.load(Relaxed) > STALL_US)
        .map(|(i, w)| {
            format!(
                "{:.2}s:{:.1}/{:.1}ms",
                (i as u64 * WINDOW_NS) as f64 / 1e9,
                w.load(Relaxed) as f64 / 1000.0,
                canary[i].load(Relaxed) as f64 / 1000.0
            )
        })
        .collect();
    println!(
        "    {name} stalled windows (start:worst/canary's worst): {}",
        list.join(" ")
    );
}
