//! The Exotel bridge, a B2BUA in both directions:
//! - outbound, LiveKit → bridge → Exotel: LiveKit dials the bridge through an ordinary
//!   outbound trunk whose digest pair is generated per Exotel trunk; the bridge finds the
//!   trunk by that username (`TrunkDirectory::by_username`) and places a new call to Exotel
//!   over TCP with the trunk's own Exotel credentials;
//! - inbound, Exotel → bridge → LiveKit: Exotel delivers a call to the bridge's provider
//!   listener; the bridge finds the tenant's inbound trunk by the called number
//!   (`TrunkDirectory::inbound_by_number`) and places a new call to LiveKit's SIP service
//!   over TCP, answering LiveKit's challenge with that inbound trunk's credentials.
//!
//! Either way the caller's leg is the one whose INVITE started the call (we are its UAS) and
//! the callee's the one we call (we are its UAC); only how the callee's INVITE is addressed
//! differs (`Route`).
//!
//! - `challenge_issuer`: the bridge challenging LiveKit's INVITE (`AuthDecision`);
//!   `challenge_answerer`: the bridge answering the callee's 401/407.
//! - `call`: one call as an I/O-free state machine (`Call::handle(event) -> Vec<Action>`).
//! - `driver`: the listeners and the endpoint task (Call-ID map, edge guard, new calls);
//!   `call_task`: each call's task (the connection to the callee, timers, media watch);
//!   `reply`: where answers go, never waiting on a peer; `media`: the relay seen from a call.
//! - `guard`: who may talk to the bridge, how fast, with how many calls.

pub mod call;
#[cfg(test)]
mod call_harness;
mod call_task;
#[cfg(test)]
mod call_tests;
#[cfg(test)]
mod call_tests_inbound;
mod challenge_answerer;
pub mod challenge_issuer;
pub mod driver;
pub mod guard;
mod ladder;
pub mod media;
pub mod metrics;
mod reply;
#[cfg(test)]
pub(crate) mod testing;

pub use call::{Action, Call, CallConfig, Event, Leg, Timer, Timers};
pub use challenge_issuer::{AuthDecision, ChallengeIssuer};
pub use driver::{serve, serve_with, BridgeConfig, ConnectionLimits, InboundSide, Listeners};
pub use guard::{EdgeGuard, GuardConfig};
pub use media::{MediaRelay, MediaSession, NoRelay, OpenFuture};

use crate::probe::Credentials;
use trunkline_domain::Secret;

/// How Exotel is reached: TCP (port 5070), or TLS (port 443), certificate checked against
/// the public roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExotelTransport {
    Tcp,
    Tls,
}

/// How the dialled number is written in Exotel's Request-URI and To.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberFormat {
    /// `919876543210`: E.164 without '+' (what Exotel's vSIP examples use).
    #[default]
    E164NoPlus,
    /// `+919876543210`.
    E164,
    /// `09876543210` for Indian numbers (other countries fall back to E.164 without '+').
    IndianNational,
}

/// One Exotel trunk as the bridge needs it. `Debug` shows no password.
#[derive(Debug, Clone)]
pub struct BridgeTrunk {
    pub trunk_id: String,
    /// The digest pair LiveKit's outbound trunk uses toward the bridge.
    pub digest_username: String,
    pub digest_password: Secret,
    pub exotel_host: String,
    pub exotel_port: u16,
    pub transport: ExotelTransport,
    /// The caller number (E.164) sent in From.
    pub exotel_number: String,
    pub account_sid: String,
    /// Exotel's digest pair, answering its 401/407.
    pub exotel_credentials: Option<Credentials>,
    pub number_format: NumberFormat,
}

/// A tenant's inbound trunk as the bridge needs it for a call from Exotel. `Debug` shows no
/// password.
#[derive(Debug, Clone)]
pub struct InboundTrunk {
    pub trunk_id: String,
    /// The trunk's numbers (E.164), as LiveKit matches them against To.
    pub numbers: Vec<String>,
    /// The trunk's digest pair, answering LiveKit's challenge when the trunk has one.
    pub credentials: Option<Credentials>,
}

/// Where the callee's leg of a call goes.
#[derive(Debug, Clone)]
pub enum Route {
    /// LiveKit → Exotel, through the tenant's Exotel trunk.
    ToExotel(BridgeTrunk),
    /// Exotel → LiveKit's SIP service (`host`, `port`, over TCP), for the tenant's inbound
    /// trunk that holds the called number.
    ToLiveKit {
        trunk: InboundTrunk,
        host: String,
        port: u16,
    },
}

impl Route {
    /// The tenant's trunk the call goes through (for logs).
    pub fn trunk_id(&self) -> &str {
        match self {
            Self::ToExotel(t) => &t.trunk_id,
            Self::ToLiveKit { trunk, .. } => &trunk.trunk_id,
        }
    }
}

/// Finds the tenant's trunk for a call: its Exotel trunk from the username LiveKit
/// authenticated with, its inbound trunk from the number Exotel called.
pub trait TrunkDirectory: Send + Sync {
    fn by_username(&self, user: &str) -> Option<BridgeTrunk>;

    /// `number` is E.164 with '+'. `None`: no tenant holds it (answered 404).
    fn inbound_by_number(&self, number: &str) -> Option<InboundTrunk> {
        let _ = number;
        None
    }
}

/// A fixed set of Exotel trunks (tests, and a `bridge` started from a file).
impl TrunkDirectory for Vec<BridgeTrunk> {
    fn by_username(&self, user: &str) -> Option<BridgeTrunk> {
        self.iter().find(|t| t.digest_username == user).cloned()
    }
}

/// A fixed set of trunks for both directions.
#[derive(Debug, Clone, Default)]
pub struct FixedDirectory {
    pub outbound: Vec<BridgeTrunk>,
    pub inbound: Vec<InboundTrunk>,
}

impl TrunkDirectory for FixedDirectory {
    fn by_username(&self, user: &str) -> Option<BridgeTrunk> {
        self.outbound.by_username(user)
    }

    fn inbound_by_number(&self, number: &str) -> Option<InboundTrunk> {
        self.inbound
            .iter()
            .find(|t| t.numbers.iter().any(|n| n == number))
            .cloned()
    }
}

/// A number as Exotel expects it, from the user part of LiveKit's Request-URI (`+9198…`,
/// `9198…`, `009198…`, or an Indian national `098…`), visual separators dropped. `None`
/// when it is not a plausible E.164 number (8–15 digits): answered 484.
pub fn exotel_number(user: &str, format: NumberFormat) -> Option<String> {
    let cleaned: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    let digits = if let Some(d) = cleaned.strip_prefix('+') {
        d.to_owned()
    } else if let Some(d) = cleaned.strip_prefix("00") {
        d.to_owned()
    } else if cleaned.len() == 11 && cleaned.starts_with('0') {
        format!("91{}", &cleaned[1..])
    } else {
        cleaned
    };
    if !(8..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return None;
    }
    Some(match format {
        NumberFormat::E164NoPlus => digits,
        NumberFormat::E164 => format!("+{digits}"),
        NumberFormat::IndianNational => match digits.strip_prefix("91") {
            Some(national) if national.len() == 10 => format!("0{national}"),
            _ => digits,
        },
    })
}

/// Why the callee's leg (Exotel outbound, LiveKit inbound) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// DNS, TCP refused or unreachable, a failed TLS handshake.
    Unreachable,
    /// No response within Timer B, or no answer within the ringing timeout (Timer C).
    Timeout,
    /// Exotel's final response.
    Response(u16),
    /// Exotel answered 2xx with an SDP we cannot relay.
    BadAnswer,
    Internal,
}

/// The status the caller gets for a failure of the callee's leg.
pub fn status_toward_caller(f: Failure) -> u16 {
    match f {
        Failure::Unreachable => 503,
        Failure::Timeout => 408,
        // Exotel's challenge is for Exotel's realm: passed on, LiveKit would answer it with
        // the bridge's credentials. Our credentials were refused: forbidden.
        Failure::Response(401 | 407) => 403,
        // A B2BUA does not follow redirects on LiveKit's behalf.
        Failure::Response(300..=399) => 480,
        Failure::Response(c @ 400..=699) => c,
        Failure::Response(_) => 500,
        Failure::BadAnswer => 502,
        Failure::Internal => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_format_table() {
        use NumberFormat::*;
        for (input, format, want) in [
            ("+919876543210", E164NoPlus, Some("919876543210")),
            ("+919876543210", E164, Some("+919876543210")),
            ("+919876543210", IndianNational, Some("09876543210")),
            ("919876543210", E164NoPlus, Some("919876543210")),
            ("00919876543210", E164NoPlus, Some("919876543210")),
            ("09876543210", E164NoPlus, Some("919876543210")),
            ("+1 (555) 010-0000", E164NoPlus, Some("15550100000")),
            ("+15550100000", IndianNational, Some("15550100000")),
            ("+12", E164NoPlus, None),
            ("+1234567890123456", E164NoPlus, None),
            ("+91abc", E164NoPlus, None),
            ("", E164NoPlus, None),
            ("+0123456789", E164NoPlus, None),
        ] {
            assert_eq!(
                exotel_number(input, format).as_deref(),
                want,
                "{input} {format:?}"
            );
        }
    }

    #[test]
    fn failure_mapping_table() {
        for (f, want) in [
            (Failure::Unreachable, 503),
            (Failure::Timeout, 408),
            (Failure::Response(401), 403),
            (Failure::Response(407), 403),
            (Failure::Response(302), 480),
            (Failure::Response(403), 403),
            (Failure::Response(404), 404),
            (Failure::Response(486), 486),
            (Failure::Response(487), 487),
            (Failure::Response(503), 503),
            (Failure::Response(603), 603),
            (Failure::Response(200), 500),
            (Failure::BadAnswer, 502),
            (Failure::Internal, 500),
        ] {
            assert_eq!(status_toward_caller(f), want, "{f:?}");
        }
    }

    #[test]
    fn a_trunk_debug_shows_no_password() {
        let t = testing::trunk();
        let shown = format!("{t:?}");
        assert!(!shown.contains(testing::LK_PASSWORD) && !shown.contains(testing::EXO_PASSWORD));
    }
}
