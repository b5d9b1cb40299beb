//! The probe against a real Kamailio (Debian `kamailio`) playing a carrier's trunk (issue 4:
//! "the probe tested against sipsak/SIPp/Kamailio answering, challenging, refusing"), with
//! sipsak (Debian `sipsak`) as an independent client against the same server, so that a
//! failure says whether the peer or the probe is at fault.
//!
//! Each test starts its own Kamailio in the foreground from a configuration written to a
//! temporary directory, listening on 127.0.0.1 over UDP and TCP on one port below Linux's
//! ephemeral range, and stops it (SIGTERM, which also stops its workers) when the guard drops.
//! The configuration (`TRUNK_CFG`) answers, challenges or refuses by the caller (the From
//! user, the probe's `from_number`; sipsak, which cannot set From on OPTIONS, names it in an
//! `X-Caller` header), and rings or refuses the test call by the called number (the INVITE's
//! Request-URI user). Kamailio logs every request it receives and every reply it sends, and a
//! failing test prints that log. Without the `kamailio` binary the tests skip with a
//! message, as without `sipsak` does the test that needs it.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use trunkline_domain::Secret;
use trunkline_sip::{
    run_probe, Credentials, Diagnosis, Method, Outcome, ProbeOptions, ProbeReport, ProbeRequest,
    ProbeTransport, Timers,
};

/// The callers (From users) the trunk tells apart.
const ANSWERED: &str = "+15550100";
/// Digest with `qop=auth`: 401 to OPTIONS, 407 to INVITE.
const CHALLENGED: &str = "+15550401";
/// Digest in the RFC 2069 form (no qop), 401 to OPTIONS.
const CHALLENGED_NO_QOP: &str = "+15550402";
const FORBIDDEN: &str = "+15550403";
const UNAVAILABLE: &str = "+15550503";

/// The called numbers (INVITE Request-URI users) the trunk tells apart; any other rings.
const RINGS: &str = "+15550199";
const UNKNOWN_NUMBER: &str = "+15550404";
const INCOMPLETE_NUMBER: &str = "+15550484";

const USERNAME: &str = "alice";
const PASSWORD: &str = "s3cret";
const REALM: &str = "trunk.test";

/// The trunk, with `@NAME@` placeholders filled in by `trunk_cfg`. Replies to
/// OPTIONS and refusals are stateless (sl); the ringing INVITE is a tm transaction, so that
/// tm answers the CANCEL with 200 and the INVITE with 487, and absorbs the ACK of that 487.
const TRUNK_CFG: &str = r#"#!KAMAILIO
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

fn trunk_cfg(port: u16, algorithm: Algorithm) -> String {
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
fn kamailio_binary() -> Option<PathBuf> {
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

fn kamailio_available() -> Option<PathBuf> {
    let found = kamailio_binary();
    if found.is_none() {
        eprintln!("SKIPPED: the kamailio binary is missing (apt-get install kamailio)");
    }
    found
}

fn sipsak_available() -> bool {
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

fn tcp_listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[3] == "0A" && f[1].ends_with(&format!(":{port:04X}"))
    })
}

fn udp_bound(port: u16) -> bool {
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
fn free_port() -> u16 {
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
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
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
enum Algorithm {
    Md5,
    Sha256,
}

/// One Kamailio, running `TRUNK_CFG` in the foreground until dropped.
struct Kamailio {
    child: Child,
    port: u16,
    // Dropped after `child` is stopped (fields drop in order, after `Drop::drop`).
    dir: TempDir,
}

impl Kamailio {
    fn start(binary: &Path, algorithm: Algorithm) -> Self {
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

    fn try_start(binary: &Path, algorithm: Algorithm) -> Result<Self, String> {
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("kamailio.log")).unwrap_or_default()
    }

    /// How many of Kamailio's log lines contain `needle`, once at least `at_least` do or 2 s
    /// have passed (a worker logs what it received a moment after it arrived).
    fn log_lines(&self, needle: &str, at_least: usize) -> usize {
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
    fn assert_cancelled_and_acked(&self, transport: ProbeTransport, caller: &str) {
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
    fn workers(&self) -> Vec<u32> {
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
fn signal(pid: u32, sig: &str) {
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

fn request(k: &Kamailio, transport: ProbeTransport, caller: &str) -> ProbeRequest {
    ProbeRequest {
        host: "127.0.0.1".into(),
        port: k.port,
        transport,
        credentials: None,
        from_number: caller.into(),
        from_domain: None,
        test_number: None,
        allow_internal: true,
    }
}

fn creds(password: &str) -> Option<Credentials> {
    Some(Credentials {
        username: USERNAME.into(),
        password: Secret::new(password.into()),
    })
}

/// Each transaction bounded at 3 s: Kamailio on loopback answers in milliseconds.
fn opts() -> ProbeOptions {
    ProbeOptions {
        timers: Timers {
            transaction_timeout: Duration::from_secs(3),
            ..Timers::default()
        },
        ..ProbeOptions::quick()
    }
}

fn statuses(r: &ProbeReport) -> Vec<(Method, u16)> {
    r.responses.iter().map(|s| (s.method, s.status)).collect()
}

fn target(k: &Kamailio) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], k.port))
}

/// sipsak's OPTIONS to the same Kamailio (`-s`, with extra arguments), over UDP: its exit
/// status (0: a 200 came back) and what it printed.
fn sipsak(k: &Kamailio, user: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("sipsak")
        .arg("-vv")
        .args(["-s", &format!("sip:{user}@127.0.0.1:{}", k.port)])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run sipsak");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test]
async fn options_answered_200_over_udp_and_tcp_as_sipsak_sees_it() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    // The reference: an independent client gets the 200 from this very server, so a failure
    // below is the probe's.
    if sipsak_available() {
        let (code, out) = sipsak(&k, "probe", &[]);
        assert_eq!(code, Some(0), "sipsak got no 200:\n{out}");
        assert!(out.contains("SIP/2.0 200 OK"), "{out}");
    }
    for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
        let report = run_probe(&request(&k, transport, ANSWERED), &opts()).await;
        assert_eq!(
            statuses(&report),
            vec![(Method::Options, 200)],
            "{transport:?}: {report:?}"
        );
        assert_eq!(report.responses[0].reason, "OK");
        assert!(!report.responses[0].authenticated);
        assert_eq!(
            report.outcome,
            Outcome::Status {
                status: 200,
                after_auth: false,
                had_credentials: false
            }
        );
        assert_eq!(report.diagnosis, Diagnosis::Reachable);
        assert!(report.diagnosis.healthy());
        assert!(report.reachable);
        assert_eq!(report.address, Some(target(&k)));
        assert_eq!(report.transport, transport);
        let rtt = report.rtt.expect("an RTT for the 200");
        assert!(
            rtt > Duration::ZERO && rtt < Duration::from_secs(1),
            "{transport:?}: {rtt:?}"
        );
        assert!(report.elapsed >= rtt);
        assert!(report.malformed.is_empty(), "{:?}", report.malformed);
        if transport == ProbeTransport::Tcp {
            assert!(report.connect_time.unwrap() < Duration::from_secs(1));
        }
    }
}

#[tokio::test]
async fn the_digest_challenge_is_answered_and_kamailio_accepts_it() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    // The reference: sipsak answers the same challenge and gets the 200, so the server's
    // digest check works with the right password.
    if sipsak_available() {
        let caller = format!("X-Caller: {CHALLENGED}");
        let (code, out) = sipsak(
            &k,
            "probe",
            &["-j", &caller, "-u", USERNAME, "-a", PASSWORD],
        );
        assert_eq!(code, Some(0), "sipsak's digest was refused:\n{out}");
        assert!(
            out.contains("authorizing"),
            "sipsak was not challenged:\n{out}"
        );
        assert_eq!(k.log_lines("sl sent 401 Unauthorized (1 OPTIONS)", 1), 1);
        assert_eq!(k.log_lines("sl sent 200 OK (2 OPTIONS)", 1), 1);
    }
    for (transport, caller) in [
        (ProbeTransport::Udp, CHALLENGED),
        (ProbeTransport::Tcp, CHALLENGED),
        (ProbeTransport::Udp, CHALLENGED_NO_QOP),
    ] {
        let mut req = request(&k, transport, caller);
        req.credentials = creds(PASSWORD);
        let report = run_probe(&req, &opts()).await;
        assert_eq!(
            statuses(&report),
            vec![(Method::Options, 401), (Method::Options, 200)],
            "{transport:?} {caller}: {report:?}"
        );
        assert!(!report.responses[0].authenticated);
        assert!(report.responses[1].authenticated);
        assert_eq!(
            report.outcome,
            Outcome::Status {
                status: 200,
                after_auth: true,
                had_credentials: true
            }
        );
        assert_eq!(report.diagnosis, Diagnosis::Reachable);
        // The RTT is the first response's, the challenge.
        assert_eq!(report.rtt, Some(report.responses[0].rtt));
    }
}

#[tokio::test]
async fn a_sha256_challenge_is_answered_and_kamailio_accepts_it() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Sha256);
    let mut req = request(&k, ProbeTransport::Udp, CHALLENGED);
    req.credentials = creds(PASSWORD);
    let report = run_probe(&req, &opts()).await;
    assert_eq!(
        statuses(&report),
        vec![(Method::Options, 401), (Method::Options, 200)],
        "{report:?}"
    );
    assert!(report.responses[1].authenticated);
    assert_eq!(report.diagnosis, Diagnosis::Reachable);
}

#[tokio::test]
async fn a_wrong_password_is_diagnosed_as_wrong_credentials() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
        let mut req = request(&k, transport, CHALLENGED);
        req.credentials = creds("not-the-password");
        let report = run_probe(&req, &opts()).await;
        assert_eq!(
            statuses(&report),
            vec![(Method::Options, 401), (Method::Options, 401)],
            "{transport:?}: {report:?}"
        );
        assert!(report.responses[1].authenticated);
        assert_eq!(
            report.outcome,
            Outcome::Status {
                status: 401,
                after_auth: true,
                had_credentials: true
            }
        );
        assert_eq!(report.diagnosis, Diagnosis::WrongCredentials);
        assert!(!report.diagnosis.healthy());
        assert!(!format!("{report:?}").contains("not-the-password"));
    }
    // A wrong user name with the right password is refused the same way.
    let mut req = request(&k, ProbeTransport::Udp, CHALLENGED);
    req.credentials = Some(Credentials {
        username: "mallory".into(),
        password: Secret::new(PASSWORD.into()),
    });
    let report = run_probe(&req, &opts()).await;
    assert_eq!(report.diagnosis, Diagnosis::WrongCredentials, "{report:?}");
    // And no credentials at all: the trunk wants some.
    let report = run_probe(&request(&k, ProbeTransport::Udp, CHALLENGED), &opts()).await;
    assert_eq!(statuses(&report), vec![(Method::Options, 401)]);
    assert_eq!(
        report.diagnosis,
        Diagnosis::CredentialsRequired,
        "{report:?}"
    );
}

#[tokio::test]
async fn refusals_are_diagnosed_403_not_allowed_and_503_provider_down() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    for (caller, status, diagnosis) in [
        (FORBIDDEN, 403, Diagnosis::NotAllowed),
        (UNAVAILABLE, 503, Diagnosis::ProviderDown),
    ] {
        for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
            let report = run_probe(&request(&k, transport, caller), &opts()).await;
            assert_eq!(
                statuses(&report),
                vec![(Method::Options, status)],
                "{transport:?} {caller}: {report:?}"
            );
            assert!(report.reachable, "a refusal is still an answer");
            assert_eq!(report.diagnosis, diagnosis, "{transport:?} {caller}");
            assert!(!report.diagnosis.healthy());
        }
    }
    // With a test number, a 403 to OPTIONS still lets the INVITE try (and be refused too).
    let mut req = request(&k, ProbeTransport::Udp, FORBIDDEN);
    req.test_number = Some(RINGS.into());
    let report = run_probe(&req, &opts()).await;
    assert_eq!(
        statuses(&report),
        vec![(Method::Options, 403), (Method::Invite, 403)],
        "{report:?}"
    );
    assert_eq!(report.diagnosis, Diagnosis::NotAllowed);
}

#[tokio::test]
async fn an_unknown_test_number_is_diagnosed_as_its_format() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    for (number, status) in [(UNKNOWN_NUMBER, 404), (INCOMPLETE_NUMBER, 484)] {
        for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
            let mut req = request(&k, transport, ANSWERED);
            req.test_number = Some(number.into());
            let report = run_probe(&req, &opts()).await;
            assert_eq!(
                statuses(&report),
                vec![(Method::Options, 200), (Method::Invite, status)],
                "{transport:?} {number}: {report:?}"
            );
            assert_eq!(
                report.outcome,
                Outcome::Status {
                    status,
                    after_auth: false,
                    had_credentials: false
                }
            );
            assert_eq!(report.diagnosis, Diagnosis::NumberFormat);
        }
    }
}

/// The test call rang (tm's 180) and the probe CANCELled at once; tm answered the INVITE with
/// 487, which ended the probe. Kamailio sends that 487 before its 200 to the CANCEL ("200 ok
/// -- no more pending branches"), so the CANCEL's answer may come after the probe is done
/// and is not required here (SIPp's scenario answers the CANCEL first; see sipp.rs).
fn assert_rang_and_cancelled(report: &ProbeReport, what: &str) {
    assert_eq!(report.outcome, Outcome::Rang, "{what}: {report:?}");
    assert_eq!(report.diagnosis, Diagnosis::Ringing);
    assert!(report.diagnosis.healthy());
    let seen = statuses(report);
    let rang = seen
        .iter()
        .position(|s| *s == (Method::Invite, 180))
        .unwrap_or_else(|| panic!("{what}: no 180 in {seen:?}"));
    let after = &seen[rang + 1..];
    assert!(
        after.contains(&(Method::Invite, 487)),
        "{what}: the INVITE ended with 487: {seen:?}"
    );
    assert!(
        after
            .iter()
            .all(|s| [(Method::Invite, 487), (Method::Cancel, 200)].contains(s)),
        "{what}: {seen:?}"
    );
    assert!(!seen.iter().any(|(m, _)| *m == Method::Bye), "{seen:?}");
}

#[tokio::test]
async fn the_test_call_rings_and_is_cancelled() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
        let mut req = request(&k, transport, ANSWERED);
        req.test_number = Some(RINGS.into());
        let report = run_probe(&req, &opts()).await;
        assert_rang_and_cancelled(&report, &format!("{transport:?}"));
        k.assert_cancelled_and_acked(transport, ANSWERED);
        assert_eq!(
            &statuses(&report)[..1],
            &[(Method::Options, 200)],
            "{report:?}"
        );
        // Stopped at the 487, not at a timer (ringing: 8 s, transaction: 3 s).
        assert!(
            report.elapsed < Duration::from_secs(2),
            "{transport:?}: {:?}",
            report.elapsed
        );
    }
}

#[tokio::test]
async fn the_challenged_test_call_answers_the_407_then_rings_and_is_cancelled() {
    let Some(bin) = kamailio_available() else {
        return;
    };
    let k = Kamailio::start(&bin, Algorithm::Md5);
    for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
        let mut req = request(&k, transport, CHALLENGED);
        req.credentials = creds(PASSWORD);
        req.test_number = Some(RINGS.into());
        let report = run_probe(&req, &opts()).await;
        let seen = statuses(&report);
        assert_eq!(
            &seen[..3],
            &[
                (Method::Options, 401),
                (Method::Options, 200),
                (Method::Invite, 407)
            ],
            "{transport:?}: {report:?}"
        );
        // The statuses after the 407 answer the INVITE that carried Proxy-Authorization.
        let after: Vec<_> = report.responses[3..]
            .iter()
            .filter(|s| s.method == Method::Invite)
            .collect();
        assert!(
            after.iter().all(|s| s.authenticated),
            "{transport:?}: {report:?}"
        );
        assert_rang_and_cancelled(&report, &format!("{transport:?} with digest"));
        k.assert_cancelled_and_acked(transport, CHALLENGED);
    }
    // The wrong password on the INVITE's 407 is wrong credentials too.
    let mut req = request(&k, ProbeTransport::Udp, CHALLENGED);
    req.credentials = creds("not-the-password");
    req.test_number = Some(RINGS.into());
    let report = run_probe(&req, &opts()).await;
    assert_eq!(
        statuses(&report),
        vec![
            (Method::Options, 401),
            (Method::Options, 401),
            (Method::Invite, 407),
            (Method::Invite, 407)
        ],
        "{report:?}"
    );
    assert_eq!(report.diagnosis, Diagnosis::WrongCredentials);
}
