//! The bridge's endpoint never waits on a peer. A TCP client that sends OPTIONS as fast as it
//! can and never reads its answers fills its socket buffers, then its connection's answer
//! queue: the bridge closes that connection, and meanwhile answers everyone else at once,
//! an OPTIONS over UDP from another socket as well as a whole call. A peer that dribbles a
//! message a byte at a time is closed once idle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::time::timeout;
use trunkline_domain::Secret;
use trunkline_sip::bridge::{
    serve, BridgeConfig, BridgeTrunk, ConnectionLimits, ExotelTransport, GuardConfig, NoRelay,
    NumberFormat, Timers,
};
use trunkline_sip::digest::{self, Answer, Challenge};
use trunkline_sip::msg::{self, SipMsg};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 8\r\n";

/// The flood is the point, not the rate limit.
fn unlimited_rate() -> GuardConfig {
    GuardConfig {
        rate_per_sec: 1e6,
        burst: 1e6,
        ..Default::default()
    }
}

async fn start(exotel_port: u16) -> SocketAddr {
    start_with(exotel_port, Default::default(), unlimited_rate()).await
}

async fn start_with(
    exotel_port: u16,
    connections: ConnectionLimits,
    guard: GuardConfig,
) -> SocketAddr {
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
        guard,
        tls: Default::default(),
        connections,
        livekit_media_ip: None,
        provider_media_ip: None,
        allow_private_targets: true,
    };
    let trunk = BridgeTrunk {
        trunk_id: "ST_t".into(),
        digest_username: "lkuser".into(),
        digest_password: Secret::new("lkpass".into()),
        exotel_host: "127.0.0.1".into(),
        exotel_port,
        transport: ExotelTransport::Tcp,
        exotel_number: "+918047000000".into(),
        account_sid: "acme".into(),
        exotel_credentials: None,
        number_format: NumberFormat::E164NoPlus,
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

fn options(tag: &str) -> String {
    format!(
        "OPTIONS sip:bridge SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{tag}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:flood@x>;tag={tag}\r\nTo: <sip:bridge>\r\n\
         Call-ID: {tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Connects with a tiny receive buffer and writes OPTIONS until the bridge closes the
/// connection or `limit` passes; never reads. Returns whether the bridge closed it.
async fn flood(bridge: SocketAddr, limit: Duration) -> bool {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut conn: TcpStream = sock.connect(bridge).await.unwrap();
    let batch: String = (0..100).map(|i| options(&format!("f{i}"))).collect();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match timeout(Duration::from_millis(200), conn.write_all(batch.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return true,
            // Our writes block: the bridge stopped reading us (or its buffers are full).
            Err(_) => {}
        }
    }
    false
}

async fn recv(s: &UdpSocket, within: Duration) -> SipMsg {
    let mut buf = vec![0u8; 65536];
    let n = timeout(within, s.recv(&mut buf))
        .await
        .expect("the bridge answered in time")
        .unwrap();
    SipMsg::parse(&buf[..n]).unwrap()
}

fn invite(cseq: u32, auth: Option<String>) -> String {
    invite_as("bp-call", cseq, auth)
}

fn invite_as(call_id: &str, cseq: u32, auth: Option<String>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:+919876543210@bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbp{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550100@livekit>;tag=lk\r\nTo: <sip:+919876543210@bridge>\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:lk@127.0.0.1:9>\r\n{auth}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

/// Exotel's end: the next framed message on the connection.
async fn next(conn: &mut TcpStream, pending: &mut Vec<u8>) -> SipMsg {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map(|l| l.trim().parse().unwrap())
                .unwrap_or(0);
            if pending.len() >= end + 4 + len {
                let m: Vec<u8> = pending.drain(..end + 4 + len).collect();
                return SipMsg::parse(&m).unwrap();
            }
        }
        let mut buf = [0u8; 8192];
        let n = timeout(Duration::from_secs(2), conn.read(&mut buf))
            .await
            .expect("Exotel heard from the bridge in time")
            .unwrap();
        assert!(n > 0, "closed");
        pending.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_peer_that_never_reads_stalls_nobody() {
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = start(exotel.local_addr().unwrap().port()).await;
    let flooding = tokio::spawn(flood(bridge, Duration::from_secs(6)));
    // Let the flood fill the buffers first.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // OPTIONS over UDP from another socket: each answered at once, throughout.
    let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    probe.connect(bridge).await.unwrap();
    for i in 0..10 {
        let sent = Instant::now();
        let req = options(&format!("u{i}")).replace("SIP/2.0/TCP", "SIP/2.0/UDP");
        probe.send(req.as_bytes()).await.unwrap();
        let r = recv(&probe, Duration::from_secs(1)).await;
        assert_eq!(r.status(), Some(200));
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "{:?}",
            sent.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A whole call over UDP, the non-reader still there or just dropped.
    let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    lk.connect(bridge).await.unwrap();
    lk.send(invite(1, None).as_bytes()).await.unwrap();
    let ch = recv(&lk, Duration::from_secs(1)).await;
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
    assert_eq!(recv(&lk, Duration::from_secs(1)).await.status(), Some(100));
    let (mut ex, _) = timeout(Duration::from_secs(2), exotel.accept())
        .await
        .unwrap()
        .unwrap();
    let mut pending = vec![];
    let inv = next(&mut ex, &mut pending).await;
    assert_eq!(inv.method(), Some("INVITE"));
    let mut ok = msg::response(&inv, 200, "OK", Some("ex"));
    ok.headers.push((
        "Contact".into(),
        "<sip:ex@127.0.0.1:1;transport=tcp>".into(),
    ));
    ok.headers
        .push(("Content-Type".into(), "application/sdp".into()));
    ok.body = SDP.as_bytes().to_vec();
    ex.write_all(&ok.to_bytes()).await.unwrap();
    assert_eq!(next(&mut ex, &mut pending).await.method(), Some("ACK"));
    let answered = recv(&lk, Duration::from_secs(1)).await;
    assert_eq!(answered.status(), Some(200));

    assert!(
        flooding.await.unwrap(),
        "the bridge closes the connection of a peer that does not read"
    );
}

#[tokio::test]
async fn a_connection_without_a_whole_message_is_closed_when_idle() {
    let limits = ConnectionLimits {
        idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let bridge = start_with(9, limits, unlimited_rate()).await;
    let mut conn = TcpStream::connect(bridge).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    // A byte every 50 ms: never a whole message.
    for b in options("slow").bytes() {
        if conn.write_all(&[b]).await.is_err() {
            break;
        }
        match timeout(Duration::from_millis(50), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => panic!("an answer to half a message"),
            Err(_) => {}
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "closed after {took:?}"
    );
}

/// LiveKit's side of a new call from `lk`: challenged, answered; the status that follows.
async fn call_from(lk: &UdpSocket, call_id: &str) -> u16 {
    lk.send(invite_as(call_id, 1, None).as_bytes())
        .await
        .unwrap();
    let ch = recv(lk, Duration::from_secs(2)).await;
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
    lk.send(invite_as(call_id, 2, Some(auth)).as_bytes())
        .await
        .unwrap();
    recv(lk, Duration::from_secs(2)).await.status().unwrap()
}

/// Each call holds relay ports: one source may hold only so many calls (and ports), and is
/// answered 503 past that, while another source still gets through.
#[tokio::test]
async fn calls_and_relay_ports_per_source_are_capped() {
    // Exotel accepts and never answers: the calls stay in progress.
    let exotel = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = exotel.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((c, _)) = exotel.accept().await {
            held.push(c);
        }
    });
    for (calls, ports) in [(1, 100), (100, 4)] {
        let guard = GuardConfig {
            max_calls_per_source: calls,
            max_rtp_ports_per_source: ports,
            ..Default::default()
        };
        let bridge = start_with(port, Default::default(), guard).await;
        let lk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        lk.connect(bridge).await.unwrap();
        assert_eq!(call_from(&lk, "cap-1").await, 100, "{calls} {ports}");
        assert_eq!(call_from(&lk, "cap-2").await, 503, "{calls} {ports}");
        // Another source (Linux answers on all of 127/8).
        let other = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        other.connect(bridge).await.unwrap();
        assert_eq!(call_from(&other, "cap-3").await, 100, "{calls} {ports}");
    }
}
