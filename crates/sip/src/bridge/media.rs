//! A call's media as the bridge drives it: `MediaRelay` opens a `MediaSession` per call (the
//! RTP relay of `crate::rtp`, or `NoRelay` for signalling-only tests). One side faces the
//! caller, the other the callee (the relay's legs A and B, in that order). Dropping a session
//! frees its ports.

use std::net::SocketAddr;
use std::time::Duration;

/// Relay ports one call holds: an RTP/RTCP pair per leg.
pub const PORTS_PER_CALL: usize = 4;

/// One call's media. Dropping it frees its ports.
pub trait MediaSession: Send + 'static {
    fn caller_addr(&self) -> SocketAddr;
    fn callee_addr(&self) -> SocketAddr;
    fn set_caller_peer(&mut self, addr: SocketAddr);
    fn set_callee_peer(&mut self, addr: SocketAddr);
    /// A counter that moves with every RTP packet accepted from either peer (and every peer
    /// change): the bridge ends an answered call when it stops for `rtp_timeout`.
    fn activity(&self) -> u64 {
        0
    }
    /// `None`: the session never times out (signalling-only tests).
    fn rtp_timeout(&self) -> Option<Duration> {
        None
    }
}

/// Opening a session binds ports, hence a future.
pub type OpenFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Box<dyn MediaSession>, String>> + Send + 'a>,
>;

pub trait MediaRelay: Send + Sync + 'static {
    fn open<'a>(&'a self, call_id: &'a str) -> OpenFuture<'a>;
}

/// The RTP relay of `crate::rtp`.
impl MediaSession for crate::rtp::RelaySession {
    fn caller_addr(&self) -> SocketAddr {
        crate::rtp::RelaySession::local_a(self)
    }
    fn callee_addr(&self) -> SocketAddr {
        crate::rtp::RelaySession::local_b(self)
    }
    fn set_caller_peer(&mut self, addr: SocketAddr) {
        crate::rtp::RelaySession::set_peer_a(self, addr)
    }
    fn set_callee_peer(&mut self, addr: SocketAddr) {
        crate::rtp::RelaySession::set_peer_b(self, addr)
    }
    fn activity(&self) -> u64 {
        crate::rtp::RelaySession::activity(self)
    }
    fn rtp_timeout(&self) -> Option<Duration> {
        Some(crate::rtp::RelaySession::rtp_timeout(self))
    }
}

impl MediaRelay for crate::rtp::RtpRelay {
    fn open<'a>(&'a self, call_id: &'a str) -> OpenFuture<'a> {
        Box::pin(async move {
            crate::rtp::RtpRelay::open(self, call_id)
                .await
                .map(|s| Box::new(s) as Box<dyn MediaSession>)
                .map_err(|e| e.to_string())
        })
    }
}

/// Signalling only: SDP points at fixed addresses and nothing is relayed (tests, and until
/// the RTP relay is wired in).
pub struct NoRelay {
    pub caller: SocketAddr,
    pub callee: SocketAddr,
}

struct NoSession(SocketAddr, SocketAddr);

impl MediaSession for NoSession {
    fn caller_addr(&self) -> SocketAddr {
        self.0
    }
    fn callee_addr(&self) -> SocketAddr {
        self.1
    }
    fn set_caller_peer(&mut self, _: SocketAddr) {}
    fn set_callee_peer(&mut self, _: SocketAddr) {}
}

impl MediaRelay for NoRelay {
    fn open<'a>(&'a self, _: &'a str) -> OpenFuture<'a> {
        let session: Box<dyn MediaSession> = Box::new(NoSession(self.caller, self.callee));
        Box::pin(std::future::ready(Ok(session)))
    }
}
