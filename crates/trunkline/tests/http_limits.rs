//! The HTTP server against clients that hold connections hostage: slow request heads
//! (slowloris), idle keep-alive connections, clients that stop reading, more connections than
//! the cap; and a graceful stop that lets a request in flight finish.

mod support;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (EOF or reset) or `limit` passes; answers
/// the bytes read and whether it was closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One `GET /health` on a new connection: the status line, and how long it took.
async fn health(address: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    (
        text.lines().next().unwrap_or_default().to_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_are_closed_at_the_header_timeout_and_health_stays_responsive() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("TRUNKLINE_HTTP_HEADER_TIMEOUT", "2".into())]);
    let address = addr(&server);

    // 50 slowloris connections: a request line, then one header byte every 500 ms, forever.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let address = address.clone();
        slow.push(tokio::spawn(async move {
            let opened = Instant::now();
            let mut s = TcpStream::connect(&address).await.unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .await
                .unwrap();
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => {
                        // Closed (or answered, which would also end the trickle).
                        let answered = matches!(r, Ok(n) if n > 0);
                        return (opened.elapsed(), answered);
                    }
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {
                        if s.write_all(b"a").await.is_err() {
                            return (opened.elapsed(), false);
                        }
                    }
                }
                if opened.elapsed() > Duration::from_secs(15) {
                    return (opened.elapsed(), false);
                }
            }
        }));
    }
    // A keep-alive connection that makes one request, then stays idle.
    let idle = {
        let address = address.clone();
        tokio::spawn(async move {
            let mut s = TcpStream::connect(&address).await.unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                .await
                .unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            let answered = Instant::now();
            let (_, closed) = read_until_closed(&mut s, Duration::from_secs(15)).await;
            (answered.elapsed(), closed)
        })
    };

    // While they are open, /health answers promptly on a new connection, every time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..8 {
        let (status, took) = health(&address).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert!(took < Duration::from_secs(1), "/health took {took:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for t in slow {
        let (after, answered) = t.await.unwrap();
        assert!(!answered, "a request whose head never ended was answered");
        assert!(
            after >= Duration::from_millis(1500) && after < Duration::from_secs(5),
            "a slowloris connection was closed after {after:?}, not at the 2 s header timeout"
        );
    }
    let (after, closed) = idle.await.unwrap();
    assert!(
        closed && after >= Duration::from_millis(1500) && after < Duration::from_secs(5),
        "an idle keep-alive connection: closed={closed} after {after:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("TRUNKLINE_MAX_CONNECTIONS", "4".into()),
            ("TRUNKLINE_HTTP_HEADER_TIMEOUT", "20".into()),
        ],
    );
    let address = addr(&server);
    // Four connections that send nothing hold the four slots.
    let mut holders = Vec::new();
    for _ in 0..4 {
        holders.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A fifth waits about a second for a slot, gets none, and is closed unanswered.
    let started = Instant::now();
    let mut fifth = TcpStream::connect(&address).await.unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (got, closed) = read_until_closed(&mut fifth, Duration::from_secs(10)).await;
    let after = started.elapsed();
    assert!(
        closed && got.is_empty(),
        "over the cap, a connection was served: {}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(4),
        "closed after {after:?}, not after the one-second wait"
    );

    // A connection that arrives while full is served as soon as a slot frees within its wait.
    let waiting = tokio::spawn({
        let address = address.clone();
        async move { health(&address).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(holders.pop());
    let (status, took) = waiting.await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    drop(holders);
    let (status, _) = health(&address).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("TRUNKLINE_HTTP_SEND_TIMEOUT", "1".into()),
            ("TRUNKLINE_HTTP_HEADER_TIMEOUT", "30".into()),
        ],
    );
    let stream = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    // Far more pipelined responses than socket buffers hold (the OpenAPI document is tens of
    // kilobytes), and no reading for a while. The write half stays open throughout: a closed
    // one would end the connection from our side.
    const REQUESTS: usize = 3000;
    let requests = b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n".repeat(REQUESTS);
    let _ = tokio::time::timeout(Duration::from_secs(3), wr.write_all(&requests)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), rd.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    };
    drop(wr);
    let responses = got
        .windows(b"HTTP/1.1 200".len())
        .filter(|w| *w == b"HTTP/1.1 200")
        .count();
    assert!(
        closed && responses < REQUESTS,
        "the stalled connection was kept: closed={closed}, {responses} of {REQUESTS} responses"
    );
    // The server itself is fine.
    let (status, _) = health(&addr(&server)).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_finishes_during_a_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let key = create_key(dir.path(), "stop@acme.test", &[]);
    let body = serde_json::to_vec(&seed_twilio()).unwrap();
    let mut s = TcpStream::connect(addr(&server)).await.unwrap();
    // The head now; the body only after the stop signal.
    let head = format!(
        "POST /sip/create-outbound-trunk HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.write_all(&body).await.unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"trunk_id\""), "{text}");
    assert!(closed, "the connection stays open after a graceful stop");
    let log = server.stop();
    assert!(log.contains("trunkline stopped"), "{log}");
}

#[test]
fn a_stop_right_after_start_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..20 {
        // `stop` sends SIGTERM as soon as the server says it listens, and wants exit status 0.
        let log = serve(dir.path(), &[]).stop();
        assert!(log.contains("trunkline stopped"), "{log}");
    }
}
