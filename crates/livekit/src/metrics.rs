//! The LiveKit client's metrics: every Twirp call by method and outcome, and its latency.
//! Recorded in the one place every call goes through (`LiveKitClient::rpc`).

use crate::error::LiveKitError;
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use std::time::Duration;

pub const RPCS: &str = "trunkline_livekit_rpcs_total";
pub const RPC_DURATION: &str = "trunkline_livekit_rpc_duration_seconds";

/// Registers the help texts (once, when the recorder is installed).
pub fn describe() {
    describe_counter!(
        RPCS,
        "LiveKit Twirp calls, by method and outcome (ok, a Twirp error code, unauthorized, unreachable, timeout, bad_response)"
    );
    describe_histogram!(
        RPC_DURATION,
        Unit::Seconds,
        "Time of LiveKit Twirp calls, by method, until the answer or the failure"
    );
}

/// The Twirp error codes (twitchtv/twirp errors.go); anything else LiveKit might send is
/// `other`, so a server cannot grow the label set.
const TWIRP_CODES: [&str; 17] = [
    "canceled",
    "unknown",
    "invalid_argument",
    "malformed",
    "deadline_exceeded",
    "not_found",
    "bad_route",
    "already_exists",
    "permission_denied",
    "unauthenticated",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
];

pub(crate) fn outcome<T>(result: &Result<T, LiveKitError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(LiveKitError::Twirp { code, .. }) => TWIRP_CODES
            .iter()
            .find(|c| **c == code.as_str())
            .copied()
            .unwrap_or("other"),
        Err(LiveKitError::Unauthorized { .. }) => "unauthorized",
        Err(LiveKitError::Unreachable { .. }) => "unreachable",
        Err(LiveKitError::Timeout { .. }) => "timeout",
        Err(LiveKitError::BadResponse { .. }) => "bad_response",
    }
}

/// One Twirp call ended after `took`.
pub(crate) fn rpc_done<T>(method: &str, took: Duration, result: &Result<T, LiveKitError>) {
    counter!(RPCS, "method" => method.to_owned(), "outcome" => outcome(result)).increment(1);
    histogram!(RPC_DURATION, "method" => method.to_owned()).record(took.as_secs_f64());
}
