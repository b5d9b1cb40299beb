//! The bridge's driver on real sockets, with scripted peers: LiveKit over UDP, Exotel as a
//! TCP listener that challenges once. A full call (401 both sides, 180, 200, ACK, BYE), and an
//! Exotel that refuses the connection (503). Over TLS (a tokio-rustls Exotel with a test CA):
//! a call, and a certificate the bridge must not trust (503, nothing sent in clear).

#[path = "support/test_ca.rs"]
mod test_ca;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::timeout;
use trunkline_domain::Secret;
use trunkline_sip::bridge::{
    serve, BridgeConfig, BridgeTrunk, ExotelTransport, NoRelay, NumberFormat, Timers,
};
use trunkline_sip::digest::{self, Answer, Challenge};
use trunkline_sip::msg::{self, SipMsg};
use trunkline_sip::Credentials;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 8\r\n";

fn trunk(exotel_port: u16, transport: ExotelTransport) -> BridgeTrunk {
    BridgeTrunk {
        trunk_id: "ST_t".into(),
        digest_username: "lkuser".into(),
        digest_password: Secret::new("lkpass".into()),
        exotel_host: "127.0.0.1".into(),
        exotel_port,
        transport,
        exotel_number: "+918047000000".into(),
        account_sid: "acme".into(),
        exotel_credentials: Some(Credentials {
            username: "exouser".into(),
            password: Secret::new("exopass".into()),
        }),
        number_format: NumberFormat::E164NoPlus,
    }
}

async fn start_bridge(exotel_port: u16) -> SocketAddr {
    start_bridge_with(trunk(exotel_port, ExotelTransport::Tcp), Default::default()).await
}

async fn start_bridge_with(
    trunk: BridgeTrunk,
    tls: trunkline_sip::transport::TlsSettings,
) -> SocketAddr {
    start_bridge_allowing(trunk, tls, true).await
}

async fn start_bridge_allowing(
    trunk: BridgeTrunk,
    tls: trunkline_sip::transport::TlsSettings,
    allow_private_targets: bool,
) -> SocketAddr {
    // A port free over both UDP and TCP (another test may hold the TCP one).
    let (udp, tcp, addr) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            break (udp, tcp, addr);
        }
    };
    let cfg = BridgeConfig {
        realm: "trunkline".into(),
        livekit_address: addr.to_string(),
        provider_address: addr.to_string(),
        timers: Timers::default(),
        connect_timeout: Duration::from_secs(2),
        guard: Default::default(),
        tls,
        connections: Default::default(),
        livekit_media_ip: None,
        provider_media_ip: None,
        allow_private_targets,
    };
    let relay = NoRelay {
        caller: "127.0.0.1:30000".parse().unwrap(),
        callee: "127.0.0.1:30002".parse().unwrap(),
    };
    tokio::spawn(serve(
        udp,
        tcp,
        cfg,
        Arc::new(vec![trunk]),
        Arc::new(relay),
        std::future::pending(),
    ));
    addr
}

fn invite(cseq: u32, auth: Option<String>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:+919876543210@bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKlk{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550100@livekit>;tag=lk\r\nTo: <sip:+919876543210@bridge>\r\n\
         Call-ID: drv-call\r\nCSeq: {cseq} INVITE\r\nContact: <sip:lk@127.0.0.1:9>\r\n{auth}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

async fn recv_udp(s: &UdpSocket) -> SipMsg {
    let mut buf = vec![0u8; 65536];
    let n = timeout(Duration::from_secs(5), s.recv(&mut buf))
        .await
        .expect("LiveKit side got nothing")
        .unwrap();
    SipMsg::parse(&buf[..n]).unwrap()
}

/// The next final (or the given status) to LiveKit, skipping provisionals we do not want.
async fn recv_status(s: &UdpSocket, want: u16) -> SipMsg {
    loop {
        let m = recv_udp(s).await;
        if m.status() == Some(want) {
            return m;
        }
        assert!(
            m.status().is_some_and(|st| st < 200),
            "unexpected {:?}",
            m.start
        );
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Exotel's end of one connection (TCP or TLS), framing SIP by Content-Length.
struct Conn(Box<dyn Stream>, Vec<u8>);

impl Conn {
    async fn next(&mut self) -> SipMsg {
        loop {
            if let Some(end) = self.1.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.1[..end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map(|l| l.trim().parse::<usize>().unwrap())
                    .unwrap_or(0);
                if self.1.len() >= end + 4 + len {
                    let m: Vec<u8> = self.1.drain(..end + 4 + len).collect();
                    return SipMsg::parse(&m).unwrap();
                }
            }
            let mut buf = [0u8; 8192];
            let n = timeout(Duration::from_secs(5), self.0.read(&mut buf))
                .await
                .expect("Exotel side got nothing")
                .unwrap();
            assert!(n > 0, "closed");
            self.1.extend_from_slice(&buf[..n]);
        }
    }

    /// Whether the bridge closes the connection within `limit` (reads EOF).
    async fn closed_within(&mut self, limit: Duration) -> bool {
        let mut buf = [0u8; 1024];
        matches!(
            timeout(limit, self.0.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    async fn send(&mut self, m: &SipMsg) {
        self.0.write_all(&m.to_bytes()).await.unwrap();
        self.0.flush().await.unwrap();
    }
}

#[tokio::test]
async fn a_full_call_through_the_bridge() {
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = start_bridge(exotel.local_addr().unwrap().port()).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(bridge).await.unwrap();

    // LiveKit: challenged, then accepted.
    livekit_calls(&lk).await;
    assert_eq!(recv_udp(&lk).await.status(), Some(100));

    // Exotel: challenges once, checks the answer, rings, answers.
    let (stream, _) = timeout(Duration::from_secs(5), exotel.accept())
        .await
        .unwrap()
        .unwrap();
    let mut ex = Conn(Box::new(stream), vec![]);
    let inv = ex.next().await;
    assert!(inv
        .header("From")
        .unwrap()
        .contains("@acme.pstn.exotel.com>"));
    let mut r = msg::response(&inv, 401, "Unauthorized", Some("ex"));
    r.headers.push((
        "WWW-Authenticate".into(),
        "Digest realm=\"exotel\", nonce=\"abc\", qop=\"auth\"".into(),
    ));
    ex.send(&r).await;
    assert_eq!(ex.next().await.method(), Some("ACK"));
    let inv = ex.next().await;
    let a = inv.header("Authorization").expect("answered the challenge");
    assert!(a.contains("username=\"exouser\""));
    let mut ringing = msg::response(&inv, 180, "Ringing", Some("ex2"));
    ringing
        .headers
        .push(("Contact".into(), "<sip:ex@127.0.0.1:1>".into()));
    ex.send(&ringing).await;
    assert_eq!(recv_status(&lk, 180).await.status(), Some(180));
    let mut ok = msg::response(&inv, 200, "OK", Some("ex2"));
    ok.headers.push((
        "Contact".into(),
        "<sip:ex@127.0.0.1:1;transport=tcp>".into(),
    ));
    ok.headers
        .push(("Content-Type".into(), "application/sdp".into()));
    ok.body = SDP.as_bytes().to_vec();
    ex.send(&ok).await;
    assert_eq!(ex.next().await.method(), Some("ACK"));
    let ok_a = recv_status(&lk, 200).await;
    assert!(String::from_utf8_lossy(&ok_a.body).contains("m=audio 30000 "));

    // LiveKit ACKs and hangs up; Exotel gets the BYE.
    let to = ok_a.header("To").unwrap().to_owned();
    lk.send(in_dialog(&to, "ACK", 2).as_bytes()).await.unwrap();
    lk.send(in_dialog(&to, "BYE", 3).as_bytes()).await.unwrap();
    assert_eq!(recv_status(&lk, 200).await.cseq().unwrap().1, "BYE");
    let bye = ex.next().await;
    assert_eq!(bye.method(), Some("BYE"));
    ex.send(&msg::response(&bye, 200, "OK", None)).await;
    assert!(
        ex.closed_within(Duration::from_secs(2)).await,
        "the bridge closes its connection to Exotel when the call is over"
    );

    // The call is gone: a late BYE gets 481.
    tokio::time::sleep(Duration::from_millis(100)).await;
    lk.send(in_dialog(&to, "BYE", 4).as_bytes()).await.unwrap();
    assert_eq!(recv_udp(&lk).await.status(), Some(481));
}

#[tokio::test]
async fn exotel_refusing_the_connection_is_503_and_wrong_password_403() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let bridge = start_bridge(port).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(bridge).await.unwrap();
    let answer = |password: &'static str, ch: &Challenge| {
        digest::authorization(
            ch,
            &Answer {
                username: "lkuser",
                password,
                method: "INVITE",
                uri: "sip:+919876543210@bridge",
                cnonce: "x",
                nc: 1,
            },
        )
    };
    lk.send(invite(1, None).as_bytes()).await.unwrap();
    let ch = recv_udp(&lk).await;
    let ch = Challenge::parse(ch.header("WWW-Authenticate").unwrap()).unwrap();
    lk.send(invite(2, Some(answer("wrong", &ch))).as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_udp(&lk).await.status(), Some(403));
    lk.send(invite(3, Some(answer("lkpass", &ch))).as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_status(&lk, 503).await.status(), Some(503));
    // Garbage gets nothing; a broken request with a Via gets 400; OPTIONS gets 200.
    lk.send(b"hello\r\n\r\n").await.unwrap();
    lk.send(b"OPTIONS sip:bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKo\r\nCall-ID: o\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = timeout(Duration::from_secs(5), lk.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // Our 400 copies what the request had: no From/CSeq here, so it is printed, not parsed.
    assert!(buf[..n].starts_with(b"SIP/2.0 400 missing From\r\n"));
    lk.send(
        b"OPTIONS sip:bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKp\r\nFrom: <sip:a@b>;tag=1\r\n\
          To: <sip:bridge>\r\nCall-ID: p\r\nCSeq: 1 OPTIONS\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(recv_udp(&lk).await.status(), Some(200));
}

/// A request from LiveKit in the call's dialog (`to`: the To of our 200).
fn in_dialog(to: &str, method: &str, cseq: u32) -> String {
    format!(
        "{method} sip:bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{method}{cseq}\r\n\
         From: <sip:+15550100@livekit>;tag=lk\r\nTo: {to}\r\nCall-ID: drv-call\r\nCSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// LiveKit's INVITE, challenged and answered: the bridge now calls Exotel.
async fn livekit_calls(lk: &UdpSocket) {
    lk.send(invite(1, None).as_bytes()).await.unwrap();
    let ch = recv_udp(lk).await;
    assert_eq!(ch.status(), Some(401));
    let ch = Challenge::parse(ch.header("WWW-Authenticate").unwrap()).unwrap();
    let auth = digest::authorization(
        &ch,
        &Answer {
            username: "lkuser",
            password: "lkpass",
            method: "INVITE",
            uri: "sip:+919876543210@bridge",
            cnonce: "x",
            nc: 1,
        },
    );
    lk.send(invite(2, Some(auth)).as_bytes()).await.unwrap();
}

#[tokio::test]
async fn a_call_to_exotel_over_tls() {
    let ca = test_ca::TestCa::new();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server(&["127.0.0.1"])));
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = exotel.local_addr().unwrap().port();
    let bridge = start_bridge_with(trunk(port, ExotelTransport::Tls), ca.settings()).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(bridge).await.unwrap();
    livekit_calls(&lk).await;

    let (tcp, _) = timeout(Duration::from_secs(5), exotel.accept())
        .await
        .unwrap()
        .unwrap();
    let tls = timeout(Duration::from_secs(5), acceptor.accept(tcp))
        .await
        .unwrap()
        .expect("the bridge completes the TLS handshake");
    let mut ex = Conn(Box::new(tls), vec![]);
    let inv = ex.next().await;
    assert_eq!(
        inv.uri(),
        Some(format!("sip:919876543210@127.0.0.1:{port};transport=tls").as_str())
    );
    assert!(inv.top_via().unwrap().starts_with("SIP/2.0/TLS "));
    assert!(inv.header("Contact").unwrap().ends_with(";transport=tls>"));
    let mut ok = msg::response(&inv, 200, "OK", Some("ex"));
    ok.headers.push((
        "Contact".into(),
        "<sip:ex@127.0.0.1:1;transport=tls>".into(),
    ));
    ok.headers
        .push(("Content-Type".into(), "application/sdp".into()));
    ok.body = SDP.as_bytes().to_vec();
    ex.send(&ok).await;
    assert_eq!(ex.next().await.method(), Some("ACK"));
    let ok_a = recv_status(&lk, 200).await;
    let to = ok_a.header("To").unwrap().to_owned();
    lk.send(in_dialog(&to, "ACK", 2).as_bytes()).await.unwrap();
    lk.send(in_dialog(&to, "BYE", 3).as_bytes()).await.unwrap();
    let bye = ex.next().await;
    assert_eq!(
        bye.method(),
        Some("BYE"),
        "the BYE goes over the same TLS connection"
    );
    ex.send(&msg::response(&bye, 200, "OK", None)).await;
}

#[tokio::test]
async fn an_exotel_certificate_the_bridge_does_not_trust_is_503_and_nothing_in_clear() {
    let trusted = test_ca::TestCa::new();
    // Exotel presents a self-signed certificate; the bridge trusts only `trusted`'s CA.
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(test_ca::self_signed(&["127.0.0.1"])));
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = exotel.local_addr().unwrap().port();
    let bridge = start_bridge_with(trunk(port, ExotelTransport::Tls), trusted.settings()).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(bridge).await.unwrap();
    livekit_calls(&lk).await;
    let (tcp, _) = timeout(Duration::from_secs(5), exotel.accept())
        .await
        .unwrap()
        .unwrap();
    let server = tokio::spawn(async move {
        // The handshake fails on the bridge's side: no SIP ever arrives in clear.
        match acceptor.accept(tcp).await {
            Ok(mut s) => {
                let mut buf = [0u8; 64];
                matches!(
                    timeout(Duration::from_secs(2), s.read(&mut buf)).await,
                    Ok(Ok(0) | Err(_)) | Err(_)
                )
            }
            Err(_) => true,
        }
    });
    assert_eq!(recv_status(&lk, 503).await.status(), Some(503));
    assert!(server.await.unwrap(), "no SIP reached the untrusted server");
}

/// The next message to LiveKit about `call_id` (another call's provisionals skipped).
async fn recv_for(s: &UdpSocket, call_id: &str) -> SipMsg {
    loop {
        let m = recv_udp(s).await;
        if m.call_id() == call_id {
            return m;
        }
    }
}

/// An Authorization seen on the wire places no other call: not to another number (its `uri`
/// is not the new Request-URI), and not again to the same one (its nonce count is used up).
#[tokio::test]
async fn a_replayed_authorization_places_no_call() {
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = start_bridge(exotel.local_addr().unwrap().port()).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(bridge).await.unwrap();
    lk.send(invite(1, None).as_bytes()).await.unwrap();
    let ch = recv_udp(&lk).await;
    let ch = Challenge::parse(ch.header("WWW-Authenticate").unwrap()).unwrap();
    let auth = digest::authorization(
        &ch,
        &Answer {
            username: "lkuser",
            password: "lkpass",
            method: "INVITE",
            uri: "sip:+919876543210@bridge",
            cnonce: "x",
            nc: 1,
        },
    );
    lk.send(invite(2, Some(auth.clone())).as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_for(&lk, "drv-call").await.status(), Some(100));
    let (mut first, _) = timeout(Duration::from_secs(5), exotel.accept())
        .await
        .unwrap()
        .unwrap();

    // The number changes in the request, not in the captured header.
    let other_number = invite(1, None)
        .replace("drv-call", "replay-1")
        .replace("+919876543210", "+918000000001")
        .replace(
            "Content-Type:",
            &format!("Authorization: {auth}\r\nContent-Type:"),
        );
    lk.send(other_number.as_bytes()).await.unwrap();
    assert_eq!(recv_for(&lk, "replay-1").await.status(), Some(400));
    let same_number = invite(1, Some(auth)).replace("drv-call", "replay-2");
    lk.send(same_number.as_bytes()).await.unwrap();
    assert_eq!(recv_for(&lk, "replay-2").await.status(), Some(403));
    // Exotel heard of the first call only.
    assert!(
        timeout(Duration::from_millis(300), exotel.accept())
            .await
            .is_err(),
        "no second call to Exotel"
    );
    let mut buf = [0u8; 4096];
    let n = first.read(&mut buf).await.unwrap();
    assert!(n > 0);
}

/// An Exotel trunk's host is a tenant's input: `0x7f000001` is 127.0.0.1 to the resolver.
/// Unless the operator allows private targets, the bridge connects to no internal address
/// (503 toward LiveKit, nothing reaches the listener); allowed, the same trunk is called.
#[tokio::test]
async fn an_exotel_host_resolving_inside_is_not_connected_to() {
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = exotel.local_addr().unwrap().port();
    let inside = BridgeTrunk {
        exotel_host: "0x7f000001".into(),
        ..trunk(port, ExotelTransport::Tcp)
    };
    let refused = start_bridge_allowing(inside.clone(), Default::default(), false).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(refused).await.unwrap();
    livekit_calls(&lk).await;
    assert_eq!(recv_status(&lk, 503).await.status(), Some(503));
    assert!(
        timeout(Duration::from_millis(300), exotel.accept())
            .await
            .is_err(),
        "no connection to an internal address"
    );

    let allowed = start_bridge_allowing(inside, Default::default(), true).await;
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(allowed).await.unwrap();
    livekit_calls(&lk).await;
    let (mut conn, _) = timeout(Duration::from_secs(5), exotel.accept())
        .await
        .expect("allowed: the bridge calls the trunk")
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(conn.read(&mut buf).await.unwrap() > 0);
}

/// A relay listening on 0.0.0.0 with no address configured for the SDP: the call is refused
/// (503) rather than offered with `c=IN IP4 0.0.0.0`, which no peer can send to.
#[tokio::test]
async fn an_unspecified_media_address_is_never_offered() {
    let (udp, tcp, addr) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            break (udp, tcp, addr);
        }
    };
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = BridgeConfig {
        realm: "trunkline".into(),
        livekit_address: addr.to_string(),
        provider_address: addr.to_string(),
        timers: Timers::default(),
        connect_timeout: Duration::from_secs(2),
        guard: Default::default(),
        tls: Default::default(),
        connections: Default::default(),
        livekit_media_ip: None,
        provider_media_ip: None,
        allow_private_targets: true,
    };
    let relay = NoRelay {
        caller: "0.0.0.0:30000".parse().unwrap(),
        callee: "0.0.0.0:30002".parse().unwrap(),
    };
    let trunk = trunk(exotel.local_addr().unwrap().port(), ExotelTransport::Tcp);
    tokio::spawn(serve(
        udp,
        tcp,
        cfg,
        Arc::new(vec![trunk]),
        Arc::new(relay),
        std::future::pending(),
    ));
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(addr).await.unwrap();
    livekit_calls(&lk).await;
    assert_eq!(recv_status(&lk, 503).await.status(), Some(503));
    assert!(
        timeout(Duration::from_millis(300), exotel.accept())
            .await
            .is_err(),
        "no INVITE with 0.0.0.0 went to Exotel"
    );
}
