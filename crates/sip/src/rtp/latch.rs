//! Which packets a leg accepts, and where packets toward it go: the per-socket decision of the
//! relay, without I/O.
//!
//! Symmetric RTP (RFC 4961): a peer sends from the address it receives on, so the first packet
//! from the negotiated peer's IP fixes ("latches") the exact source address, which then is
//! also where the other leg's packets are sent. This is what gets audio through a NAT that
//! rewrote the peer's port: its SDP says one port, its packets come from another. Only the
//! negotiated IP is ever accepted, so a scanner or a late packet of another call arriving on a
//! reused port is dropped rather than relayed or latched.

use std::net::{IpAddr, SocketAddr};

/// What to do with one packet that arrived on a leg's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// From the latched source: relay it.
    Accept,
    /// The first packet from the peer (or from its exact SDP address after a wrong latch):
    /// the source is now latched; relay it.
    Latched,
    /// No usable peer is known yet (before its SDP, or `c=0.0.0.0` / port 0 on hold).
    DropNoPeer,
    /// Not from the negotiated IP, or from another port once latched.
    DropWrongSource,
}

/// One leg's peer for one channel (RTP or RTCP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Latch {
    /// The address negotiated in the peer's SDP (`c=` and `m=` port; RTCP: port + 1).
    peer: Option<SocketAddr>,
    /// The exact source of the peer's packets, once one has arrived.
    latched: Option<SocketAddr>,
}

impl Latch {
    /// A new negotiated peer (the first SDP, or a re-INVITE for hold/resume): forgets the latch,
    /// so the next packet from the new peer latches again. `c=0.0.0.0` or port 0 (RFC 3264
    /// §8.4 hold, §8.2 a rejected stream) leaves no usable peer: nothing accepted, nothing sent.
    pub(crate) fn set_peer(&mut self, addr: SocketAddr) {
        let addr = canonical(addr);
        self.peer = usable(addr).then_some(addr);
        self.latched = None;
    }

    pub(crate) fn on_packet(&mut self, src: SocketAddr) -> Verdict {
        let src = canonical(src);
        let Some(peer) = self.peer else {
            return Verdict::DropNoPeer;
        };
        if src.ip() != peer.ip() {
            return Verdict::DropWrongSource;
        }
        match self.latched {
            Some(latched) if latched == src => Verdict::Accept,
            // The exact SDP address always wins: if a late packet of the port's previous call
            // came from the same IP (LiveKit's media address is the same for every call) and
            // latched first, the real peer's stream still takes over at its first packet.
            Some(_) if src == peer => {
                self.latched = Some(src);
                Verdict::Latched
            }
            Some(_) => Verdict::DropWrongSource,
            None => {
                self.latched = Some(src);
                Verdict::Latched
            }
        }
    }

    /// Where packets toward this peer go: the latched source, else the SDP address.
    pub(crate) fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.peer)
    }
}

/// The RTCP address that goes with an RTP address: port + 1 (RFC 3550 §11; `a=rtcp`, RFC 3605,
/// is not offered by LiveKit or Exotel). Port 0, so no RTCP peer, past port 65534.
pub(crate) fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    let port = if rtp.port() == 0 {
        0
    } else {
        rtp.port().checked_add(1).unwrap_or(0)
    };
    SocketAddr::new(rtp.ip(), port)
}

/// `::ffff:1.2.3.4` and `1.2.3.4` are one peer (a socket bound to `::` reports IPv4 sources
/// mapped).
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Sending to 0.0.0.0 would reach this host itself; port 0 is a refused stream.
fn usable(addr: SocketAddr) -> bool {
    !addr.ip().is_unspecified() && addr.port() != 0 && !is_broadcast(addr.ip())
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Each row: the peer set (if any), the packets in order with the verdict each gets, and
    /// where packets toward the peer go afterwards.
    #[test]
    fn latch_table() {
        type Row = (
            &'static str,
            Option<&'static str>,
            &'static [(&'static str, Verdict)],
            Option<&'static str>,
        );
        let rows: &[Row] = &[
            ("no peer yet: everything dropped", None, &[("10.0.0.1:4000", DropNoPeer)], None),
            (
                "exact SDP address latches, then is accepted",
                Some("10.0.0.1:4000"),
                &[("10.0.0.1:4000", Latched), ("10.0.0.1:4000", Accept)],
                Some("10.0.0.1:4000"),
            ),
            (
                "NAT rewrote the port: first packet from the IP latches its port",
                Some("10.0.0.1:4000"),
                &[("10.0.0.1:61000", Latched), ("10.0.0.1:61000", Accept)],
                Some("10.0.0.1:61000"),
            ),
            (
                "another IP is never accepted nor latched",
                Some("10.0.0.1:4000"),
                &[("10.0.0.9:4000", DropWrongSource), ("10.0.0.1:4002", Latched)],
                Some("10.0.0.1:4002"),
            ),
            (
                "once latched, another port of the same IP is dropped",
                Some("10.0.0.1:4000"),
                &[("10.0.0.1:61000", Latched), ("10.0.0.1:61002", DropWrongSource), ("10.0.0.1:61000", Accept)],
                Some("10.0.0.1:61000"),
            ),
            (
                "a stale stream latched first: the exact SDP address takes over, stale then dropped",
                Some("10.0.0.1:4000"),
                &[("10.0.0.1:5000", Latched), ("10.0.0.1:4000", Latched), ("10.0.0.1:5000", DropWrongSource)],
                Some("10.0.0.1:4000"),
            ),
            (
                "IPv4-mapped IPv6 source is the same peer",
                Some("10.0.0.1:4000"),
                &[("[::ffff:10.0.0.1]:4000", Latched), ("10.0.0.1:4000", Accept)],
                Some("10.0.0.1:4000"),
            ),
            (
                "hold with c=0.0.0.0: no peer, nothing sent toward it",
                Some("0.0.0.0:4000"),
                &[("10.0.0.1:4000", DropNoPeer), ("0.0.0.0:4000", DropNoPeer)],
                None,
            ),
            ("rejected stream (port 0)", Some("10.0.0.1:0"), &[("10.0.0.1:4000", DropNoPeer)], None),
            ("broadcast address refused", Some("255.255.255.255:4000"), &[], None),
            (
                "IPv6 peer",
                Some("[2001:db8::1]:4000"),
                &[("[2001:db8::2]:4000", DropWrongSource), ("[2001:db8::1]:4100", Latched)],
                Some("[2001:db8::1]:4100"),
            ),
            ("peer set, nothing arrived: send to the SDP address", Some("10.0.0.1:4000"), &[], Some("10.0.0.1:4000")),
        ];
        for (name, peer, packets, dest) in rows {
            let mut latch = Latch::default();
            if let Some(p) = peer {
                latch.set_peer(a(p));
            }
            for (i, (src, want)) in packets.iter().enumerate() {
                assert_eq!(
                    latch.on_packet(a(src)),
                    *want,
                    "{name}: packet {i} from {src}"
                );
            }
            assert_eq!(latch.destination(), dest.map(a), "{name}: destination");
        }
    }

    #[test]
    fn set_peer_again_relatches() {
        let mut latch = Latch::default();
        latch.set_peer(a("10.0.0.1:4000"));
        assert_eq!(latch.on_packet(a("10.0.0.1:61000")), Latched);
        // Resume after hold from another media server (re-INVITE with a new c=/m=).
        latch.set_peer(a("10.0.0.2:6000"));
        assert_eq!(latch.destination(), Some(a("10.0.0.2:6000")));
        assert_eq!(latch.on_packet(a("10.0.0.1:61000")), DropWrongSource);
        assert_eq!(latch.on_packet(a("10.0.0.2:6100")), Latched);
        assert_eq!(latch.destination(), Some(a("10.0.0.2:6100")));
        // The same address again still forgets the latch: the NAT binding may have moved.
        latch.set_peer(a("10.0.0.2:6000"));
        assert_eq!(latch.destination(), Some(a("10.0.0.2:6000")));
        assert_eq!(latch.on_packet(a("10.0.0.2:6200")), Latched);
        // Hold (c=0.0.0.0), then resume.
        latch.set_peer(a("0.0.0.0:6000"));
        assert_eq!(latch.destination(), None);
        assert_eq!(latch.on_packet(a("10.0.0.2:6200")), DropNoPeer);
        latch.set_peer(a("10.0.0.2:6000"));
        assert_eq!(latch.on_packet(a("10.0.0.2:6200")), Latched);
    }

    #[test]
    fn rtcp_is_rtp_plus_one() {
        assert_eq!(rtcp_of(a("10.0.0.1:4000")), a("10.0.0.1:4001"));
        assert_eq!(rtcp_of(a("10.0.0.1:0")), a("10.0.0.1:0"));
        assert_eq!(rtcp_of(a("10.0.0.1:65535")), a("10.0.0.1:0"));
    }
}
