//! The probe against real SIP peers: SIPp (Debian `sip-tester`) as the provider's UAS, a
//! silent socket, and a closed port. Each test picks free ports. Without the `sipp` binary
//! the SIPp tests skip with a message (CI installs it).

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trunkline_domain::Secret;
use trunkline_sip::{
    run_probe, Credentials, Diagnosis, Method, Outcome, ProbeOptions, ProbeRequest, ProbeTransport,
    Timers,
};

fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: the sipp binary is missing (apt-get install sip-tester)");
    }
    found
}

fn free_port(transport: ProbeTransport) -> u16 {
    match transport {
        ProbeTransport::Udp => UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        ProbeTransport::Tcp => TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        ProbeTransport::Tls => unreachable!("SIPp here has no TLS (tests/tls_transport.rs)"),
    }
}

/// Whether something listens on 127.0.0.1:`port` over TCP, read from /proc (connecting to
/// SIPp to find out would be a call it did not expect).
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

/// SIPp running `scenario` as a UAS on a free port, for `calls` calls.
struct Sipp {
    child: Child,
    port: u16,
}

impl Sipp {
    fn start(scenario: &str, transport: ProbeTransport, calls: u32) -> Self {
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "scenarios", scenario]
            .iter()
            .collect();
        let port = free_port(transport);
        let t = match transport {
            ProbeTransport::Udp => "u1",
            ProbeTransport::Tcp => "t1",
            ProbeTransport::Tls => unreachable!("SIPp here has no TLS"),
        };
        #[allow(clippy::zombie_processes)] // reaped in Drop
        let child = Command::new("sipp")
            .args(["-sf"])
            .arg(&path)
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-t", t])
            .args([
                "-m",
                &calls.to_string(),
                "-timeout",
                "20s",
                "-timeout_error",
                "-nostdin",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir(std::env::temp_dir())
            .spawn()
            .expect("spawn sipp");
        // Drop kills and reaps it on every path, the panic below included.
        let sipp = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let up = match transport {
                ProbeTransport::Udp => udp_bound(port),
                ProbeTransport::Tcp | ProbeTransport::Tls => tcp_listening(port),
            };
            if up {
                return sipp;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sipp did not start listening on port {port}");
    }

    /// SIPp's verdict: exit 0 when every call ran the scenario to its end.
    fn wait_success(mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(port: u16, transport: ProbeTransport) -> ProbeRequest {
    ProbeRequest {
        host: "127.0.0.1".into(),
        port,
        transport,
        credentials: None,
        from_number: "+15550100".into(),
        from_domain: None,
        test_number: None,
        allow_internal: true,
    }
}

fn creds(password: &str) -> Option<Credentials> {
    Some(Credentials {
        username: "alice".into(),
        password: Secret::new(password.into()),
    })
}

fn opts(transaction: Duration) -> ProbeOptions {
    ProbeOptions {
        timers: Timers {
            transaction_timeout: transaction,
            ..Timers::default()
        },
        ..ProbeOptions::quick()
    }
}

fn statuses(r: &trunkline_sip::ProbeReport) -> Vec<(Method, u16)> {
    r.responses.iter().map(|s| (s.method, s.status)).collect()
}

#[tokio::test]
async fn options_answered_200_over_udp_and_tcp() {
    if !sipp_available() {
        return;
    }
    for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
        let sipp = Sipp::start("options_200.xml", transport, 1);
        let report = run_probe(
            &request(sipp.port, transport),
            &opts(Duration::from_secs(3)),
        )
        .await;
        assert_eq!(
            report.diagnosis,
            Diagnosis::Reachable,
            "{transport:?}: {report:?}"
        );
        assert!(report.reachable);
        assert_eq!(statuses(&report), vec![(Method::Options, 200)]);
        assert!(report.rtt.unwrap() < Duration::from_secs(1));
        assert!(
            sipp.wait_success(),
            "{transport:?}: sipp saw the scenario through"
        );
    }
}

#[tokio::test]
async fn a_digest_challenge_is_answered_and_verified_by_sipp() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("options_auth.xml", ProbeTransport::Udp, 1);
    let mut req = request(sipp.port, ProbeTransport::Udp);
    req.credentials = creds("s3cret-pw");
    let report = run_probe(&req, &opts(Duration::from_secs(3))).await;
    assert_eq!(
        statuses(&report),
        vec![(Method::Options, 401), (Method::Options, 200)]
    );
    assert!(report.responses[1].authenticated);
    assert_eq!(report.diagnosis, Diagnosis::Reachable, "{report:?}");
    assert!(sipp.wait_success());
}

#[tokio::test]
async fn wrong_credentials_are_diagnosed_as_such() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("options_auth.xml", ProbeTransport::Tcp, 1);
    let mut req = request(sipp.port, ProbeTransport::Tcp);
    req.credentials = creds("not-the-password");
    let report = run_probe(&req, &opts(Duration::from_secs(3))).await;
    assert_eq!(
        statuses(&report),
        vec![(Method::Options, 401), (Method::Options, 401)]
    );
    assert_eq!(report.diagnosis, Diagnosis::WrongCredentials, "{report:?}");
    assert!(!format!("{report:?}").contains("not-the-password"));
}

#[tokio::test]
async fn a_403_means_not_allowed() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("options_403.xml", ProbeTransport::Udp, 1);
    let report = run_probe(
        &request(sipp.port, ProbeTransport::Udp),
        &opts(Duration::from_secs(3)),
    )
    .await;
    assert_eq!(statuses(&report), vec![(Method::Options, 403)]);
    assert_eq!(report.diagnosis, Diagnosis::NotAllowed);
    assert!(sipp.wait_success());
}

#[tokio::test]
async fn the_invite_is_cancelled_at_180_and_the_487_acked() {
    if !sipp_available() {
        return;
    }
    for transport in [ProbeTransport::Udp, ProbeTransport::Tcp] {
        let sipp = Sipp::start("invite_cancel.xml", transport, 2);
        let mut req = request(sipp.port, transport);
        req.test_number = Some("+15550199".into());
        let report = run_probe(&req, &opts(Duration::from_secs(3))).await;
        assert_eq!(report.outcome, Outcome::Rang, "{transport:?}: {report:?}");
        assert_eq!(report.diagnosis, Diagnosis::Ringing);
        let seen = statuses(&report);
        for want in [
            (Method::Options, 200),
            (Method::Invite, 180),
            (Method::Cancel, 200),
            (Method::Invite, 487),
        ] {
            assert!(
                seen.contains(&want),
                "{transport:?}: {want:?} missing from {seen:?}"
            );
        }
        // SIPp exits 0 only if it got the CANCEL and then the ACK of its 487.
        assert!(
            sipp.wait_success(),
            "{transport:?}: sipp saw CANCEL and ACK"
        );
    }
}

#[tokio::test]
async fn a_silent_peer_times_out_within_its_bound() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let report = run_probe(
        &request(port, ProbeTransport::Udp),
        &opts(Duration::from_millis(800)),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(report.diagnosis, Diagnosis::NoAnswer, "{report:?}");
    assert!(!report.reachable);
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "bounded by Timer F: {took:?}"
    );
    // Timer E: sent at 0, 0.5 s (and 1.5 s is past the end): retransmitted, not just sent once.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while silent.recv(&mut buf).is_ok() {
        n += 1;
    }
    assert_eq!(n, 2, "OPTIONS sent at 0 and retransmitted at T1");
}

/// A TCP port nobody listens on, below Linux's ephemeral range (32768–60999): a port from
/// that range can become the source port of another test's connection meanwhile, and a
/// connect to it then fails in other ways than "refused".
fn closed_tcp_port() -> u16 {
    use rand::Rng;
    loop {
        let port = rand::rng().random_range(20_000..30_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port; // bound, then closed at once
        }
    }
}

#[tokio::test]
async fn a_closed_tcp_port_is_reported_at_once() {
    let port = closed_tcp_port();
    let started = Instant::now();
    let report = run_probe(
        &request(port, ProbeTransport::Tcp),
        &opts(Duration::from_secs(5)),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(report.outcome, Outcome::ConnectRefused, "{report:?}");
    assert_eq!(report.diagnosis, Diagnosis::PortClosed);
    assert!(
        took < Duration::from_millis(500),
        "refused at once, not after a timeout: {took:?}"
    );
}

#[tokio::test]
async fn internal_targets_are_refused_unless_allowed_and_bad_hosts_do_not_resolve() {
    let mut req = request(9, ProbeTransport::Tcp);
    req.allow_internal = false;
    let report = run_probe(&req, &ProbeOptions::quick()).await;
    assert_eq!(report.diagnosis, Diagnosis::TargetNotAllowed);
    assert!(
        report.responses.is_empty() && report.connect_time.is_none(),
        "nothing was sent"
    );

    let mut req = request(5060, ProbeTransport::Udp);
    req.host = "no-such-host.invalid".into();
    let report = run_probe(&req, &ProbeOptions::quick()).await;
    assert_eq!(report.diagnosis, Diagnosis::HostNotFound);
}

/// RFC 3261 timers on tokio's paused clock: the full default Timer F (64×T1 = 32 s) with
/// Timer E's doubling capped at T2, without waiting 32 s.
#[tokio::test(start_paused = true)]
async fn default_timer_f_and_timer_e_schedule_on_a_paused_clock() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = tokio::time::Instant::now();
    let report = run_probe(
        &request(port, ProbeTransport::Udp),
        &ProbeOptions::default(),
    )
    .await;
    assert_eq!(report.diagnosis, Diagnosis::NoAnswer);
    assert_eq!(started.elapsed(), Duration::from_secs(32));
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while silent.recv(&mut buf).is_ok() {
        n += 1;
    }
    // 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5 s.
    assert_eq!(n, 11);
}
