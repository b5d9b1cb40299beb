//! The relay's own threads under concurrency: several threads may be told of one socket at
//! once, and exactly one of them must relay it, in order, without losing an arrival.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::{RelayConfig, RtpRelay};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_on_one_socket_arrive_complete_and_in_order_through_four_threads() {
    let relay = RtpRelay::with_threads(
        RelayConfig {
            bind_ip: LOCAL,
            port_min: 61980,
            port_max: 61989,
            rtp_timeout: Duration::from_secs(10),
        },
        4,
    );
    let (a, b) = (
        UdpSocket::bind((LOCAL, 0)).await.unwrap(),
        UdpSocket::bind((LOCAL, 0)).await.unwrap(),
    );
    let s = relay.open("burst").await.unwrap();
    s.set_peer_a(a.local_addr().unwrap());
    s.set_peer_b(b.local_addr().unwrap());
    // Bursts small enough for the default socket buffers (no loss in the kernel), sent back
    // to back so that packets keep arriving while a thread reads the socket.
    const BURST: u32 = 200;
    const BURSTS: u32 = 20;
    let mut buf = [0u8; 64];
    for burst in 0..BURSTS {
        for i in 0..BURST {
            a.send_to(&(burst * BURST + i).to_be_bytes(), s.local_a())
                .await
                .unwrap();
        }
        for i in 0..BURST {
            let (n, from) = tokio::time::timeout(Duration::from_secs(5), b.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("burst {burst}: packet {i} of {BURST} missing"))
                .unwrap();
            assert_eq!(from, s.local_b());
            let seq = u32::from_be_bytes(buf[..n].try_into().unwrap());
            assert_eq!(seq, burst * BURST + i, "out of order");
        }
    }
    assert_eq!(s.stats().rtp_a_to_b.packets, u64::from(BURST * BURSTS));
}
