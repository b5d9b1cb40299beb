//! The trunk probe (the "Test" button of seed 001): OPTIONS to a trunk's address over its
//! transport, the digest challenge answered once with the trunk's credentials, optionally an
//! INVITE to a test number that is CANCELled at the first 18x; every status with its
//! round-trip time, and a diagnosis.
//!
//! Every step has its own bound: DNS (`dns_timeout`), TCP connect and the TLS handshake
//! together (`connect_timeout`; a refusal is reported the moment it arrives), each SIP
//! transaction (Timer B/F), and the ringing of the INVITE. Over TLS the certificate is
//! verified for the trunk's host against public roots plus `ProbeOptions::tls`'s extra CAs
//! (`crate::transport`). The host is resolved with A/AAAA only (no NAPTR/SRV, RFC 3263), like
//! LiveKit's `host[:port]` addresses.

mod build;
mod diagnosis;
mod driver;
mod machine;
mod resolver;
mod tx;

pub use crate::wire::Method;
pub use build::{Credentials, Timers};
pub use diagnosis::{diagnose, Diagnosis, Outcome};
pub use driver::run;
pub use machine::Seen;

use crate::transport::TlsSettings;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeTransport {
    Udp,
    Tcp,
    /// SIP over TLS on a `sip:` URI (RFC 3261 §26.2; Exotel's port 443).
    Tls,
}

impl ProbeTransport {
    pub const ALL: [ProbeTransport; 3] = [Self::Udp, Self::Tcp, Self::Tls];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

/// What to probe, and as whom.
#[derive(Clone)]
pub struct ProbeRequest {
    /// A host name or IP literal (IPv6 in brackets or bare).
    pub host: String,
    pub port: u16,
    pub transport: ProbeTransport,
    pub credentials: Option<Credentials>,
    /// The caller number for From (E.164).
    pub from_number: String,
    /// The From domain; the host when `None`.
    pub from_domain: Option<String>,
    /// When set, an INVITE to this number follows the OPTIONS.
    pub test_number: Option<String>,
    /// Whether loopback, private and link-local addresses may be probed (the operator's
    /// `allow_private_targets`). Checked on the resolved address, so a public name pointing
    /// inside the operator's network is refused too.
    pub allow_internal: bool,
}

#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub dns_timeout: Duration,
    /// TCP connect plus, over TLS, the handshake.
    pub connect_timeout: Duration,
    pub timers: Timers,
    /// The CAs a TLS trunk's certificate may chain to (public roots unless a test or a
    /// deployment adds its own).
    pub tls: TlsSettings,
}

impl Default for ProbeOptions {
    /// RFC 3261's timers (Timer B/F = 64×T1 = 32 s); for an interactive probe see `quick`.
    fn default() -> Self {
        Self {
            dns_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            timers: Timers::default(),
            tls: TlsSettings::public(),
        }
    }
}

impl ProbeOptions {
    /// What the API uses: a person is waiting, so each transaction gets 2 s and the test
    /// call 8 s to ring.
    pub fn quick() -> Self {
        Self {
            dns_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            timers: Timers {
                transaction_timeout: Duration::from_secs(2),
                ring_timeout: Duration::from_secs(8),
                ..Timers::default()
            },
            tls: TlsSettings::public(),
        }
    }
}

/// What the probe found. Holds no credential.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// `host:port`.
    pub target: String,
    pub transport: ProbeTransport,
    /// The address probed, once resolved.
    pub address: Option<SocketAddr>,
    /// A SIP response came back.
    pub reachable: bool,
    pub dns_time: Option<Duration>,
    pub connect_time: Option<Duration>,
    /// The first response's round-trip time.
    pub rtt: Option<Duration>,
    /// Every distinct status of every transaction, in order.
    pub responses: Vec<Seen>,
    pub outcome: Outcome,
    pub diagnosis: Diagnosis,
    /// Peer bytes that were not SIP, in short.
    pub malformed: Vec<String>,
    pub elapsed: Duration,
}

impl ProbeReport {
    /// The diagnosis in a sentence, after the failure's own reason where the probe has one
    /// (a failed TLS handshake: "TLS handshake failed: invalid peer certificate: …").
    pub fn detail(&self) -> String {
        match &self.outcome {
            Outcome::TlsFailed { reason, .. } => {
                format!(
                    "TLS handshake failed: {reason}. {}",
                    self.diagnosis.sentence()
                )
            }
            Outcome::NoResolver { configured: false } => format!(
                "No nameserver is configured in /etc/resolv.conf. {}",
                self.diagnosis.sentence()
            ),
            Outcome::NoResolver { configured: true } => format!(
                "The configured nameservers did not answer (a temporary failure of name resolution). {}",
                self.diagnosis.sentence()
            ),
            _ => self.diagnosis.sentence().to_owned(),
        }
    }
}
