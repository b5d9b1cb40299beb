//! Outbound calls: their statuses, the order those move in, and what each way a call can end
//! means for the status and for a retry. Pure, so every row of every table is tested.

use std::time::Duration;

/// Where a call is. Statuses only move forward ([`CallStatus::rank`]); the six final ones
/// never change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Waiting in the queue (possibly for a retry's backoff).
    Queued,
    /// A dialer reserved a dial slot; nothing has been sent yet. Shown as `queued`.
    Claimed,
    /// CreateSIPParticipant was sent: the INVITE may be out.
    Dialing,
    Ringing,
    Answered,
    Completed,
    Busy,
    NoAnswer,
    Rejected,
    Failed,
    Cancelled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 11] = [
        Self::Queued,
        Self::Claimed,
        Self::Dialing,
        Self::Ringing,
        Self::Answered,
        Self::Completed,
        Self::Busy,
        Self::NoAnswer,
        Self::Rejected,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Claimed => "claimed",
            Self::Dialing => "dialing",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The name clients see: a claim is an internal step of the queue.
    pub fn public(self) -> &'static str {
        match self {
            Self::Claimed => "queued",
            other => other.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self.rank() == 5
    }

    /// Progress order: a transition is applied only to a higher rank, so a late or replayed
    /// event can never move a call backwards.
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Claimed => 1,
            Self::Dialing => 2,
            Self::Ringing => 3,
            Self::Answered => 4,
            _ => 5,
        }
    }

    /// Stored names of every status strictly before `self`: the `WHERE status IN (…)` of a
    /// forward-only update.
    pub fn predecessors(self) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| s.rank() < self.rank())
            .map(Self::as_str)
            .collect()
    }
}

/// What a SIP final response (from the provider, relayed by LiveKit) means for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipVerdict {
    /// The callee's side ended it: a final status.
    Final(CallStatus),
    /// The trunk, not the callee, failed before anyone could ring (RFC 3261 §21.5.4 503
    /// Service Unavailable, §21.4.9 408 Request Timeout from the provider): dialing again
    /// cannot ring the callee twice.
    Retry,
}

/// The status a SIP final response code gives a call that was not answered.
pub fn sip_verdict(code: u16) -> SipVerdict {
    match code {
        // Busy Here, Busy Everywhere.
        486 | 600 => SipVerdict::Final(CallStatus::Busy),
        // Decline; Unwanted (RFC 8197); Rejected (RFC 8688).
        603 | 607 | 608 => SipVerdict::Final(CallStatus::Rejected),
        // Temporarily Unavailable (nobody picked up, or the phone is off) and Request
        // Terminated (the ringing was cancelled when the ringing timeout fired).
        480 | 487 => SipVerdict::Final(CallStatus::NoAnswer),
        408 | 503 => SipVerdict::Retry,
        // 404/484 (number format), 401/403/407 (credentials, IP whitelist), 488 (codecs), the
        // rest of 4xx–6xx: the call cannot succeed as configured.
        _ => SipVerdict::Final(CallStatus::Failed),
    }
}

/// LiveKit's `DisconnectReason` names for a SIP participant that left before being answered
/// (`livekit_models.proto`), as they arrive in a webhook.
pub fn unanswered_left_status(reason: &str) -> CallStatus {
    match reason {
        "USER_REJECTED" => CallStatus::Rejected,
        "USER_UNAVAILABLE" => CallStatus::NoAnswer,
        _ => CallStatus::Failed,
    }
}

/// Delay before retry number `attempt` (1 = the first retry): 2 s, 4 s, 8 s, … capped at a
/// minute, so a trunk that is down is not hammered.
pub fn retry_delay(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(5);
    Duration::from_secs(2u64 << exp).min(Duration::from_secs(60))
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
