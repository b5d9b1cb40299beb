//! Moving a call forward: one place that knows which statuses may precede which, which
//! timestamp each move stamps, and that a final status queues the end-of-call webhook in the
//! same transaction.

use super::DialPlan;
use trunkline_domain::call::CallStatus;
use trunkline_store::{Applied, CallRow, OutboxEntry, Store, StoreError, Transition};

/// Details a move may carry.
#[derive(Debug, Default, Clone)]
pub struct Details {
    pub sip_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub end_reason: Option<String>,
    pub participant_identity: Option<String>,
    pub sip_call_id: Option<String>,
    pub event_id: Option<String>,
}

/// Moves `call` to `to` at `at` (µs) if it has not gone further already.
pub async fn advance(
    store: &Store,
    call: &CallRow,
    to: CallStatus,
    at: i64,
    d: Details,
) -> Result<Applied, StoreError> {
    advance_from(store, call, to, at, d, None).await
}

/// As `advance`, but only from the statuses in `only` (when given): for a move decided on a
/// status read earlier, which must not apply if the call moved on meanwhile.
pub async fn advance_from(
    store: &Store,
    call: &CallRow,
    to: CallStatus,
    at: i64,
    d: Details,
    only: Option<&[CallStatus]>,
) -> Result<Applied, StoreError> {
    let stamp = match to {
        CallStatus::Ringing => Some("ringing_at"),
        CallStatus::Answered => Some("answered_at"),
        s if s.is_final() => Some("ended_at"),
        _ => None,
    };
    // Only an unanswered call is busy, rejected, failed or cancelled (an answered call that
    // is stopped completes).
    let from: Vec<&str> = match to {
        // From dialing too: after a restart, LiveKit's report of a leg that ended after an
        // answer may be the first news of that answer.
        CallStatus::Completed => vec!["dialing", "ringing", "answered"],
        s if s.is_final() => vec!["queued", "claimed", "dialing", "ringing"],
        s => s.predecessors(),
    };
    let from: Vec<&str> = match only {
        Some(only) => from
            .into_iter()
            .filter(|f| only.iter().any(|o| o.as_str() == *f))
            .collect(),
        None => from,
    };
    let webhook = if to.is_final() {
        DialPlan::parse(&call.plan)
            .and_then(|p| p.webhook_url)
            .map(|url| OutboxEntry {
                id: format!("msg_{}", trunkline_domain::ids::random_hex()),
                tenant_id: call.tenant_id.clone(),
                url,
            })
    } else {
        None
    };
    // An answered call's SIP answer was a 200 even when no later event repeats it.
    let sip_code = d
        .sip_status_code
        .or(call.sip_status_code.and_then(|c| u16::try_from(c).ok()))
        .or((to == CallStatus::Completed).then_some(200));
    let applied = store
        .transition(
            &call.id,
            &Transition {
                to: to.as_str(),
                from,
                at,
                stamp,
                sip_status_code: d.sip_status_code.map(i64::from),
                last_error: d.last_error,
                end_reason: d.end_reason,
                participant_identity: d.participant_identity,
                sip_call_id: d.sip_call_id,
                webhook,
                event_id: d.event_id,
                ends_call: to.is_final(),
            },
        )
        .await?;
    if to.is_final() && matches!(applied, Applied::Yes) {
        crate::metrics::call_ended(&call.tenant_id, to, sip_code);
    }
    Ok(applied)
}
