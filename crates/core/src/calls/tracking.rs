//! Call status from LiveKit's webhooks. The room is named after the call (in its tenant's
//! namespace), so an event names its call; events about rooms trunkline did not make are acknowledged and ignored.
//! Transitions only move forward and an event id is applied once, so late, reordered and
//! replayed events change nothing they should not.

use super::finish::{advance, Details};
use crate::rooms;
use trunkline_domain::call::{unanswered_left_status, CallStatus};
use trunkline_domain::CallId;
use trunkline_livekit::proto;
use trunkline_store::{now_micros, Applied, Store, StoreError};

/// How the sweeper reads a noted outcome (`status:REASON`, see [`apply`]).
pub fn noted_outcome(noted: &str) -> (CallStatus, &str) {
    match noted.split_once(':') {
        Some((s, reason)) => (
            CallStatus::parse(s)
                .filter(|s| s.is_final())
                .unwrap_or(CallStatus::Failed),
            reason,
        ),
        None => (CallStatus::Failed, noted),
    }
}

/// What an event did, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Applied(CallStatus),
    /// Kept for the sweeper: the dialer awaiting LiveKit's answer reports the precise code.
    Noted(String),
    Duplicate,
    Ignored,
}

pub async fn apply(store: &Store, ev: &proto::WebhookEvent) -> Result<Effect, StoreError> {
    let Some(room) = ev.room.as_ref() else {
        return Ok(Effect::Ignored);
    };
    let Some(call) = owning_call(store, &room.name).await? else {
        return Ok(Effect::Ignored);
    };
    // Receipt time: the event's own `createdAt` has whole seconds only, too coarse for the
    // duration of a short call.
    let at = now_micros();
    let event_id = (!ev.id.is_empty()).then(|| ev.id.clone());
    let current = CallStatus::parse(&call.status).unwrap_or(CallStatus::Failed);
    let sip = ev
        .participant
        .as_ref()
        .filter(|p| p.kind == proto::participant_info::Kind::Sip as i32);

    let (to, details) = match (ev.event.as_str(), sip) {
        ("participant_joined", Some(p)) => {
            let to = match p.attributes.get("sip.callStatus").map(String::as_str) {
                Some("ringing") => CallStatus::Ringing,
                Some("dialing") | Some("automation") => return Ok(Effect::Ignored),
                // "active", or no attribute: a SIP participant in the room has answered.
                _ => CallStatus::Answered,
            };
            (
                to,
                Details {
                    participant_identity: Some(p.identity.clone()),
                    sip_call_id: p.attributes.get("sip.callID").cloned(),
                    ..Default::default()
                },
            )
        }
        // A leg of an earlier attempt, reported after the call went back to the queue for a
        // retry: it says nothing about the next attempt.
        ("participant_left" | "room_finished", _)
            if matches!(current, CallStatus::Queued | CallStatus::Claimed) =>
        {
            return Ok(Effect::Ignored)
        }
        // Another SIP participant in the call's room (a warm transfer's target, moved in):
        // its leaving does not end the callee's leg.
        ("participant_left", Some(p))
            if p.identity
                != call
                    .participant_identity
                    .clone()
                    .unwrap_or_else(|| super::dialer::participant_identity(&call)) =>
        {
            return Ok(Effect::Ignored)
        }
        ("participant_left", Some(p)) => {
            let reason = proto::DisconnectReason::try_from(p.disconnect_reason)
                .map(|r| r.as_str_name().to_owned())
                .unwrap_or_else(|_| "UNKNOWN_REASON".to_owned());
            // The SIP participant joins while dialing (livekit/sip `outbound.go`), so only its
            // status on leaving tells an answered call that ended from one never answered.
            let was_answered = current == CallStatus::Answered
                || matches!(
                    p.attributes.get("sip.callStatus").map(String::as_str),
                    Some("active") | Some("hangup")
                );
            let to = if was_answered {
                CallStatus::Completed
            } else {
                unanswered_left_status(&reason)
            };
            if current != CallStatus::Answered && waiting_for_answer(&call, current) {
                let noted = format!("{}:{reason}", to.as_str());
                if store.note_webhook_outcome(&call.id, &noted).await? {
                    return Ok(Effect::Noted(noted));
                }
                // The call moved on since it was read. Only a dialer that stopped waiting
                // (its outcome unknown) leaves this report to apply now; a call requeued for
                // a retry, or settled, is not about this leg any more.
                match store.call_by_id(&call.id).await? {
                    Some(c)
                        if c.claimed_by.is_none()
                            && matches!(c.status.as_str(), "dialing" | "ringing") => {}
                    _ => return Ok(Effect::Ignored),
                }
            }
            let details = if to == CallStatus::Completed {
                Details {
                    end_reason: Some(reason),
                    ..Default::default()
                }
            } else {
                Details {
                    last_error: Some(format!("LiveKit: the callee's leg ended ({reason})")),
                    ..Default::default()
                }
            };
            (to, details)
        }
        ("room_finished", _) => {
            if current == CallStatus::Answered {
                (
                    CallStatus::Completed,
                    Details {
                        end_reason: Some("ROOM_CLOSED".into()),
                        ..Default::default()
                    },
                )
            } else if current.is_final() || waiting_for_answer(&call, current) {
                return Ok(Effect::Ignored);
            } else {
                (
                    CallStatus::Failed,
                    Details {
                        last_error: Some(
                            "LiveKit closed the call's room before it was answered".into(),
                        ),
                        ..Default::default()
                    },
                )
            }
        }
        _ => return Ok(Effect::Ignored),
    };
    let details = Details {
        event_id,
        ..details
    };
    Ok(match advance(store, &call, to, at, details).await? {
        Applied::Yes => Effect::Applied(to),
        Applied::Duplicate => Effect::Duplicate,
        Applied::NotApplicable => Effect::Ignored,
    })
}

/// The call whose room this is, only if the room is in the namespace of the call's own
/// tenant: a room another tenant could name (its namespace, a call id of someone else's)
/// never touches that call. A room named after the call alone is one made before rooms
/// were namespaced; tenants cannot make such a room (their rooms always carry their
/// prefix, and `CL_` is refused in their names).
pub async fn owning_call(
    store: &Store,
    room: &str,
) -> Result<Option<trunkline_store::CallRow>, StoreError> {
    let (namespace, own) = match rooms::split(room) {
        Some((ns, own)) => (Some(ns), own),
        None => (None, room),
    };
    let Some(call_id) = CallId::parse(own) else {
        return Ok(None);
    };
    let Some(call) = store.call_by_id(call_id.as_str()).await? else {
        return Ok(None);
    };
    let owned = match namespace {
        Some(ns) => ns == rooms::namespace(&call.tenant_id),
        None => true,
    };
    Ok(owned.then_some(call))
}

/// A dialer in some trunkline is still awaiting LiveKit's answer for this call: it will
/// report the exact SIP outcome, unless the deadline passes first. A dialer whose request's
/// outcome is unknown released the call (`claimed_by` cleared): it will report nothing.
fn waiting_for_answer(call: &trunkline_store::CallRow, current: CallStatus) -> bool {
    matches!(current, CallStatus::Dialing | CallStatus::Ringing)
        && call.claimed_by.is_some()
        && call.dial_deadline_at.is_some_and(|d| d > now_micros())
}
