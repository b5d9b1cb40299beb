//! A relay's kernel work over its phase, counted rather than timed: system calls and context
//! switches (`perf stat` on the software events `raw_syscalls:sys_enter` and
//! `context-switches`, attached to the relay's process). CPU time per packet moves with the
//! machine's load; these counts per packet do not, so they compare the two relays even on a
//! shared machine. The tracepoint adds a little to each system call, so a run that counts is
//! not one whose latencies to quote (`--count-kernel-work`). (This machine's virtual CPUs expose no hardware counters, so instructions
//! are not counted here; see `bench/sip.sh --callgrind` for user-space instructions.)

use std::process::{Child, Command, Stdio};

/// Counts summed over a relay's phases.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelWork {
    pub syscalls: u64,
    pub context_switches: u64,
}

/// A `perf stat` attached to one process for one phase.
pub struct Counting(Child);

/// Time for perf to attach before the phase it counts.
pub const ATTACH: std::time::Duration = std::time::Duration::from_millis(300);

const EVENTS: &str = "raw_syscalls:sys_enter,context-switches";

impl Counting {
    /// None when `perf` is missing or cannot attach (the figures are then left out). perf
    /// attaches asynchronously: wait a moment (`ATTACH`) before the phase begins.
    pub fn start(pid: u32) -> Option<Self> {
        let child = Command::new("perf")
            .args(["stat", "-x", ",", "-e", EVENTS, "-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        Some(Self(child))
    }

    /// Stops counting (SIGINT makes perf print its totals) and adds them to `into`.
    pub fn stop(self, into: &mut KernelWork) -> Option<()> {
        let child = self.0;
        // SAFETY: a plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        let out = child.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stderr);
        let count = |event: &str| -> Option<u64> {
            text.lines()
                .map(|l| l.split(',').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[2] == event)
                .and_then(|f| f[0].parse().ok())
        };
        into.syscalls += count("raw_syscalls:sys_enter")?;
        into.context_switches += count("context-switches")?;
        Some(())
    }
}
