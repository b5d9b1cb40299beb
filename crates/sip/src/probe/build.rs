//! What the probe's requests are built from (`Context`: transport, addresses, numbers,
//! credentials, timers) and how: headers, the Request-URI, the test call's SDP, and the ACK
//! of a final response to INVITE. No state: the transactions are `tx` and `machine`'s.

use super::tx::{token, Chain, Tx};
use crate::wire::{InResponse, Method, OutRequest};
use std::time::Duration;
use trunkline_domain::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
    /// Reliable like TCP: no retransmissions (RFC 3261 §17.1.1.2).
    Tls,
}

impl Proto {
    pub(super) fn via(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }
}

/// `Debug` shows no password: `Secret` redacts itself.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Timings of the SIP steps (the driver has its own for DNS and connect).
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    /// Timer B and F (RFC 3261: 64×T1).
    pub transaction_timeout: Duration,
    /// How long an INVITE may stay at 100 Trying before we CANCEL it.
    pub ring_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        let t1 = Duration::from_millis(500);
        Self {
            t1,
            t2: Duration::from_secs(4),
            transaction_timeout: t1 * 64,
            ring_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the messages are built from.
#[derive(Clone)]
pub struct Context {
    pub proto: Proto,
    /// Our address as the peer should see it in Via and Contact (`ip:port`, `[v6]:port`).
    pub local: String,
    /// The target as `host[:port]`, for Request-URIs and To.
    pub target: String,
    /// The From domain (Exotel wants `<sid>.pstn.exotel.com`; otherwise the target host).
    pub from_domain: String,
    pub from_number: String,
    /// When set, an INVITE to this number follows the OPTIONS.
    pub test_number: Option<String>,
    pub credentials: Option<Credentials>,
    pub timers: Timers,
}

impl Context {
    pub(super) fn hostport_uri(&self, user: Option<&str>) -> String {
        match user {
            Some(u) => format!("sip:{u}@{}", self.target),
            None => format!("sip:{}", self.target),
        }
    }

    pub(super) fn base_headers(
        &self,
        chain: &Chain,
        method: Method,
        branch: &str,
        to: String,
        cseq: u32,
    ) -> Vec<(&'static str, String)> {
        vec![
            (
                "Via",
                format!(
                    "SIP/2.0/{} {};branch={branch};rport",
                    self.proto.via(),
                    self.local
                ),
            ),
            ("Max-Forwards", "70".into()),
            (
                "From",
                format!(
                    "<sip:{}@{}>;tag={}",
                    self.from_number, self.from_domain, chain.from_tag
                ),
            ),
            ("To", to),
            ("Call-ID", chain.call_id.clone()),
            ("CSeq", format!("{cseq} {method}")),
        ]
    }

    /// A minimal G.711 µ-law offer (RFC 4566), enough for a carrier to route and ring. No
    /// media is ever sent or read: the call is cancelled at the first 18x.
    pub(super) fn sdp(&self) -> String {
        let host = self.local.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
        let (family, addr) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => ("IP6", v6),
            None => ("IP4", host),
        };
        format!(
            "v=0\r\no=trunkline 1 1 IN {family} {addr}\r\ns=trunkline probe\r\nc=IN {family} {addr}\r\nt=0 0\r\n\
             m=audio 9 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
        )
    }

    /// The ACK of a final response to INVITE: in the transaction for a non-2xx (same branch,
    /// §17.1.1.3), end to end for a 2xx (new branch, to the Contact, §13.2.2.4).
    pub(super) fn ack(&self, chain: &Chain, invite: &Tx, r: &InResponse) -> Option<Vec<u8>> {
        let two_xx = (200..300).contains(&r.status);
        let branch = if two_xx {
            format!("z9hG4bK{}", token())
        } else {
            invite.branch.clone()
        };
        let uri = match (&r.contact, two_xx) {
            (Some(c), true) => c.clone(),
            _ => invite.request.uri.clone(),
        };
        let to =
            r.to.clone()
                .unwrap_or_else(|| format!("<{}>", invite.request.uri));
        // §17.1.1.3: the ACK for a non-2xx carries the INVITE's own CSeq number.
        let headers = self.base_headers(chain, Method::Ack, &branch, to, chain.cseq);
        OutRequest {
            method: Method::Ack,
            uri,
            headers,
            body: vec![],
        }
        .to_bytes()
        .ok()
    }
}
