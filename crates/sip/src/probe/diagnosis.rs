//! From what a probe saw to what a person should do about it: seeds 001 ("Authentication
//! Failed", "No Route to Destination") and 003 (Exotel's table: 401 → credentials, 403 →
//! whitelist your IP, 404 → number format, 486 → busy, 503 → retry later), and for TLS trunks
//! (Exotel's 443) a failed handshake: the certificate, or a port that does not speak TLS. A
//! pure function, table-tested row by row.

/// How a probe ended, as far as a diagnosis cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The host name did not resolve (or not within the DNS timeout).
    HostNotFound,
    /// This machine could not ask DNS at all: no nameserver is configured (`configured` is
    /// false), or none answers (getaddrinfo's "temporary failure"), so nothing is known about
    /// the name.
    NoResolver { configured: bool },
    /// It resolved only to loopback, private or link-local addresses, which tenants may not
    /// probe.
    TargetNotAllowed,
    /// TCP connect refused (RST), or UDP answered by ICMP port unreachable.
    ConnectRefused,
    /// TCP connect got no answer within its timeout, or failed otherwise (no route).
    ConnectFailed,
    /// The TLS handshake failed, or did not finish within the connect timeout. `reason` is
    /// rustls' (or the timeout's) and names no secret.
    TlsFailed {
        /// The peer's certificate was refused (unknown issuer, expired, not for this name).
        certificate: bool,
        reason: String,
    },
    /// The connection closed or broke before the final response.
    ConnectionLost,
    /// No SIP response within the transaction timeout.
    NoResponse { malformed_seen: bool },
    /// A final status to OPTIONS, or to an INVITE that never rang.
    Status {
        status: u16,
        /// The request carried our credentials (this status answers our digest).
        after_auth: bool,
        had_credentials: bool,
    },
    /// A 401/407 whose challenge we cannot answer (scheme, algorithm or qop).
    ChallengeUnanswerable,
    /// The INVITE rang (18x) and was cancelled.
    Rang,
    /// The INVITE got only 100 Trying within the ringing timeout and was cancelled.
    NoRing,
    /// The INVITE was answered (2xx) before our CANCEL took; we hung up with BYE.
    Answered,
}

/// What to tell the user. Serialized as its `code()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnosis {
    Reachable,
    Ringing,
    Answered,
    NoRinging,
    CredentialsRequired,
    WrongCredentials,
    UnsupportedChallenge,
    NotAllowed,
    NumberFormat,
    Busy,
    ProviderDown,
    Rejected,
    PortClosed,
    NoAnswer,
    TlsCertificate,
    TlsHandshake,
    ConnectionLost,
    MalformedResponse,
    HostNotFound,
    NoResolver,
    TargetNotAllowed,
}

pub fn diagnose(outcome: &Outcome) -> Diagnosis {
    use Diagnosis as D;
    match *outcome {
        Outcome::HostNotFound => D::HostNotFound,
        Outcome::NoResolver { .. } => D::NoResolver,
        Outcome::TargetNotAllowed => D::TargetNotAllowed,
        Outcome::ConnectRefused => D::PortClosed,
        Outcome::ConnectFailed => D::NoAnswer,
        Outcome::TlsFailed {
            certificate: true, ..
        } => D::TlsCertificate,
        Outcome::TlsFailed {
            certificate: false, ..
        } => D::TlsHandshake,
        Outcome::ConnectionLost => D::ConnectionLost,
        Outcome::NoResponse {
            malformed_seen: true,
        } => D::MalformedResponse,
        Outcome::NoResponse {
            malformed_seen: false,
        } => D::NoAnswer,
        Outcome::ChallengeUnanswerable => D::UnsupportedChallenge,
        Outcome::Rang => D::Ringing,
        Outcome::NoRing => D::NoRinging,
        Outcome::Answered => D::Answered,
        Outcome::Status {
            status,
            after_auth,
            had_credentials,
        } => match status {
            200..=299 => D::Reachable,
            // The server is up and answering; it just does not do OPTIONS.
            405 | 501 => D::Reachable,
            401 | 407 if !had_credentials && !after_auth => D::CredentialsRequired,
            401 | 407 => D::WrongCredentials,
            403 => D::NotAllowed,
            404 | 484 => D::NumberFormat,
            486 | 600 => D::Busy,
            500..=599 => D::ProviderDown,
            _ => D::Rejected,
        },
    }
}

impl Diagnosis {
    /// Every diagnosis, in the order of the enum (the OpenAPI document lists their codes).
    pub const ALL: [Diagnosis; 21] = [
        Self::Reachable,
        Self::Ringing,
        Self::Answered,
        Self::NoRinging,
        Self::CredentialsRequired,
        Self::WrongCredentials,
        Self::UnsupportedChallenge,
        Self::NotAllowed,
        Self::NumberFormat,
        Self::Busy,
        Self::ProviderDown,
        Self::Rejected,
        Self::PortClosed,
        Self::NoAnswer,
        Self::TlsCertificate,
        Self::TlsHandshake,
        Self::ConnectionLost,
        Self::MalformedResponse,
        Self::HostNotFound,
        Self::NoResolver,
        Self::TargetNotAllowed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Reachable => "reachable",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::NoRinging => "no_ringing",
            Self::CredentialsRequired => "credentials_required",
            Self::WrongCredentials => "wrong_credentials",
            Self::UnsupportedChallenge => "unsupported_challenge",
            Self::NotAllowed => "not_allowed",
            Self::NumberFormat => "number_format",
            Self::Busy => "busy",
            Self::ProviderDown => "provider_down",
            Self::Rejected => "rejected",
            Self::PortClosed => "port_closed",
            Self::NoAnswer => "no_answer",
            Self::TlsCertificate => "tls_certificate",
            Self::TlsHandshake => "tls_handshake",
            Self::ConnectionLost => "connection_lost",
            Self::MalformedResponse => "malformed_response",
            Self::HostNotFound => "host_not_found",
            Self::NoResolver => "no_resolver",
            Self::TargetNotAllowed => "target_not_allowed",
        }
    }

    /// Whether the trunk looks usable.
    pub fn healthy(self) -> bool {
        matches!(self, Self::Reachable | Self::Ringing | Self::Answered)
    }

    /// One sentence for a person.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Reachable => "The trunk answered: its address, port and transport are right.",
            Self::Ringing => "The test number rang; the call was cancelled before it was answered.",
            Self::Answered => "The test number answered before the cancel took effect; the probe hung up at once.",
            Self::NoRinging => "The provider accepted the test call but it never rang; check the test number and the provider's routing.",
            Self::CredentialsRequired => "The provider asks for a username and password, and this trunk has none: add them to the trunk.",
            Self::WrongCredentials => "The provider refused the trunk's username and password: check them (case-sensitive) against the provider's credentials.",
            Self::UnsupportedChallenge => "The provider challenged with an authentication scheme the probe cannot answer (only Digest with MD5 or SHA-256 and qop=auth are supported).",
            Self::NotAllowed => "The provider refused the request (403): this server's IP address is probably not whitelisted, or the account is not allowed to make this call.",
            Self::NumberFormat => "The provider does not know the number (404/484): use E.164 with the country code (+15551234567), or the format the provider expects.",
            Self::Busy => "The callee is busy (486/600).",
            Self::ProviderDown => "The provider reported a server error or is unavailable (5xx): retry later, or contact the provider.",
            Self::Rejected => "The provider rejected the request; see the SIP status for the reason.",
            Self::PortClosed => "Nothing listens on that port (the connection was refused): check the port and the transport.",
            Self::NoAnswer => "No answer: a firewall drops the traffic, or the port or transport is wrong, or the provider does not accept traffic from this server's IP.",
            Self::TlsCertificate => "The provider's TLS certificate was refused (not from a trusted CA, expired, or not issued for this host name): use the host name the provider gave rather than an IP address, and check that this is the provider's TLS port.",
            Self::TlsHandshake => "The TLS connection could not be set up: the port probably does not speak TLS (Exotel: TLS on 443, TCP on 5070), or the provider refused the TLS version; check the port and the transport.",
            Self::ConnectionLost => "The provider closed the connection before answering.",
            Self::MalformedResponse => "The peer sent something that is not a valid SIP response: check that this is really the provider's SIP port.",
            Self::HostNotFound => "The host name does not resolve: check the address for typos.",
            Self::NoResolver => "The trunkline server could not look the host name up at all: it has no working DNS resolver. Fix DNS on that server (/etc/resolv.conf), or give the trunk the provider's IP address; the name itself may well be right.",
            Self::TargetNotAllowed => "The address resolves to a loopback, private or link-local address, which trunks may not point at on this service.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Diagnosis as D;

    fn st(status: u16, after_auth: bool, had_credentials: bool) -> Outcome {
        Outcome::Status {
            status,
            after_auth,
            had_credentials,
        }
    }

    #[test]
    fn every_row_of_the_mapping() {
        let rows = [
            (st(200, false, false), D::Reachable),
            (st(200, true, true), D::Reachable),
            (st(405, false, false), D::Reachable),
            (st(501, false, true), D::Reachable),
            (st(401, false, false), D::CredentialsRequired),
            (st(407, false, false), D::CredentialsRequired),
            (st(401, true, true), D::WrongCredentials),
            (st(407, true, true), D::WrongCredentials),
            (st(403, false, false), D::NotAllowed),
            (st(403, true, true), D::NotAllowed),
            (st(404, false, false), D::NumberFormat),
            (st(484, true, true), D::NumberFormat),
            (st(486, false, false), D::Busy),
            (st(600, false, false), D::Busy),
            (st(503, false, false), D::ProviderDown),
            (st(500, true, true), D::ProviderDown),
            (st(488, false, false), D::Rejected),
            (st(302, false, false), D::Rejected),
            (st(603, false, false), D::Rejected),
            (Outcome::ConnectRefused, D::PortClosed),
            (Outcome::ConnectFailed, D::NoAnswer),
            (
                Outcome::NoResponse {
                    malformed_seen: false,
                },
                D::NoAnswer,
            ),
            (
                Outcome::NoResponse {
                    malformed_seen: true,
                },
                D::MalformedResponse,
            ),
            (
                Outcome::TlsFailed {
                    certificate: true,
                    reason: "invalid peer certificate: UnknownIssuer".into(),
                },
                D::TlsCertificate,
            ),
            (
                Outcome::TlsFailed {
                    certificate: false,
                    reason: "no answer within 2s".into(),
                },
                D::TlsHandshake,
            ),
            (Outcome::ConnectionLost, D::ConnectionLost),
            (Outcome::HostNotFound, D::HostNotFound),
            (Outcome::NoResolver { configured: false }, D::NoResolver),
            (Outcome::NoResolver { configured: true }, D::NoResolver),
            (Outcome::TargetNotAllowed, D::TargetNotAllowed),
            (Outcome::ChallengeUnanswerable, D::UnsupportedChallenge),
            (Outcome::Rang, D::Ringing),
            (Outcome::NoRing, D::NoRinging),
            (Outcome::Answered, D::Answered),
        ];
        for (outcome, want) in rows {
            assert_eq!(diagnose(&outcome), want, "{outcome:?}");
        }
    }

    #[test]
    fn codes_are_distinct_and_sentences_end_with_a_period() {
        let all = D::ALL;
        let codes: std::collections::HashSet<_> = all.iter().map(|d| d.code()).collect();
        assert_eq!(codes.len(), all.len());
        for d in all {
            assert!(d.sentence().ends_with('.'), "{d:?}");
        }
        assert!(D::Reachable.healthy() && !D::WrongCredentials.healthy());
        assert!(!D::TlsCertificate.healthy() && !D::TlsHandshake.healthy());
    }
}
