//! Where a message came from and where its answers go, shared by the endpoint and every
//! call: sending never waits on the peer.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Notify};

/// Where a message came from and its answers go. Sending never waits on the peer: the
/// endpoint and every call share it, and one peer that does not read must not hold up the
/// others.
#[derive(Clone)]
pub(super) enum Reply {
    Udp(Arc<UdpSocket>, SocketAddr),
    Tcp(TcpReply),
}

impl Reply {
    /// Queues `bytes` for the peer without waiting. A UDP datagram the socket cannot take now
    /// is dropped like a lost one (the peer retransmits, RFC 3261 §17); a TCP connection
    /// whose queue is full is closed (`TcpReply::send`).
    pub(super) fn send(&self, bytes: Vec<u8>) {
        super::metrics::sip_message("out", &bytes);
        match self {
            Self::Udp(s, to) => {
                let _ = s.try_send_to(&bytes, *to);
            }
            Self::Tcp(c) => c.send(bytes),
        }
    }
}

/// The sending half of one accepted TCP connection: a bounded queue drained by the
/// connection's writer, and a way to close the connection.
#[derive(Clone)]
pub(super) struct TcpReply {
    tx: mpsc::Sender<Vec<u8>>,
    close: Arc<Notify>,
}

impl TcpReply {
    /// A peer that lets its queue fill is not reading (or reads slower than it asks): the
    /// connection is closed rather than waited for, and its calls see it gone.
    pub(super) fn new(tx: mpsc::Sender<Vec<u8>>, close: Arc<Notify>) -> Self {
        Self { tx, close }
    }

    /// Whether a call still holds a clone (the connection then stays while idle).
    pub(super) fn in_use(&self) -> bool {
        self.tx.strong_count() > 1
    }

    fn send(&self, bytes: Vec<u8>) {
        match self.tx.try_send(bytes) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!("a TCP peer is not reading its answers: connection closed");
                self.close.notify_one();
            }
        }
    }
}

/// A call's machine is done: forget both of its Call-IDs. Sent on a channel of its own, which
/// never blocks a call: the endpoint may be busy, and the entry must not be lost.
pub(super) type CallDone = mpsc::UnboundedSender<(String, String)>;
