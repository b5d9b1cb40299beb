//! The Exotel bridge end to end through the binaries: `serve` provisions an Exotel trunk into
//! LiveKit (the double) as a trunk to the bridge with generated credentials; `trunkline
//! bridge`, reading the same database, challenges "LiveKit" (this test, over UDP), accepts
//! those credentials, and calls "Exotel" (this test, a TCP listener) the way Exotel wants.

mod support;
use livekit_double::LiveKitDouble;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trunkline_sip::digest::{authorization, Answer, Challenge};

const LK_KEY: &str = "APIbridge";
const LK_SECRET: &str = "bridge-e2e-secret-0123456789abcdef";

fn free_port() -> u16 {
    // A port free for both UDP and TCP.
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

async fn recv_status(sock: &tokio::net::UdpSocket, want_final: bool) -> String {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
            .await
            .expect("an answer from the bridge")
            .unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        let provisional = msg.starts_with("SIP/2.0 1");
        if !(want_final && provisional) {
            return msg;
        }
    }
}

fn invite(port: u16, bridge: u16, cseq: u32, auth: Option<&str>) -> String {
    let sdp = "v=0\r\no=lk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let mut m = format!(
        "INVITE sip:+919876543210@127.0.0.1:{bridge} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-e2e-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+918044319240@livekit.test>;tag=lk1\r\n\
         To: <sip:+919876543210@127.0.0.1>\r\n\
         Call-ID: e2e-call-1@livekit.test\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:lk@127.0.0.1:{port}>\r\n\
         Content-Type: application/sdp\r\n"
    );
    if let Some(a) = auth {
        m.push_str(&format!("Authorization: {a}\r\n"));
    }
    m.push_str(&format!("Content-Length: {}\r\n\r\n{sdp}", sdp.len()));
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exotel_trunk_is_called_through_the_bridge_with_its_own_credentials() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let bridge_port = free_port();
    let exotel = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exotel_port = exotel.local_addr().unwrap().port();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
        (
            "TRUNKLINE_BRIDGE_SIP_ADDRESS",
            format!("127.0.0.1:{bridge_port}"),
        ),
    ];
    let server = serve(dir.path(), &envs);
    let key = create_key(dir.path(), "exotel@acme.test", &envs);
    let created: serde_json::Value = http()
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "trunk_name": "Exotel", "trunk_type": "exotel",
            "trunk_config": {"exotel_number": "+918044319240", "sip_host": "127.0.0.1",
                             "sip_port": exotel_port, "sip_domain": "acme.pstn.exotel.com",
                             "auth_username": "exo-user", "auth_password": "exo-secret-1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["data"]["status"], "provisioned", "{created}");
    let trunk_id = created["data"]["trunk_id"].as_str().unwrap().to_owned();
    let lk_trunk = lk.outbound_trunks().pop().unwrap();
    assert_eq!(lk_trunk.address, format!("127.0.0.1:{bridge_port}"));
    server.stop();

    let mut bridge = Command::new(BIN)
        .arg("bridge")
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRUNKLINE_LOG", "info")
        .env(
            "TRUNKLINE_BRIDGE_LISTEN",
            format!("127.0.0.1:{bridge_port}"),
        )
        .env(
            "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS",
            format!("127.0.0.1:{bridge_port}"),
        )
        .env("TRUNKLINE_BRIDGE_RTP_PORTS", "46000-46999")
        .env("TRUNKLINE_BRIDGE_ALLOW", "127.0.0.0/8")
        .env("TRUNKLINE_BRIDGE_METRICS_LISTEN", "127.0.0.1:0")
        // "Exotel" is this test, on loopback.
        .env("TRUNKLINE_ALLOW_PRIVATE_TARGETS", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = bridge.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("trunkline bridge listening") {
                let _ = tx.send(line.clone());
            }
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("bridge did not start: {}", log.lock().unwrap()));
    assert!(ready.contains("trunks=1"), "{ready}");

    // "LiveKit": challenged first, then accepted with the trunk's generated credentials.
    let lk_sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let lk_port = lk_sock.local_addr().unwrap().port();
    let bridge_addr = format!("127.0.0.1:{bridge_port}");
    lk_sock
        .send_to(
            invite(lk_port, bridge_port, 1, None).as_bytes(),
            &bridge_addr,
        )
        .await
        .unwrap();
    let challenge = recv_status(&lk_sock, true).await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let ch = Challenge::parse(header(&challenge, "WWW-Authenticate").unwrap()).unwrap();
    let auth = authorization(
        &ch,
        &Answer {
            username: &trunk_id,
            password: &lk_trunk.auth_password,
            method: "INVITE",
            uri: &format!("sip:+919876543210@127.0.0.1:{bridge_port}"),
            cnonce: "e2ecnonce",
            nc: 1,
        },
    );
    lk_sock
        .send_to(
            invite(lk_port, bridge_port, 2, Some(&auth)).as_bytes(),
            &bridge_addr,
        )
        .await
        .unwrap();

    // "Exotel": receives the call as Exotel wants it, and is busy.
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), exotel.accept())
        .await
        .unwrap_or_else(|_| panic!("the bridge never called Exotel: {}", log.lock().unwrap()))
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut got = String::new();
    while !got.contains("\r\n\r\n") {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.starts_with("INVITE sip:919876543210@"), "{got}");
    let from = header(&got, "From").unwrap();
    assert!(from.contains("918044319240@acme.pstn.exotel.com"), "{from}");
    assert!(!got.contains(&lk_trunk.auth_password));
    let mut resp = String::from("SIP/2.0 486 Busy Here\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        resp.push_str(&format!("{name}: {}\r\n", header(&got, name).unwrap()));
    }
    resp.push_str(&format!(
        "To: {};tag=exo1\r\nContent-Length: 0\r\n\r\n",
        header(&got, "To").unwrap()
    ));
    conn.write_all(resp.as_bytes()).await.unwrap();

    // LiveKit hears the busy callee as such.
    let fin = recv_status(&lk_sock, true).await;
    assert!(fin.starts_with("SIP/2.0 486"), "{fin}");
    // LiveKit's ACK of the 486 (RFC 3261 §17.1.1.3: the INVITE's branch, the answer's To).
    let mut ack = format!("ACK sip:+919876543210@127.0.0.1:{bridge_port} SIP/2.0\r\n");
    for name in ["Via", "From", "To", "Call-ID"] {
        ack.push_str(&format!("{name}: {}\r\n", header(&fin, name).unwrap()));
    }
    ack.push_str("CSeq: 2 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    lk_sock.send_to(ack.as_bytes(), &bridge_addr).await.unwrap();

    // Wrong credentials: the same request with another trunk's password is refused.
    let wrong = authorization(
        &ch,
        &Answer {
            username: &trunk_id,
            password: "not-the-password",
            method: "INVITE",
            uri: &format!("sip:+919876543210@127.0.0.1:{bridge_port}"),
            cnonce: "e2ecnonce2",
            nc: 1,
        },
    );
    let mut second = invite(lk_port, bridge_port, 3, Some(&wrong));
    second = second.replace("e2e-call-1@", "e2e-call-2@");
    lk_sock
        .send_to(second.as_bytes(), &bridge_addr)
        .await
        .unwrap();
    let refused = recv_status(&lk_sock, true).await;
    assert!(refused.starts_with("SIP/2.0 403"), "{refused}");

    // A scanner's probe is dropped at the edge, unanswered.
    let scan = format!(
        "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lk_port};branch=z9hG4bK-scan\r\n\
         From: <sip:100@x>;tag=s\r\nTo: <sip:100@x>\r\nCall-ID: scan@x\r\nCSeq: 1 OPTIONS\r\n\
         User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
    );
    lk_sock
        .send_to(scan.as_bytes(), &bridge_addr)
        .await
        .unwrap();
    metrics_follow_the_call(&log).await;

    unsafe_kill(&mut bridge);
    let log = log.lock().unwrap().clone();
    assert!(
        !log.contains(&lk_trunk.auth_password),
        "no secret in the bridge's log"
    );
    assert!(
        !log.contains("exo-secret-1"),
        "no secret in the bridge's log"
    );
    // One line per call with its SIP ladder, both Call-IDs and the final status.
    let ladder = log
        .lines()
        .find(|l| l.contains("bridge call ended"))
        .unwrap_or_else(|| panic!("no ladder line: {log}"));
    for part in [
        "call_id=e2e-call-1@livekit.test",
        "callee_call_id=",
        "final_status=486",
        "in caller INVITE",
        "out callee INVITE",
        "in callee 486 (INVITE)",
        "out caller 486 (INVITE)",
    ] {
        assert!(ladder.contains(part), "{part} missing from {ladder}");
    }
    // The call's span: every line of the call carries the trunk.
    assert!(ladder.contains(&format!("trunk_id={trunk_id}")), "{ladder}");
    assert_eq!(log.matches("bridge call ended").count(), 1, "{log}");
}

/// The bridge's /metrics after the scripted call: one busy call, its messages on both legs,
/// the scanner dropped, nothing left open.
async fn metrics_follow_the_call(log: &std::sync::Mutex<String>) {
    use support::metrics::*;
    let url = metrics_url(&log.lock().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let samples = loop {
        let samples = scrape(&url).await;
        let settled = value(&samples, "trunkline_bridge_calls_total", &[]) == 1.0
            && value(&samples, "trunkline_bridge_edge_drops_total", &[]) == 1.0
            && value(&samples, "trunkline_bridge_connections", &[]) == 0.0;
        if settled || std::time::Instant::now() > deadline {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let v = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
    let shown = format!("{samples:#?}");
    assert_eq!(
        v("trunkline_bridge_calls_total", &[("status", "486")]),
        1.0,
        "{shown}"
    );
    assert_eq!(v("trunkline_bridge_calls_total", &[]), 1.0, "{shown}");
    assert_eq!(v("trunkline_bridge_calls_active", &[]), 0.0, "{shown}");
    let sip = |dir: &str, method: &str, class: &str| {
        v(
            "trunkline_bridge_sip_messages_total",
            &[
                ("direction", dir),
                ("method", method),
                ("status_class", class),
            ],
        )
    };
    // Three INVITEs from "LiveKit" (unauthenticated, authenticated, wrong password), and
    // one to "Exotel".
    assert_eq!(sip("in", "INVITE", "request"), 3.0, "{shown}");
    assert_eq!(sip("out", "INVITE", "request"), 1.0, "{shown}");
    // Exotel's 486; toward LiveKit the 401 challenge, the relayed 486 and the 403.
    assert_eq!(sip("in", "INVITE", "4xx"), 1.0, "{shown}");
    assert_eq!(sip("out", "INVITE", "4xx"), 3.0, "{shown}");
    assert_eq!(
        v(
            "trunkline_bridge_edge_drops_total",
            &[("reason", "scanner")]
        ),
        1.0,
        "{shown}"
    );
    assert_eq!(v("trunkline_bridge_connections", &[]), 0.0, "{shown}");
    assert_eq!(
        v("trunkline_bridge_relay_ports", &[("state", "in_use")]),
        0.0,
        "{shown}"
    );
    assert_eq!(
        v("trunkline_bridge_relay_ports", &[("state", "free")]),
        1000.0,
        "{shown}"
    );
    // No media flowed on a busy call: the series are there, at zero.
    assert!(
        has(&samples, "trunkline_bridge_rtp_packets_total"),
        "{shown}"
    );
    assert_eq!(v("trunkline_bridge_rtp_packets_total", &[]), 0.0, "{shown}");
    assert!(has(&samples, "process_resident_memory_bytes"), "{shown}");
}

fn unsafe_kill(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Without an allow-list the bridge would answer anyone and let every INVITE reserve relay
/// ports: it does not start unless `any` is said explicitly, and the error names the setting.
#[test]
fn the_bridge_does_not_start_open_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let base = vec![
        ("TRUNKLINE_BRIDGE_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS",
            "127.0.0.1:5070".to_owned(),
        ),
    ];
    let (ok, _, err) = run(dir.path(), &["bridge"], &base);
    assert!(!ok);
    assert!(
        err.contains("TRUNKLINE_BRIDGE_ALLOW is required")
            && err.contains("TRUNKLINE_BRIDGE_ALLOW=any"),
        "{err}"
    );
}
