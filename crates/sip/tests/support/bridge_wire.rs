//! The wire side of the bridge's torture tests: a bridge on real UDP and TCP sockets (one
//! port), and the exchange every case uses: the message, then a sentinel OPTIONS on the same
//! socket or connection, whose 200 proves that whatever came before it answered the message.

use super::torture_corpus;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use trunkline_sip::bridge::{serve, BridgeConfig, BridgeTrunk, GuardConfig, NoRelay, Timers};
pub const OK: &str = "SIP/2.0 200 OK";

/// What a stream does differently from a datagram (RFC 3261 §18.3: Content-Length frames).
pub enum Stream {
    /// The same answers as over UDP.
    AsUdp,
    /// Other answers, in order (two requests in one datagram are two on a stream).
    Answers(&'static [&'static str]),
    /// A Content-Length beyond the bytes sent: the bridge waits for the rest.
    Waits,
    /// A Content-Length that is no number: the stream cannot be framed and is closed.
    Closes,
}

pub fn torture_dir() -> PathBuf {
    torture_corpus::dir(env!("CARGO_MANIFEST_DIR"))
}

pub fn message(name: &str) -> Vec<u8> {
    torture_corpus::message(&torture_dir(), name)
}

pub fn mutations() -> Vec<Vec<u8>> {
    torture_corpus::mutations(&torture_dir())
}

pub async fn start() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    // UDP and TCP on one port: a free UDP port may be taken for TCP (an outgoing
    // connection's ephemeral port), so try another.
    let mut attempts = 0;
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        match TcpListener::bind(udp.local_addr().unwrap()).await {
            Ok(tcp) => break (udp, tcp),
            Err(_) if attempts < 50 => attempts += 1,
            Err(e) => panic!("no port free for both UDP and TCP: {e}"),
        }
    };
    let addr = udp.local_addr().unwrap();
    let cfg = BridgeConfig {
        realm: "trunkline".into(),
        livekit_address: addr.to_string(),
        provider_address: addr.to_string(),
        timers: Timers::default(),
        connect_timeout: Duration::from_secs(2),
        guard: GuardConfig::default(),
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
    let task = tokio::spawn(serve(
        udp,
        tcp,
        cfg,
        Arc::new(directory),
        Arc::new(relay),
        std::future::pending(),
    ));
    (addr, task)
}

pub fn sentinel(tag: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:bridge SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{tag}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@x>;tag={tag}\r\nTo: <sip:bridge>\r\n\
         Call-ID: sentinel-{tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

pub fn status_line(answer: &[u8]) -> String {
    String::from_utf8_lossy(answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

pub fn answers_sentinel(answer: &[u8], tag: &str) -> bool {
    let needle = format!("\r\nCall-ID: sentinel-{tag}\r\n");
    answer.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Sends `bytes` then the sentinel from a fresh UDP socket; the status lines answered before
/// the sentinel's 200.
pub async fn over_udp(bridge: SocketAddr, bytes: &[u8], tag: &str) -> Vec<String> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    if !bytes.is_empty() {
        sock.send_to(bytes, bridge).await.unwrap();
    }
    sock.send_to(&sentinel(tag), bridge).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let mut lines = vec![];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{tag}: the sentinel is answered over UDP"))
            .unwrap();
        if answers_sentinel(&buf[..n], tag) {
            assert_eq!(status_line(&buf[..n]), OK, "{tag}: the sentinel");
            return lines;
        }
        lines.push(status_line(&buf[..n]));
    }
}

/// The next whole response on a stream: its head, then Content-Length bytes of body.
pub fn next_response(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let length: usize = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let total = end + 4 + length;
    (buf.len() >= total).then(|| buf.drain(..total).collect())
}

#[derive(Debug, PartialEq)]
pub enum TcpOutcome {
    Answers(Vec<String>),
    /// Nothing read, the connection still open after a while.
    Waiting,
    /// Closed by the bridge without a byte.
    Closed,
}

/// `bytes` on a fresh TCP connection, followed by the sentinel unless the bridge is expected
/// to wait for more body (the sentinel would be that body).
pub async fn over_tcp(bridge: SocketAddr, bytes: &[u8], tag: &str, want: &Stream) -> TcpOutcome {
    let mut conn = TcpStream::connect(bridge).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    let mut chunk = vec![0u8; 65536];
    if matches!(want, Stream::Waits | Stream::Closes) {
        return match tokio::time::timeout(Duration::from_millis(500), conn.read(&mut chunk)).await {
            Err(_) => TcpOutcome::Waiting,
            Ok(Ok(0)) | Ok(Err(_)) => TcpOutcome::Closed,
            Ok(Ok(n)) => TcpOutcome::Answers(vec![status_line(&chunk[..n])]),
        };
    }
    conn.write_all(&sentinel(tag)).await.unwrap();
    let (mut buf, mut lines) = (vec![], vec![]);
    loop {
        while let Some(answer) = next_response(&mut buf) {
            if answers_sentinel(&answer, tag) {
                assert_eq!(status_line(&answer), OK, "{tag}: the sentinel");
                return TcpOutcome::Answers(lines);
            }
            lines.push(status_line(&answer));
        }
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{tag}: the sentinel is answered over TCP"))
            .unwrap();
        if n == 0 {
            return TcpOutcome::Closed;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// An ordinary OPTIONS from a fresh socket gets its 200: the bridge is still serving.
pub async fn still_serving(bridge: SocketAddr, tag: &str) {
    assert_eq!(over_udp(bridge, b"", tag).await, Vec::<String>::new());
    let tcp = over_tcp(bridge, b"", &format!("{tag}tcp"), &Stream::AsUdp).await;
    assert_eq!(tcp, TcpOutcome::Answers(vec![]));
}
