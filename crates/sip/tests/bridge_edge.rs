//! The bridge's edge on real sockets: a source outside the allowed networks, a scanner, and a
//! source past its rate get no answer at all; an allowed source is answered; TCP connections
//! per source are capped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use trunkline_sip::bridge::{serve, BridgeConfig, BridgeTrunk, GuardConfig, NoRelay, Timers};

async fn start(guard: GuardConfig) -> SocketAddr {
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
        guard,
        tls: Default::default(),
        connections: Default::default(),
        livekit_media_ip: None,
        provider_media_ip: None,
        allow_private_targets: true,
    };
    let relay = NoRelay {
        caller: "127.0.0.1:30000".parse().unwrap(),
        callee: "127.0.0.1:30002".parse().unwrap(),
    };
    let directory: Vec<BridgeTrunk> = vec![];
    tokio::spawn(serve(
        udp,
        tcp,
        cfg,
        Arc::new(directory),
        Arc::new(relay),
        std::future::pending(),
    ));
    addr
}

fn options(n: u32, ua: &str) -> String {
    format!(
        "OPTIONS sip:bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKedge{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@x>;tag=e{n}\r\nTo: <sip:bridge>\r\nCall-ID: edge-{n}\r\n\
         CSeq: 1 OPTIONS\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends an OPTIONS from `from` and returns the answer's status line, if any within 300 ms.
async fn ask(from: &str, bridge: SocketAddr, n: u32, ua: &str) -> Option<String> {
    let sock = UdpSocket::bind(from).await.unwrap();
    sock.send_to(options(n, ua).as_bytes(), bridge)
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let got = tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await;
    got.ok().and_then(|r| r.ok()).map(|(len, _)| {
        String::from_utf8_lossy(&buf[..len])
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    })
}

#[tokio::test]
async fn only_allowed_sources_that_are_not_scanners_get_an_answer() {
    let bridge = start(GuardConfig {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
        ..Default::default()
    })
    .await;
    assert_eq!(
        ask("127.0.0.1:0", bridge, 1, "LiveKit").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    // Linux routes all of 127.0.0.0/8 to loopback: 127.0.0.2 is another source.
    assert_eq!(ask("127.0.0.2:0", bridge, 2, "LiveKit").await, None);
    assert_eq!(
        ask("127.0.0.1:0", bridge, 3, "friendly-scanner").await,
        None
    );
    assert_eq!(ask("127.0.0.1:0", bridge, 4, "sipvicious").await, None);
    // Still answering the allowed source afterwards.
    assert_eq!(
        ask("127.0.0.1:0", bridge, 5, "LiveKit").await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
}

#[tokio::test]
async fn a_source_past_its_rate_is_dropped_silently() {
    let bridge = start(GuardConfig {
        rate_per_sec: 0.5,
        burst: 3.0,
        ..Default::default()
    })
    .await;
    let mut answered = 0;
    for n in 0..6 {
        if ask("127.0.0.1:0", bridge, 10 + n, "LiveKit")
            .await
            .is_some()
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 3, "the burst, then silence");
}

#[tokio::test]
async fn tcp_connections_per_source_are_capped() {
    let bridge = start(GuardConfig {
        max_tcp_per_source: 2,
        ..Default::default()
    })
    .await;
    let _a = TcpStream::connect(bridge).await.unwrap();
    let _b = TcpStream::connect(bridge).await.unwrap();
    // The third is accepted by the kernel, then closed by the bridge without a word.
    let mut c = TcpStream::connect(bridge).await.unwrap();
    let _ = c.write_all(options(20, "LiveKit").as_bytes()).await;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
        .await
        .expect("the bridge closes the connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // A freed slot is usable again.
    drop(_a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = TcpStream::connect(bridge).await.unwrap();
    d.write_all(options(21, "LiveKit").as_bytes())
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(2), d.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"));
}
