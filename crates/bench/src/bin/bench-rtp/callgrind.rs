//! `--callgrind DIR`: both relays run under valgrind's callgrind, and each phase's user-space
//! instructions are read from it (counters zeroed as the phase starts, dumped as it ends).
//! Instructions per packet do not move with the machine's load, unlike CPU time, so this
//! compares the two relays' own code on a shared machine. Kernel work (the system calls) is
//! not in it: `kernel_work` counts that. Under valgrind a relay runs some 50 times slower, so
//! use it with few calls (`--calls 20`); the latency figures of such a run mean nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The command that starts `program` under callgrind, its output in `dir`.
pub fn wrap(dir: &Path, program: &str) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            dir.join(format!("{}.%p", name_of(program))).display()
        ))
        // Valgrind's own messages to a file, not over the figures.
        .arg(format!(
            "--log-file={}",
            dir.join(format!("{}.%p.log", name_of(program))).display()
        ))
        .arg(program);
    cmd
}

fn name_of(program: &str) -> String {
    Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "relay".into())
}

fn control(pid: u32, what: &str) -> bool {
    Command::new("callgrind_control")
        .args([what, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Zeroes `pid`'s counters: the phase starts.
pub fn zero(pid: u32) -> bool {
    control(pid, "--zero")
}

/// Dumps `pid`'s counters and returns the instructions since the last zero.
pub fn dump(dir: &Path, pid: u32) -> Option<u64> {
    let before = dumps(dir, pid);
    if !control(pid, "--dump") {
        return None;
    }
    let newest = dumps(dir, pid)
        .into_iter()
        .filter(|p| !before.contains(p))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())?;
    let text = std::fs::read_to_string(newest).ok()?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn dumps(dir: &Path, pid: u32) -> Vec<PathBuf> {
    let suffix = format!(".{pid}");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(&suffix) && !n.ends_with(".log"))
        })
        .collect()
}
