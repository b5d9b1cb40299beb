//! `transport`'s pure parts: server names, targets, errors, settings.

use super::*;

#[test]
fn server_names_from_hosts() {
    let t = "x:443";
    let dns = |h| match server_name(h, t).unwrap() {
        ServerName::DnsName(d) => d.as_ref().to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(dns("pstn.in2.exotel.com"), "pstn.in2.exotel.com");
    assert_eq!(dns("pstn.in2.exotel.com."), "pstn.in2.exotel.com");
    assert!(matches!(
        server_name("127.0.0.1", t).unwrap(),
        ServerName::IpAddress(_)
    ));
    assert!(matches!(
        server_name("[2001:db8::1]", t).unwrap(),
        ServerName::IpAddress(_)
    ));
    let e = server_name("not a host", t).unwrap_err();
    assert_eq!(
        (e.step(), e.kind()),
        (Step::Handshake, io::ErrorKind::InvalidInput)
    );
}

#[test]
fn targets_bracket_ipv6() {
    assert_eq!(hostport("2001:db8::1", 5061), "[2001:db8::1]:5061");
    assert_eq!(hostport("[2001:db8::1]", 5061), "[2001:db8::1]:5061");
    assert_eq!(
        hostport("pstn.in2.exotel.com", 443),
        "pstn.in2.exotel.com:443"
    );
}

#[test]
fn errors_say_the_step_and_keep_their_kind() {
    let e = ConnectError::new(
        Step::Connect,
        io::ErrorKind::ConnectionRefused,
        "203.0.113.5:443",
        "connection refused",
    );
    assert_eq!(
        e.to_string(),
        "TCP connect to 203.0.113.5:443 failed: connection refused"
    );
    assert!(e.is_refused() && !e.is_timeout() && !e.is_certificate());
    let io: io::Error = e.into();
    assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    let back = io
        .get_ref()
        .unwrap()
        .downcast_ref::<ConnectError>()
        .unwrap();
    assert_eq!(back.step(), Step::Connect);

    let e = ConnectError::timed_out(Step::Handshake, "h:443", Duration::from_secs(2));
    assert_eq!(
        e.to_string(),
        "TLS handshake with h:443 failed: no answer within 2s"
    );
    assert!(e.is_timeout());
}

#[test]
fn certificate_failures_are_told_apart() {
    let cert = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
    );
    let e = ConnectError::io(Step::Handshake, "h:443", cert);
    assert!(e.is_certificate(), "{e}");
    assert!(e.reason().contains("UnknownIssuer"), "{e}");
    let proto = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
    );
    assert!(!ConnectError::io(Step::Handshake, "h:443", proto).is_certificate());
}

#[test]
fn settings_add_roots_and_refuse_garbage() {
    let public = TlsSettings::public();
    assert!(public.roots.len() > 50, "{public:?}");
    assert_eq!(public.extra_roots, 0);
    assert!(TlsSettings::public()
        .with_extra_roots_pem(b"no pem here")
        .is_err());
    assert!(TlsSettings::public()
        .with_extra_root_der(b"not der")
        .is_err());
}
