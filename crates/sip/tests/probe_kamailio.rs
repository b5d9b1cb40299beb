//! The probe against a real Kamailio (Debian `kamailio`) playing a carrier's trunk (answering,
//! challenging, refusing), with
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

#[path = "support/kamailio.rs"]
mod kamailio;

use kamailio::*;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use trunkline_domain::Secret;
use trunkline_sip::{
    run_probe, Credentials, Diagnosis, Method, Outcome, ProbeOptions, ProbeReport, ProbeRequest,
    ProbeTransport, Timers,
};

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
