//! The relay on real UDP sockets on 127.0.0.1. Port blocks 61000–61999 (above Linux's
//! ephemeral range, so no client socket takes them), one block per test.
//!
//! "Nothing was relayed" is never waited for with a sleep: after the packet that must be
//! dropped, a legitimate one goes through the same relay socket (one task, in order), and
//! the far side must receive that one first.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::{RelayConfig, RelayError, RelaySession, RtpRelay};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn config(port_min: u16, port_max: u16) -> RelayConfig {
    RelayConfig {
        bind_ip: LOCAL,
        port_min,
        port_max,
        rtp_timeout: Duration::from_secs(10),
    }
}

/// On the relay's own threads, as the bridge runs it.
fn relay(port_min: u16, port_max: u16) -> RtpRelay {
    RtpRelay::new(config(port_min, port_max))
}

/// On the test's runtime: a paused clock then sees the relay's I/O as it sees the test's own
/// (the relay's threads would run on in real time while the clock jumps ahead).
fn relay_on_this_runtime(port_min: u16, port_max: u16) -> RtpRelay {
    RtpRelay::on_runtime(
        config(port_min, port_max),
        tokio::runtime::Handle::current(),
    )
}

async fn client_on(ip: IpAddr) -> UdpSocket {
    UdpSocket::bind((ip, 0)).await.unwrap()
}

async fn client() -> UdpSocket {
    client_on(LOCAL).await
}

/// An RTP socket with its RTCP socket on port + 1 (as an SDP peer has).
async fn client_pair() -> (UdpSocket, UdpSocket) {
    loop {
        let rtp = client().await;
        let port = rtp.local_addr().unwrap().port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((LOCAL, port + 1)).await {
            return (rtp, rtcp);
        }
    }
}

fn addr(sock: &UdpSocket) -> SocketAddr {
    sock.local_addr().unwrap()
}

fn rtcp(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port() + 1)
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 4096];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("a packet within 5 s")
        .unwrap();
    (buf[..n].to_vec(), from)
}

/// A 12-byte RTP header (RFC 3550 §5.1) and a payload.
fn rtp_packet(pt: u8, seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Sends `packet` from `from` to `to` and returns what `at` receives, and from where.
async fn through(
    from: &UdpSocket,
    to: SocketAddr,
    at: &UdpSocket,
    packet: &[u8],
) -> (Vec<u8>, SocketAddr) {
    from.send_to(packet, to).await.unwrap();
    recv(at).await
}

/// Waits (yielding, no timer) until the relay's tasks have counted what `done` asks for: a
/// packet is judged when its task reads it, not when it is sent.
async fn counted(s: &RelaySession, done: impl Fn(&super::RelayStats) -> bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !done(&s.stats()) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("not counted: {:?}", s.stats()));
}

async fn open_with_peers(relay: &RtpRelay, a: &UdpSocket, b: &UdpSocket) -> RelaySession {
    let s = relay.open("call").await.unwrap();
    s.set_peer_a(addr(a));
    s.set_peer_b(addr(b));
    s
}

#[tokio::test]
async fn relays_both_ways_bytes_untouched_from_the_leg_sockets() {
    let relay = relay(61000, 61009);
    let (a, b) = (client().await, client().await);
    let s = open_with_peers(&relay, &a, &b).await;
    assert_eq!(relay.in_use(), 1);
    assert_ne!(s.local_a(), s.local_b());
    assert_eq!(s.local_a().ip(), LOCAL);
    assert_eq!(s.local_a().port() % 2, 0);

    let pcmu = rtp_packet(0, 1, 0x1111, &[0xff; 160]);
    let pcma = rtp_packet(8, 2, 0x2222, &[0xd5; 160]);
    // RFC 4733 telephone-event: digit 5, end bit, volume 10, duration 800.
    let dtmf = rtp_packet(101, 3, 0x1111, &[5, 0x8a, 0x03, 0x20]);
    for p in [&pcmu, &dtmf] {
        // Symmetric: B hears it from the relay's B socket, the address in B's SDP.
        assert_eq!(
            through(&a, s.local_a(), &b, p).await,
            (p.clone(), s.local_b())
        );
    }
    assert_eq!(
        through(&b, s.local_b(), &a, &pcma).await,
        (pcma.clone(), s.local_a())
    );

    counted(&s, |st| {
        st.rtp_a_to_b.packets == 2 && st.rtp_b_to_a.packets == 1
    })
    .await;
    let st = s.stats();
    assert_eq!(st.rtp_a_to_b.packets, 2);
    assert_eq!(st.rtp_a_to_b.bytes, (pcmu.len() + dtmf.len()) as u64);
    assert_eq!(st.rtp_b_to_a.packets, 1);
    assert_eq!(st.rtp_b_to_a.bytes, 172);
    assert_eq!(
        st.dropped_wrong_source + st.dropped_no_peer + st.dropped_other,
        0
    );
}

#[tokio::test]
async fn rtcp_goes_on_port_plus_one_with_its_own_latch() {
    let relay = relay(61010, 61019);
    let ((a, a_rtcp), (b, b_rtcp)) = (client_pair().await, client_pair().await);
    let s = open_with_peers(&relay, &a, &b).await;
    let sr = [0x80, 200, 0, 6, 1, 2, 3, 4]; // an RTCP SR header
                                            // Before A's RTCP latched: to A's RTP port + 1, from the relay's RTCP port.
    let (got, from) = through(&b_rtcp, rtcp(s.local_b()), &a_rtcp, &sr).await;
    assert_eq!((got.as_slice(), from), (&sr[..], rtcp(s.local_a())));

    // A's RTCP comes from another port than RTP + 1 (a NAT): RTCP latches it on its own,
    // while RTP toward A still goes to A's RTP address.
    let a_rtcp_nat = client().await;
    let rr = [0x80, 201, 0, 1, 9, 9, 9, 9];
    let (got, from) = through(&a_rtcp_nat, rtcp(s.local_a()), &b_rtcp, &rr).await;
    assert_eq!((got.as_slice(), from), (&rr[..], rtcp(s.local_b())));
    assert_eq!(
        through(&b_rtcp, rtcp(s.local_b()), &a_rtcp_nat, &sr)
            .await
            .0,
        sr
    );
    let voice = rtp_packet(0, 1, 7, &[0x7f; 160]);
    assert_eq!(through(&b, s.local_b(), &a, &voice).await.0, voice);
    // The RTP latch is its own: A's RTP from its SDP port is accepted.
    assert_eq!(through(&a, s.local_a(), &b, &voice).await.0, voice);
    // Once latched, RTCP from a third port of A's IP is dropped.
    client()
        .await
        .send_to(&rr, rtcp(s.local_a()))
        .await
        .unwrap();
    assert_eq!(
        through(&a_rtcp_nat, rtcp(s.local_a()), &b_rtcp, &sr)
            .await
            .0,
        sr
    );

    counted(&s, |st| {
        st.rtcp_a_to_b.packets == 2
            && st.rtcp_b_to_a.packets == 2
            && st.rtp_a_to_b.packets == 1
            && st.rtp_b_to_a.packets == 1
    })
    .await;
    let st = s.stats();
    assert_eq!(st.rtcp_a_to_b.packets, 2);
    assert_eq!(st.rtcp_b_to_a.packets, 2);
    assert_eq!((st.rtp_a_to_b.packets, st.rtp_b_to_a.packets), (1, 1));
    assert_eq!(st.dropped_wrong_source, 1);
}

#[tokio::test]
async fn first_packet_from_the_peer_ip_latches_and_other_sources_are_dropped() {
    let relay = relay(61020, 61029);
    let (a_sdp, a_nat, b) = (client().await, client().await, client().await);
    let s = open_with_peers(&relay, &a_sdp, &b).await;

    // A's packets come from another port than its SDP says: the first one latches it, and
    // B's packets go there.
    let p1 = rtp_packet(0, 1, 1, b"from-nat");
    assert_eq!(through(&a_nat, s.local_a(), &b, &p1).await.0, p1);
    let p2 = rtp_packet(0, 1, 2, b"to-nat");
    assert_eq!(through(&b, s.local_b(), &a_nat, &p2).await.0, p2);

    // Another IP, and another port of the same IP, are dropped; the next packet B gets is
    // the latched source's.
    let stranger = client_on(OTHER_IP).await;
    stranger.send_to(b"spoofed", s.local_a()).await.unwrap();
    let other_port = client().await;
    other_port
        .send_to(b"other port", s.local_a())
        .await
        .unwrap();
    let p3 = rtp_packet(0, 2, 1, b"still-nat");
    assert_eq!(through(&a_nat, s.local_a(), &b, &p3).await.0, p3);
    // The intruders were not answered either.
    let p4 = rtp_packet(0, 2, 2, b"to-nat-again");
    assert_eq!(through(&b, s.local_b(), &a_nat, &p4).await.0, p4);

    counted(&s, |st| {
        st.rtp_a_to_b.packets == 2 && st.dropped_wrong_source == 2
    })
    .await;
    let st = s.stats();
    assert_eq!(st.dropped_wrong_source, 2);
    assert_eq!(st.rtp_a_to_b.packets, 2);
    assert_eq!(st.rtp_b_to_a.packets, 2);
}

#[tokio::test]
async fn packets_before_the_peers_are_known_are_dropped() {
    let relay = relay(61030, 61039);
    let (a, b) = (client().await, client().await);
    let s = relay.open("early").await.unwrap();
    // Before any SDP: nothing is accepted.
    a.send_to(b"too early", s.local_a()).await.unwrap();
    counted(&s, |st| st.dropped_no_peer == 1).await;
    s.set_peer_a(addr(&a));
    // A known, B not yet (the provider has not answered): accepted, nowhere to go.
    a.send_to(b"no answer yet", s.local_a()).await.unwrap();
    counted(&s, |st| st.dropped_no_peer == 2).await;
    s.set_peer_b(addr(&b));
    let p = rtp_packet(0, 3, 1, b"answered");
    assert_eq!(through(&a, s.local_a(), &b, &p).await.0, p);
    assert_eq!(s.stats().dropped_no_peer, 2);
    assert_eq!(s.stats().rtp_a_to_b.packets, 1);
}

#[tokio::test]
async fn reinvite_moves_and_relatches_a_peer_and_hold_stops_media_toward_it() {
    let relay = relay(61040, 61049);
    let (a, b1, b2) = (client().await, client().await, client_on(OTHER_IP).await);
    let s = open_with_peers(&relay, &a, &b1).await;
    let p = rtp_packet(0, 1, 1, b"before");
    assert_eq!(through(&b1, s.local_b(), &a, &p).await.0, p);

    // Hold with c=0.0.0.0 (RFC 3264 §8.4): nothing goes toward B, nothing from B accepted.
    s.set_peer_b("0.0.0.0:9".parse().unwrap());
    a.send_to(b"held", s.local_a()).await.unwrap();
    b1.send_to(b"held", s.local_b()).await.unwrap();
    counted(&s, |st| st.dropped_no_peer == 2).await;

    // Resume from another media server.
    s.set_peer_b(addr(&b2));
    let p = rtp_packet(0, 2, 1, b"resumed");
    assert_eq!(through(&a, s.local_a(), &b2, &p).await.0, p);
    b1.send_to(b"old server", s.local_b()).await.unwrap();
    let p = rtp_packet(0, 2, 2, b"from-new");
    assert_eq!(through(&b2, s.local_b(), &a, &p).await.0, p);

    let st = s.stats();
    assert_eq!(st.dropped_no_peer, 2);
    assert_eq!(st.dropped_wrong_source, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sessions_no_cross_talk() {
    const CALLS: usize = 200;
    const PACKETS: u16 = 20;
    let relay = relay(61100, 61949);
    let mut calls = Vec::new();
    for i in 0..CALLS {
        let relay = relay.clone();
        calls.push(tokio::spawn(async move {
            let (a, b) = (client().await, client().await);
            let s = relay.open(&format!("call-{i}")).await.unwrap();
            s.set_peer_a(addr(&a));
            s.set_peer_b(addr(&b));
            for seq in 0..PACKETS {
                // Distinct per call, direction and packet.
                let mut payload = [0u8; 160];
                payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
                payload[8..].fill(seq as u8);
                let to_b = rtp_packet(0, seq, i as u32, &payload);
                let to_a = rtp_packet(8, seq, 0x8000_0000 | i as u32, &payload);
                assert_eq!(
                    through(&a, s.local_a(), &b, &to_b).await.0,
                    to_b,
                    "call {i}"
                );
                assert_eq!(
                    through(&b, s.local_b(), &a, &to_a).await.0,
                    to_a,
                    "call {i}"
                );
            }
            // A packet is counted once its send returned, which can be just after the peer
            // already read it.
            counted(&s, |st| {
                st.rtp_a_to_b.packets == 20 && st.rtp_b_to_a.packets == 20
            })
            .await;
            let st = s.stats();
            assert_eq!((st.rtp_a_to_b.packets, st.rtp_b_to_a.packets), (20, 20));
            assert_eq!(st.dropped_wrong_source + st.dropped_no_peer, 0);
            s
        }));
    }
    let mut sessions = Vec::new();
    for c in calls {
        sessions.push(c.await.unwrap());
    }
    assert_eq!(relay.in_use(), CALLS);
    let mut ports: Vec<u16> = sessions
        .iter()
        .flat_map(|s| [s.local_a().port(), s.local_b().port()])
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 2 * CALLS, "every leg has its own port");
    drop(sessions);
    assert_eq!(relay.in_use(), 0);
    tokio::time::timeout(Duration::from_secs(5), relay.wait_idle())
        .await
        .expect("every port back");
}

#[tokio::test]
async fn dropping_sessions_releases_every_port_and_task() {
    let relay = relay(61050, 61069);
    assert_eq!(relay.capacity(), 5);
    let (a, b) = (client().await, client().await);
    let mut sessions = Vec::new();
    for _ in 0..5 {
        let s = open_with_peers(&relay, &a, &b).await;
        let p = rtp_packet(0, 1, 1, b"x");
        through(&a, s.local_a(), &b, &p).await;
        sessions.push(s);
    }
    assert_eq!(relay.available(), 0);
    let ports: Vec<u16> = sessions
        .iter()
        .flat_map(|s| [s.local_a().port(), s.local_b().port()])
        .collect();
    drop(sessions);
    assert_eq!(relay.in_use(), 0);
    // The ports return only once the tasks are gone and the sockets closed.
    tokio::time::timeout(Duration::from_secs(5), relay.wait_idle())
        .await
        .expect("every port back");
    assert_eq!(relay.available(), relay.capacity());
    for port in ports {
        for p in [port, port + 1] {
            std::net::UdpSocket::bind((LOCAL, p))
                .unwrap_or_else(|e| panic!("port {p} still bound: {e}"));
        }
    }
}

#[tokio::test]
async fn exhausted_pool_refuses_then_recovers() {
    let relay = relay(61070, 61073); // two pairs: one session
    let s = relay.open("one").await.unwrap();
    assert!(matches!(
        relay.open("two").await,
        Err(RelayError::Exhausted)
    ));
    assert_eq!(relay.in_use(), 1);
    drop(s);
    tokio::time::timeout(Duration::from_secs(5), relay.wait_idle())
        .await
        .expect("every port back");
    let s = relay.open("three").await.unwrap();
    assert_eq!(relay.in_use(), 1);
    drop(s);
}

#[tokio::test]
async fn a_bind_failure_gives_back_what_was_taken() {
    let relay = relay(61080, 61083); // pairs 61080 and 61082
    let squatter = std::net::UdpSocket::bind((LOCAL, 61083)).unwrap(); // 61082's RTCP port
    match relay.open("squatted").await {
        Err(RelayError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse),
        Err(e) => panic!("expected an I/O error, got {e}"),
        Ok(_) => panic!("expected an I/O error, got a session"),
    }
    assert_eq!(relay.in_use(), 0);
    assert_eq!(relay.available(), relay.capacity(), "61080 given back");
    drop(squatter);
    let s = relay.open("free again").await.unwrap();
    drop(s);
}

#[tokio::test]
async fn released_ports_are_reused_last() {
    let relay = relay(61090, 61097); // four pairs: two sessions
    let s1 = relay.open("first").await.unwrap();
    let first = [s1.local_a().port(), s1.local_b().port()];
    drop(s1);
    relay.wait_idle().await;
    let s2 = relay.open("second").await.unwrap();
    let second = [s2.local_a().port(), s2.local_b().port()];
    assert!(
        first.iter().all(|p| !second.contains(p)),
        "{first:?} reused at once: {second:?}"
    );
}

/// Two pairs only, so the next call must reuse the ports of the last one: a late packet of
/// the old call (from its peer's IP) does not reach the new call.
#[tokio::test]
async fn a_late_packet_of_the_previous_call_is_not_relayed_on_reuse() {
    let relay = relay(61074, 61077);
    let (old_a, old_b) = (client().await, client().await);
    let s1 = open_with_peers(&relay, &old_a, &old_b).await;
    let p = rtp_packet(0, 1, 1, b"old call");
    through(&old_a, s1.local_a(), &old_b, &p).await;
    let old_local_a = s1.local_a();
    drop(s1);
    relay.wait_idle().await;

    let (new_a, new_b) = (client_on(OTHER_IP).await, client().await);
    let s2 = open_with_peers(&relay, &new_a, &new_b).await;
    assert_eq!(s2.local_a(), old_local_a, "the pool had to reuse the port");
    old_a
        .send_to(b"late packet of the old call", s2.local_a())
        .await
        .unwrap();
    let p = rtp_packet(0, 1, 2, b"new call");
    assert_eq!(through(&new_a, s2.local_a(), &new_b, &p).await.0, p);
    assert_eq!(s2.stats().dropped_wrong_source, 1);
}

#[tokio::test(start_paused = true)]
async fn times_out_after_silence_on_both_legs_only() {
    let relay = relay_on_this_runtime(61950, 61959);
    let ((a, a_rtcp), (b, b_rtcp)) = (client_pair().await, client_pair().await);
    let s = open_with_peers(&relay, &a, &b).await;
    let timeout = Duration::from_secs(10);

    let timed_out = s.timed_out();
    tokio::pin!(timed_out);
    // RTP every 4 s, alternating legs, for 16 s: the session stays up.
    for seq in 0..4u16 {
        tokio::select! {
            () = &mut timed_out => panic!("timed out while RTP flowed"),
            () = tokio::time::sleep(Duration::from_secs(4)) => {}
        }
        let p = rtp_packet(0, seq, 1, b"alive");
        if seq % 2 == 0 {
            through(&a, s.local_a(), &b, &p).await;
        } else {
            through(&b, s.local_b(), &a, &p).await;
        }
    }
    let last_rtp = tokio::time::Instant::now();
    // RTCP alone, every 2 s both ways, does not keep the call up.
    let sr = [0x80, 200, 0, 6, 1, 2, 3, 4];
    loop {
        tokio::select! {
            () = &mut timed_out => break,
            () = tokio::time::sleep(Duration::from_secs(2)) => {
                through(&a_rtcp, rtcp(s.local_a()), &b_rtcp, &sr).await;
                through(&b_rtcp, rtcp(s.local_b()), &a_rtcp, &sr).await;
            }
        }
    }
    let silent = last_rtp.elapsed();
    assert!(silent >= timeout, "resolved after {silent:?} of silence");
    assert!(silent <= timeout + timeout / 4, "resolved late: {silent:?}");
    assert!(s.stats().rtcp_a_to_b.packets >= 4);

    // A re-INVITE (set_peer) restarts the clock.
    let t = tokio::time::Instant::now();
    let again = s.timed_out();
    tokio::pin!(again);
    tokio::select! {
        () = &mut again => panic!("timed out early"),
        () = tokio::time::sleep(Duration::from_secs(6)) => {}
    }
    s.set_peer_b(addr(&b));
    again.await;
    assert!(t.elapsed() >= Duration::from_secs(16), "{:?}", t.elapsed());
}

#[test]
fn sessions_can_run_on_a_runtime_of_their_own() {
    let media = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = media.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let media_thread = std::thread::spawn(move || {
        media.block_on(async {
            let _ = stopped.await;
        })
    });
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    caller.block_on(async {
        let relay = RtpRelay::on_runtime(
            RelayConfig {
                bind_ip: LOCAL,
                port_min: 61960,
                port_max: 61969,
                rtp_timeout: Duration::from_secs(10),
            },
            handle,
        );
        let (a, b) = (client().await, client().await);
        let s = open_with_peers(&relay, &a, &b).await;
        let p = rtp_packet(8, 1, 1, &[0xd5; 160]);
        assert_eq!(through(&a, s.local_a(), &b, &p).await.0, p);
        assert_eq!(through(&b, s.local_b(), &a, &p).await.0, p);
        drop(s);
        tokio::time::timeout(Duration::from_secs(5), relay.wait_idle())
            .await
            .expect("every port back");
    });
    stop.send(()).unwrap();
    media_thread.join().unwrap();
}

/// The bridge opens and watches sessions from spawned tasks.
#[test]
fn futures_and_sessions_are_send() {
    fn send<T: Send + 'static>(_: &T) {}
    fn sync<T: Send + Sync>() {}
    sync::<RtpRelay>();
    sync::<RelaySession>();
    let relay = relay(61970, 61973);
    let relay2 = relay.clone();
    send(&async move { relay2.open("x").await });
    let watch = async move {
        if let Ok(s) = relay.open("y").await {
            s.timed_out().await;
        }
    };
    send(&watch);
}
