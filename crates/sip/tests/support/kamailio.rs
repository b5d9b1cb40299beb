//! A real Kamailio (Debian `kamailio`) as a carrier's trunk for the probe's tests: its
//! configuration (`TRUNK_CFG`: answer, challenge or refuse by caller; ring or refuse the test
//! call by number), finding the binaries, a free port, and the process guard that stops it.
#![allow(dead_code)] // a test file uses what it needs

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use trunkline_sip::ProbeTransport;

/// The callers (From users) the trunk tells apart.
pub const ANSWERED: &str = "+15550100";
/// Digest with `qop=auth`: 401 to OPTIONS, 407 to INVITE.
pub const CHALLENGED: &str = "+15550401";
/// Digest in the RFC 2069 form (no qop), 401 to OPTIONS.
pub const CHALLENGED_NO_QOP: &str = "+15550402";
pub const FORBIDDEN: &str = "+15550403";
pub const UNAVAILABLE: &str = "+15550503";

/// The called numbers (INVITE Request-URI users) the trunk tells apart; any other rings.
pub const RINGS: &str = "+15550199";
pub const UNKNOWN_NUMBER: &str = "+15550404";
pub const INCOMPLETE_NUMBER: &str = "+15550484";

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "s3cret";
pub const REALM: &str = "trunk.test";

/// The trunk, with `@NAME@` placeholders filled in by `trunk_cfg`. Replies to
/// OPTIONS and refusals are stateless (sl); the ringing INVITE is a tm transaction, so that
/// tm answers the CANCEL with 200 and the INVITE with 487, and absorbs the ACK of that 487.
pub const TRUNK_CFG: &str = r#"#!KAMAILIO
# Written by crates/sip/tests/probe_kamailio.rs for one test run.
debug=2
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:@PORT@
listen=tcp:127.0.0.1:@PORT@

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "auth.so"

modparam("auth", "algorithm", "@ALGORITHM@")

event_route[core:worker-one-init] {
    xlog("L_NOTICE", "trunk ready\n");
}

# What the trunk sent, in the log a failed test prints.
event_route[tm:local-response] {
    xlog("L_NOTICE", "tm sent $rs $rr ($cs $rm)\n");
}

event_route[sl:local-response] {
    xlog("L_NOTICE", "sl sent $rs $rr ($cs $rm)\n");
}

request_route {
    xlog("L_NOTICE", "$pr $rm $ru from $fU\n");
    if (is_method("ACK")) {
        # The ACK of tm's 487 ends that transaction; an ACK of a stateless reply is dropped.
        t_check_trans();
        exit;
    }
    if (is_method("CANCEL")) {
        # tm answers 200 to the CANCEL and 487 to the INVITE it cancels.
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    # The caller is the From user, or an X-Caller header (sipsak cannot set From on OPTIONS).
    $var(caller) = $fU;
    if (is_present_hf("X-Caller")) {
        $var(caller) = $hdr(X-Caller);
    }
    switch ($var(caller)) {
        case "@FORBIDDEN@":
            sl_send_reply("403", "Forbidden");
            exit;
        case "@UNAVAILABLE@":
            sl_send_reply("503", "Service Unavailable");
            exit;
        case "@CHALLENGED@":
            route(DIGEST);
            break;
        case "@CHALLENGED_NO_QOP@":
            route(DIGEST_NO_QOP);
            break;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("INVITE")) {
        switch ($rU) {
            case "@UNKNOWN_NUMBER@":
                sl_send_reply("404", "Not Found");
                exit;
            case "@INCOMPLETE_NUMBER@":
                sl_send_reply("484", "Address Incomplete");
                exit;
        }
        # Rings until the caller cancels (tm's own timers end it otherwise). tm warns that the
        # script "didn't release transaction": it is kept on purpose, for the CANCEL.
        t_newtran();
        t_reply("180", "Ringing");
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
}

# OPTIONS are challenged with 401 (WWW-Authenticate), INVITEs with 407 (Proxy-Authenticate),
# as carriers do. The password is plain text (flags 0): no database.
route[DIGEST] {
    if (is_method("INVITE")) {
        if (!pv_proxy_authenticate("@REALM@", "@PASSWORD@", "0") || $au != "@USERNAME@") {
            proxy_challenge("@REALM@", "1");
            exit;
        }
        consume_credentials();
        return;
    }
    if (!pv_www_authenticate("@REALM@", "@PASSWORD@", "0") || $au != "@USERNAME@") {
        www_challenge("@REALM@", "1");
        exit;
    }
    consume_credentials();
}

route[DIGEST_NO_QOP] {
    if (!pv_www_authenticate("@REALM@", "@PASSWORD@", "0") || $au != "@USERNAME@") {
        www_challenge("@REALM@", "0");
        exit;
    }
    consume_credentials();
}
"#;

pub fn trunk_cfg(port: u16, algorithm: Algorithm) -> String {
    let port = port.to_string();
    let algorithm = match algorithm {
        Algorithm::Md5 => "MD5",
        Algorithm::Sha256 => "SHA-256",
    };
    let values = [
        ("@PORT@", port.as_str()),
        ("@ALGORITHM@", algorithm),
        ("@CHALLENGED@", CHALLENGED),
        ("@CHALLENGED_NO_QOP@", CHALLENGED_NO_QOP),
        ("@FORBIDDEN@", FORBIDDEN),
        ("@UNAVAILABLE@", UNAVAILABLE),
        ("@UNKNOWN_NUMBER@", UNKNOWN_NUMBER),
        ("@INCOMPLETE_NUMBER@", INCOMPLETE_NUMBER),
        ("@REALM@", REALM),
        ("@USERNAME@", USERNAME),
        ("@PASSWORD@", PASSWORD),
    ];
    let cfg = values
        .iter()
        .fold(TRUNK_CFG.to_owned(), |cfg, (name, value)| {
            cfg.replace(name, value)
        });
    assert!(!cfg.contains("@"), "a placeholder left unfilled:\n{cfg}");
    cfg
}

/// The Kamailio binary: on PATH, or where Debian puts it (`/usr/sbin` is not on every PATH).
pub fn kamailio_binary() -> Option<PathBuf> {
    let on_path = Command::new("kamailio")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if on_path {
        return Some("kamailio".into());
    }
    ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

pub fn kamailio_available() -> Option<PathBuf> {
    let found = kamailio_binary();
    if found.is_none() {
        eprintln!("SKIPPED: the kamailio binary is missing (apt-get install kamailio)");
    }
    found
}

pub fn sipsak_available() -> bool {
    let found = Command::new("sipsak")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: the sipsak binary is missing (apt-get install sipsak)");
    }
    found
}

pub fn tcp_listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[3] == "0A" && f[1].ends_with(&format!(":{port:04X}"))
    })
}

pub fn udp_bound(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    table.lines().skip(1).any(|l| {
        l.split_whitespace()
            .nth(1)
            .is_some_and(|a| a.ends_with(&format!(":{port:04X}")))
    })
}

/// A port free over both UDP and TCP, in 10000–19999: below Linux's ephemeral range
/// (32768–60999), so no outgoing socket of a concurrent test takes it meanwhile. Successive
/// calls walk from a random start, so this binary's tests do not pick the same port.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        rand::random_range(10_000..19_000),
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        if port >= 20_000 {
            NEXT.store(10_000, Ordering::SeqCst);
            continue;
        }
        let tcp = TcpListener::bind(("127.0.0.1", port)).is_ok();
        if tcp && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port; // bound, then closed at once
        }
    }
}

/// A temporary directory, removed on drop unless the test failed (then its path is printed
/// with Kamailio's log, for a look at the configuration).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "trunkline-kamailio-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The digest algorithm the trunk challenges with.
#[derive(Clone, Copy)]
pub enum Algorithm {
    Md5,
    Sha256,
}

/// One Kamailio, running `TRUNK_CFG` in the foreground until dropped.
pub struct Kamailio {
    child: Child,
    pub port: u16,
    // Dropped after `child` is stopped (fields drop in order, after `Drop::drop`).
    dir: TempDir,
}

impl Kamailio {
    pub fn start(binary: &Path, algorithm: Algorithm) -> Self {
        // A port found free can be taken before Kamailio binds it (then Kamailio exits at
        // once): try again on another.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::try_start(binary, algorithm) {
                Ok(k) => return k,
                Err(why) if why.contains("Address already in use") && attempts < 5 => {}
                Err(why) => panic!("kamailio did not start:\n{why}"),
            }
        }
    }

    pub fn try_start(binary: &Path, algorithm: Algorithm) -> Result<Self, String> {
        let dir = TempDir::new();
        let port = free_port();
        let cfg = dir.0.join("kamailio.cfg");
        std::fs::write(&cfg, trunk_cfg(port, algorithm)).expect("write kamailio.cfg");
        let log = File::create(dir.0.join("kamailio.log")).expect("create kamailio.log");
        #[allow(clippy::zombie_processes)] // stopped and reaped in Drop
        let child = Command::new(binary)
            .arg("-f")
            .arg(&cfg)
            // Foreground, logging to stderr (the log file); 32 MB shared, 8 MB per process.
            .args(["-DD", "-E", "-m", "32", "-M", "8"])
            .arg("-w")
            .arg(&dir.0)
            .arg("-Y")
            .arg(&dir.0)
            .arg("-P")
            .arg(dir.0.join("kamailio.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        // From here Drop stops it on every path, the errors below included.
        let mut k = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = k.child.try_wait() {
                return Err(format!("kamailio exited ({status}):\n{}", k.log()));
            }
            // The first UDP worker logs this once initialised; the sockets are bound by then,
            // and a request sent before a worker reads it waits in the socket's queue.
            if k.log().contains("trunk ready") && udp_bound(port) && tcp_listening(port) {
                return Ok(k);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "kamailio did not get ready on port {port}:\n{}",
            k.log()
        ))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("kamailio.log")).unwrap_or_default()
    }

    /// How many of Kamailio's log lines contain `needle`, once at least `at_least` do or 2 s
    /// have passed (a worker logs what it received a moment after it arrived).
    pub fn log_lines(&self, needle: &str, at_least: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let n = self.log().lines().filter(|l| l.contains(needle)).count();
            if n >= at_least || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kamailio's side of a cancelled test call from `caller`: one CANCEL and one ACK (of the
    /// 487) to the ringing number arrived over `transport`, so tm's transaction ended
    /// cleanly. The request lines are logged as "<proto> <method> <R-URI> from <From user>".
    pub fn assert_cancelled_and_acked(&self, transport: ProbeTransport, caller: &str) {
        let proto = transport.as_str();
        for method in ["CANCEL", "ACK"] {
            let line = format!(
                "{proto} {method} sip:{RINGS}@127.0.0.1:{} from {caller}",
                self.port
            );
            assert_eq!(self.log_lines(&line, 1), 1, "{line:?} once in the log");
        }
    }

    /// The processes Kamailio forked, which outlive a SIGKILLed main process.
    pub fn workers(&self) -> Vec<u32> {
        let main = self.child.id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return vec![];
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // "pid (comm) state ppid …": comm may hold spaces, so split after the ')'.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(main)
            })
            .collect()
    }
}

/// `kill -s SIG pid` (std sends only SIGKILL, which Kamailio's workers outlive).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("/bin/sh")
        .args(["-c", "kill -s \"$1\" \"$2\"", "sh", sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kamailio on port {} (files in {}):\n{}",
                self.port,
                self.dir.0.display(),
                self.log()
            );
        }
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM: the main process stops its workers, waits for them, and exits.
            signal(self.child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            for pid in self.workers() {
                signal(pid, "KILL");
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
