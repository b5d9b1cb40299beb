//! Outbound calls after the API accepted them: the dialer that claims and dials queued
//! calls, the tracking of their fate from LiveKit's answers and webhooks, and the delivery of
//! end-of-call webhooks.

pub mod cancel;
pub mod dialer;
pub mod fair;
pub mod finish;
pub mod outcome;
pub mod place;
pub mod public_dns;
pub mod render;
pub mod signing;
pub mod tracking;
pub mod transfer;
pub mod warm_transfer;
pub mod warm_transfer_requests;
pub mod webhooks_out;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits and timings of call handling. The defaults suit one trunkline with a handful of
/// trunks; operators change them through `serve`'s environment.
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Names this process in claims, so only the claimer dials what it claimed.
    pub instance: String,
    /// Calls per second per trunk, ×1000, unless the trunk sets its own.
    pub default_cps_milli: i64,
    pub default_trunk_concurrency: i64,
    pub tenant_concurrency: i64,
    /// Dial attempts per call, the first included.
    pub max_attempts: i64,
    /// A claim older than this, never dialed, is taken back (its claimer is presumed dead).
    pub claim_timeout: Duration,
    /// How often the dialer looks for due calls when nothing wakes it.
    pub tick: Duration,
    /// Dial slots are reserved this far ahead.
    pub horizon: Duration,
    /// Ringing timeout when neither the assistant nor the trunk sets one.
    pub default_ringing_secs: u64,
    /// How long an answered call may go without news before LiveKit is asked whether its
    /// room is still open (covers a LiveKit whose webhooks do not reach trunkline).
    pub room_check_after: Duration,
    /// Attempts at delivering one end-of-call webhook before giving up.
    pub webhook_max_attempts: i64,
    /// First retry delay of a webhook; doubles per attempt, capped at an hour.
    pub webhook_base_delay: Duration,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            instance: format!("ins_{}", &trunkline_domain::ids::random_hex()[..16]),
            default_cps_milli: 1000,
            default_trunk_concurrency: 10,
            tenant_concurrency: 50,
            max_attempts: 3,
            claim_timeout: Duration::from_secs(60),
            tick: Duration::from_millis(50),
            horizon: Duration::from_millis(500),
            default_ringing_secs: 30,
            room_check_after: Duration::from_secs(60),
            webhook_max_attempts: 10,
            webhook_base_delay: Duration::from_secs(5),
        }
    }
}

/// What a call is dialed with, frozen when it is queued: a later edit of the assistant does
/// not change a call already accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DialPlan {
    pub agent_name: String,
    /// The job metadata the agent receives.
    pub agent_metadata: String,
    /// The SIP participant's metadata.
    pub participant_metadata: String,
    pub ringing_timeout: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_call_duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

impl DialPlan {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

pub fn micros(d: Duration) -> i64 {
    d.as_micros() as i64
}

/// Fills the current span's `trunk_id` and `tenant` (declared empty by the dialer's span) from
/// the call, so every line logged while dialing it carries them.
pub fn log_fields(call: &trunkline_store::CallRow) {
    let span = tracing::Span::current();
    span.record("trunk_id", call.trunk_id.as_str());
    span.record("tenant", call.tenant_id.as_str());
}
