//! The relay's counters across sessions, for metrics: the sum of the closed sessions' final
//! counters plus the open sessions' current ones. Sessions are listed at open and at close
//! (one lock per call, never per packet); a scrape reads each open session's atomics.

use super::shared::Shared;
use super::{FlowStats, RelayStats};
use std::sync::{Arc, Mutex, Weak};

#[derive(Default)]
pub(super) struct Totals {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    open: Vec<Weak<Shared>>,
    closed: RelayStats,
}

fn add_flow(to: &mut FlowStats, from: FlowStats) {
    to.packets += from.packets;
    to.bytes += from.bytes;
}

fn add(to: &mut RelayStats, from: &RelayStats) {
    add_flow(&mut to.rtp_a_to_b, from.rtp_a_to_b);
    add_flow(&mut to.rtp_b_to_a, from.rtp_b_to_a);
    add_flow(&mut to.rtcp_a_to_b, from.rtcp_a_to_b);
    add_flow(&mut to.rtcp_b_to_a, from.rtcp_b_to_a);
    to.dropped_wrong_source += from.dropped_wrong_source;
    to.dropped_no_peer += from.dropped_no_peer;
    to.dropped_other += from.dropped_other;
}

impl Totals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn opened(&self, shared: &Arc<Shared>) {
        self.lock().open.push(Arc::downgrade(shared));
    }

    /// Moves a session's final counters from the open list into the closed sum, in one step
    /// so that a scrape never counts it twice or not at all.
    pub(super) fn closed(&self, shared: &Arc<Shared>) {
        let stats = shared.stats();
        let mut inner = self.lock();
        let me = Arc::as_ptr(shared);
        inner
            .open
            .retain(|w| w.as_ptr() != me && w.strong_count() > 0);
        add(&mut inner.closed, &stats);
    }

    pub(super) fn sum(&self) -> RelayStats {
        let inner = self.lock();
        let mut sum = inner.closed;
        for s in inner.open.iter().filter_map(Weak::upgrade) {
            add(&mut sum, &s.stats());
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RelayConfig, RtpRelay};
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;
    use tokio::net::UdpSocket;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    async fn recv(sock: &UdpSocket) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("a packet within 5 s")
            .unwrap();
        buf[..n].to_vec()
    }

    /// Waits until the relay's totals satisfy `done` (packets are counted when the relay
    /// thread reads them, not when they are sent).
    async fn totals_reach(relay: &RtpRelay, done: impl Fn(&super::RelayStats) -> bool) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !done(&relay.totals()) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("totals never got there: {:?}", relay.totals()));
    }

    /// Ports 61990–61999 (see `rtp::tests` for the port blocks).
    #[tokio::test]
    async fn totals_count_open_and_closed_sessions_once() {
        let relay = RtpRelay::new(RelayConfig {
            bind_ip: LOCAL,
            port_min: 61990,
            port_max: 61999,
            rtp_timeout: Duration::from_secs(10),
        });
        assert_eq!(relay.ports(), (0, 10));
        let a = UdpSocket::bind((LOCAL, 0)).await.unwrap();
        let b = UdpSocket::bind((LOCAL, 0)).await.unwrap();
        let s = relay.open("totals").await.unwrap();
        assert_eq!(relay.ports(), (4, 6));
        // Dropped: the provider's side is not known yet.
        a.send_to(b"early", s.local_a()).await.unwrap();
        totals_reach(&relay, |t| t.dropped_no_peer == 1).await;
        s.set_peer_a(a.local_addr().unwrap());
        s.set_peer_b(b.local_addr().unwrap());
        for i in 0..3u8 {
            a.send_to(&[0x80, 0, 0, i, 0, 0, 0, 0, 0, 0, 0, 1, 9], s.local_a())
                .await
                .unwrap();
            assert_eq!(recv(&b).await.len(), 13);
        }
        b.send_to(&[0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2], s.local_b())
            .await
            .unwrap();
        assert_eq!(recv(&a).await.len(), 12);
        totals_reach(&relay, |t| {
            t.rtp_a_to_b.packets == 3 && t.rtp_b_to_a.packets == 1
        })
        .await;
        let open = relay.totals();
        assert_eq!(open.rtp_a_to_b.bytes, 39);
        // Closing the session keeps its counts, once.
        drop(s);
        assert_eq!(relay.totals(), open);
        assert_eq!(relay.ports(), (0, 10));
        // A second session adds to them.
        let s2 = relay.open("totals-2").await.unwrap();
        s2.set_peer_a(a.local_addr().unwrap());
        s2.set_peer_b(b.local_addr().unwrap());
        a.send_to(&[0x80, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1], s2.local_a())
            .await
            .unwrap();
        recv(&b).await;
        totals_reach(&relay, |t| t.rtp_a_to_b.packets == 4).await;
        assert_eq!(relay.totals().dropped_no_peer, 1);
    }
}
