//! SIP over TLS against a local TLS server: `transport::connect` and the probe. The server is
//! tokio-rustls with certificates made at test time (rcgen): a test CA the client is told to
//! trust, or a self-signed certificate it is not. It frames SIP by Content-Length and answers
//! OPTIONS with 200, or with a digest challenge (verified with the crate's own digest code)
//! and then 200. Also: a closed port, a peer that accepts TCP and never handshakes, and a
//! plain SIP/TCP port dialled with TLS.

#[path = "support/sip_tls_server.rs"]
mod sip_tls_server;
#[path = "support/test_ca.rs"]
mod test_ca;

use sip_tls_server::*;
use std::time::Duration;
use test_ca::{self_signed, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use trunkline_domain::Secret;
use trunkline_sip::transport::{self, Step, StreamTransport, TlsSettings};
use trunkline_sip::{
    run_probe, Credentials, Diagnosis, Method, Outcome, ProbeOptions, ProbeRequest, ProbeTransport,
};
// --- the probe -----------------------------------------------------------------------------

fn tls_request(port: u16, credentials: Option<&str>) -> ProbeRequest {
    ProbeRequest {
        host: "127.0.0.1".into(),
        port,
        transport: ProbeTransport::Tls,
        credentials: credentials.map(|password| Credentials {
            username: USER.into(),
            password: Secret::new(password.into()),
        }),
        from_number: "+919876543210".into(),
        from_domain: Some("acme.pstn.exotel.com".into()),
        test_number: None,
        allow_internal: true,
    }
}

fn opts(tls: TlsSettings, connect_timeout: Duration) -> ProbeOptions {
    ProbeOptions {
        connect_timeout,
        tls,
        ..ProbeOptions::quick()
    }
}

fn statuses(r: &trunkline_sip::ProbeReport) -> Vec<(Method, u16, bool)> {
    r.responses
        .iter()
        .map(|s| (s.method, s.status, s.authenticated))
        .collect()
}

#[tokio::test]
async fn the_probe_over_tls_is_answered_200() {
    let ca = TestCa::new();
    let server = sip_tls_server(ca.server(&["localhost", "127.0.0.1"]), false).await;
    let report = run_probe(
        &tls_request(server.addr.port(), None),
        &opts(ca.settings(), Duration::from_secs(2)),
    )
    .await;
    assert_eq!(report.diagnosis, Diagnosis::Reachable, "{report:?}");
    assert!(report.reachable);
    assert_eq!(report.transport, ProbeTransport::Tls);
    assert_eq!(report.transport.as_str(), "tls");
    assert_eq!(statuses(&report), vec![(Method::Options, 200, false)]);

    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 1);
    let request = &seen.requests[0];
    assert!(request.starts_with("OPTIONS sip:127.0.0.1:"), "{request}");
    let via = header(request, "Via").unwrap();
    assert!(via.starts_with("SIP/2.0/TLS 127.0.0.1:"), "{via}");
    assert!(
        header(request, "Contact")
            .unwrap()
            .ends_with(";transport=tls>"),
        "{request}"
    );
    // An IP literal is checked against the certificate's IP address and sends no SNI.
    assert_eq!(seen.sni, vec![None]);
}

#[tokio::test]
async fn the_probe_over_tls_answers_the_digest_challenge() {
    let ca = TestCa::new();
    let server = sip_tls_server(ca.server(&["127.0.0.1"]), true).await;
    let report = run_probe(
        &tls_request(server.addr.port(), Some(PASSWORD)),
        &opts(ca.settings(), Duration::from_secs(2)),
    )
    .await;
    assert_eq!(report.diagnosis, Diagnosis::Reachable, "{report:?}");
    assert_eq!(
        statuses(&report),
        vec![(Method::Options, 401, false), (Method::Options, 200, true)]
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 2);
    assert!(header(&seen.requests[1], "Authorization").is_some());
    // One connection: the retry rode the same TLS session.
    assert_eq!(seen.sni.len(), 1);
}

#[tokio::test]
async fn the_probe_over_tls_reports_wrong_credentials() {
    let ca = TestCa::new();
    let server = sip_tls_server(ca.server(&["127.0.0.1"]), true).await;
    let report = run_probe(
        &tls_request(server.addr.port(), Some("not-the-password")),
        &opts(ca.settings(), Duration::from_secs(2)),
    )
    .await;
    assert_eq!(report.diagnosis, Diagnosis::WrongCredentials, "{report:?}");
    assert_eq!(
        statuses(&report),
        vec![(Method::Options, 401, false), (Method::Options, 401, true)]
    );
    // The report holds no password.
    assert!(!format!("{report:?}").contains("not-the-password"));
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_certificate_diagnosis() {
    let ca = TestCa::new();
    let server = sip_tls_server(self_signed(&["localhost", "127.0.0.1"]), false).await;

    let started = Instant::now();
    let err = transport::connect(
        "127.0.0.1",
        server.addr.port(),
        StreamTransport::Tls,
        // Trusts the test CA, which did not sign this certificate.
        &ca.settings(),
        Duration::from_secs(2),
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "{err}");
    assert_eq!(err.step(), Step::Handshake, "{err}");
    assert!(err.is_certificate(), "{err}");
    assert!(err.reason().contains("UnknownIssuer"), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "TLS handshake with 127.0.0.1:{} failed: invalid peer certificate",
            server.addr.port()
        )),
        "{err}"
    );

    let report = run_probe(
        &tls_request(server.addr.port(), Some(PASSWORD)),
        &opts(TlsSettings::public(), Duration::from_secs(2)),
    )
    .await;
    assert_eq!(report.diagnosis, Diagnosis::TlsCertificate, "{report:?}");
    assert_eq!(report.diagnosis.code(), "tls_certificate");
    assert!(matches!(
        &report.outcome,
        Outcome::TlsFailed { certificate: true, reason } if reason.contains("UnknownIssuer")
    ));
    assert!(!report.reachable && report.responses.is_empty());
    let detail = report.detail();
    assert!(
        detail.starts_with("TLS handshake failed: invalid peer certificate: UnknownIssuer. "),
        "{detail}"
    );
    assert!(detail.contains("certificate"), "{detail}");
    assert!(!detail.contains(PASSWORD) && !format!("{report:?}").contains(PASSWORD));
    // Nothing SIP crossed the wire.
    assert!(server.seen.lock().unwrap().requests.is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_certificate_failure() {
    let ca = TestCa::new();
    let server = sip_tls_server(ca.server(&["sip.example.test"]), false).await;
    let err = transport::connect(
        "127.0.0.1",
        server.addr.port(),
        StreamTransport::Tls,
        &ca.settings(),
        Duration::from_secs(2),
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(err.step(), Step::Handshake, "{err}");
    assert!(err.is_certificate(), "{err}");
}

#[tokio::test]
async fn connect_by_name_sends_sni_and_carries_sip() {
    let ca = TestCa::new();
    let server = sip_tls_server(ca.server(&["localhost"]), false).await;
    // "localhost" may resolve to ::1 first, where nothing listens: refused, next address.
    let mut stream = transport::connect(
        "localhost",
        server.addr.port(),
        StreamTransport::Tls,
        &ca.settings(),
        Duration::from_secs(2),
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap();
    assert_eq!(stream.transport(), StreamTransport::Tls);
    assert_eq!(stream.peer_addr(), server.addr);
    assert!(stream.local_addr().ip().is_loopback());

    let local = stream.local_addr();
    let options = format!(
        "OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls1\r\nFrom: <sip:probe@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(options.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut framer = Framer::default();
    let mut buf = [0u8; 4096];
    let response = loop {
        if let Some(m) = framer.next() {
            break m;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before a response");
        framer.buf.extend_from_slice(&buf[..n]);
    };
    assert!(response.starts_with("SIP/2.0 200 OK\r\n"), "{response}");
    assert_eq!(header(&response, "Call-ID"), Some("tls-1"));
    stream.shutdown().await.unwrap();
    assert_eq!(
        server.seen.lock().unwrap().sni,
        vec![Some("localhost".to_owned())]
    );
}

#[tokio::test]
async fn plain_tcp_through_the_same_call() {
    let ca = TestCa::new();
    let server = sip_tls_server(ca.server(&["localhost"]), false).await;
    // A TCP "connection" to a TLS port succeeds: TCP has no handshake to fail.
    let stream = transport::connect(
        "127.0.0.1",
        server.addr.port(),
        StreamTransport::Tcp,
        &TlsSettings::public(),
        Duration::from_secs(2),
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap();
    assert_eq!(stream.transport(), StreamTransport::Tcp);
    assert_eq!(stream.peer_addr(), server.addr);
}

#[tokio::test]
async fn a_closed_port_is_refused_at_once() {
    let port = closed_port().await;
    let started = Instant::now();
    let err = transport::connect(
        "127.0.0.1",
        port,
        StreamTransport::Tls,
        &TlsSettings::public(),
        Duration::from_secs(5),
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "{err}");
    assert_eq!(err.step(), Step::Connect, "{err}");
    assert!(err.is_refused(), "{err}");
    assert_eq!(
        err.to_string(),
        format!("TCP connect to 127.0.0.1:{port} failed: connection refused")
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);

    let started = Instant::now();
    let report = run_probe(
        &tls_request(port, None),
        &opts(TlsSettings::public(), Duration::from_secs(5)),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1), "{report:?}");
    assert_eq!(report.outcome, Outcome::ConnectRefused, "{report:?}");
    assert_eq!(report.diagnosis, Diagnosis::PortClosed);
}

#[tokio::test]
async fn a_peer_that_never_handshakes_times_out_in_the_handshake_step() {
    let (addr, server) = silent_server().await;
    let step = Duration::from_millis(300);
    let started = Instant::now();
    let err = transport::connect(
        "127.0.0.1",
        addr.port(),
        StreamTransport::Tls,
        &TlsSettings::public(),
        step,
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= step && took < step + Duration::from_millis(700),
        "{took:?}"
    );
    assert_eq!(err.step(), Step::Handshake, "{err}");
    assert!(err.is_timeout() && !err.is_certificate(), "{err}");

    let started = Instant::now();
    let report = run_probe(
        &tls_request(addr.port(), None),
        &opts(TlsSettings::public(), step),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= step && took < step + Duration::from_millis(700),
        "{took:?}"
    );
    assert_eq!(report.diagnosis, Diagnosis::TlsHandshake, "{report:?}");
    assert!(report.connect_time.unwrap() >= step);
    assert!(
        report
            .detail()
            .starts_with("TLS handshake failed: no answer within 300ms. "),
        "{}",
        report.detail()
    );
    server.abort();
}

#[tokio::test]
async fn a_plain_sip_port_dialled_with_tls_is_a_handshake_diagnosis() {
    let addr = plain_sip_server().await;
    let err = transport::connect(
        "127.0.0.1",
        addr.port(),
        StreamTransport::Tls,
        &TlsSettings::public(),
        Duration::from_secs(2),
        // Loopback: the test servers are local.
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(err.step(), Step::Handshake, "{err}");
    assert!(!err.is_certificate() && !err.is_timeout(), "{err}");

    let report = run_probe(
        &tls_request(addr.port(), None),
        &opts(TlsSettings::public(), Duration::from_secs(2)),
    )
    .await;
    assert_eq!(report.diagnosis, Diagnosis::TlsHandshake, "{report:?}");
    assert!(report.detail().contains("does not speak TLS"));
}

#[test]
fn settings_take_a_pem_ca_bundle() {
    let ca = TestCa::new();
    let pem = format!(
        "# comment lines are skipped\n-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64(ca.der.as_ref())
    );
    let settings = TlsSettings::public()
        .with_extra_roots_pem(pem.as_bytes())
        .unwrap();
    assert!(
        format!("{settings:?}").contains("extra_roots: 1"),
        "{settings:?}"
    );
}

/// Standard base64 with padding, for the PEM test (no base64 dependency for one test).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
