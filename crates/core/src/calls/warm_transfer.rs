//! Warm transfer of an answered call (seed 004 §3.2): the agent consults the transfer target
//! in a room of its own, then the target is moved into the caller's room and the agent leaves.
//!
//! The consultation room is `<call id>_<transfer id>` in the tenant's namespace: a `CL_` name,
//! which tenants cannot use, and not a call id, so LiveKit's webhooks about it touch no call.
//! The dial runs in the background of the instance that accepted the request; its row carries
//! a deadline, and a transfer still dialing past it (its instance died) is settled as failed
//! the next time anyone looks at the call's transfers.

use super::dialer::room_of;
use super::outcome::{classify_dial_error, DialOutcome};
use super::{micros, DialPlan};
use crate::rooms;
use serde_json::{json, Value};
use std::time::Duration;
use trunkline_domain::call::CallStatus;
use trunkline_livekit::{proto, seconds, ErrorKind, LiveKitClient, LiveKitError};
use trunkline_store::{now_micros, CallRow, Store, StoreError, WarmTransferEnd, WarmTransferRow};

pub const DIALING: &str = "dialing";
pub const CONSULTING: &str = "consulting";
pub const COMPLETED: &str = "completed";
pub const ENDED: &str = "ended";

/// Time beyond the ringing timeout given to LiveKit's answer, and then to the row's deadline.
const ANSWER_MARGIN: Duration = Duration::from_secs(15);
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// Why settling by deadline failed a transfer.
pub const LOST_TRACK: &str = "trunkline lost track of this transfer while it was dialing (the instance dialing it stopped); LiveKit never reported an outcome";

/// What a transfer is asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    /// As the tenant gave it (E.164, `tel:` or `sip:` URI).
    pub target: String,
    /// What CreateSIPParticipant dials over the call's trunk: a number or a SIP user.
    pub dial: String,
    /// The tenant's own agent name (not namespaced).
    pub agent_name: String,
    pub metadata: Option<Value>,
}

/// The agent name the transfer uses when none is given: the call's own.
pub fn default_agent(call: &CallRow) -> Option<String> {
    DialPlan::parse(&call.plan).map(|p| p.agent_name)
}

fn ringing_secs(call: &CallRow) -> u64 {
    DialPlan::parse(&call.plan).map_or(30, |p| p.ringing_timeout)
}

/// The outcome a failed dial of the target ends the transfer with, and its SIP status.
pub fn dial_outcome(e: &LiveKitError) -> Option<(&'static str, Option<u16>, String)> {
    match classify_dial_error(e) {
        DialOutcome::Final {
            status,
            sip_status_code,
            error,
        } => {
            let outcome = match status {
                CallStatus::Busy => "busy",
                CallStatus::Rejected => "declined",
                CallStatus::NoAnswer => "no_answer",
                _ => "failed",
            };
            Some((outcome, sip_status_code, error))
        }
        // A transfer is not redialed: the agent decides what to try next.
        DialOutcome::Retry {
            sip_status_code,
            error,
        } => Some(("failed", sip_status_code, error)),
        // The INVITE may be out: LiveKit's answer is lost, the deadline settles it.
        DialOutcome::Unknown { .. } => None,
    }
}

/// Records the transfer and starts dialing in the background. `None`: the call already has
/// a transfer open.
pub async fn start(
    store: &Store,
    livekit: &LiveKitClient,
    call: &CallRow,
    livekit_trunk: String,
    req: Request,
) -> Result<Option<WarmTransferRow>, StoreError> {
    let id = format!("WT_{}", trunkline_domain::ids::random_hex());
    let now = now_micros();
    let ringing = ringing_secs(call);
    let row = WarmTransferRow {
        room: rooms::livekit_room(&call.tenant_id, &format!("{}_{id}", call.id)),
        participant_identity: format!("transfer_{}", &id[3..]),
        id,
        call_id: call.id.clone(),
        tenant_id: call.tenant_id.clone(),
        target: req.target.clone(),
        agent_name: req.agent_name.clone(),
        status: DIALING.into(),
        outcome: None,
        sip_status_code: None,
        error: None,
        deadline_at: now + micros(Duration::from_secs(ringing) + ANSWER_MARGIN + DEADLINE_MARGIN),
        created_at: now,
        answered_at: None,
        ended_at: None,
        updated_at: now,
    };
    if !store.insert_warm_transfer(&row).await? {
        return Ok(None);
    }
    let (store, livekit, call, t) = (store.clone(), livekit.clone(), call.clone(), row.clone());
    tokio::spawn(async move {
        if let Err(e) = dial(&store, &livekit, &call, &t, &livekit_trunk, &req, ringing).await {
            // The row stays dialing; its deadline settles it.
            tracing::warn!(transfer = %t.id, error = %e, "warm transfer: database error while dialing");
        }
    });
    Ok(Some(row))
}

async fn dial(
    store: &Store,
    lk: &LiveKitClient,
    call: &CallRow,
    t: &WarmTransferRow,
    livekit_trunk: &str,
    req: &Request,
    ringing: u64,
) -> Result<(), StoreError> {
    let agent_metadata = json!({"warm_transfer": {
        "transfer_id": t.id,
        "call_id": call.id,
        "to": t.target,
        "caller": {"number": call.to_number, "called_from": call.from_number, "room": call.id},
        "metadata": req.metadata,
    }})
    .to_string();
    let empty_timeout = (ringing + 30).min(u64::from(u32::MAX)) as u32;
    let prepared = async {
        lk.create_room(&t.room, empty_timeout, &agent_metadata)
            .await?;
        let agent = rooms::livekit_agent(&call.tenant_id, &req.agent_name);
        lk.create_agent_dispatch(&t.room, &agent, &agent_metadata)
            .await
    }
    .await;
    if let Err(e) = prepared {
        let error = super::outcome::error_text(&e);
        return fail(store, lk, call, t, "failed", None, &error).await;
    }
    let dial = proto::CreateSipParticipantRequest {
        sip_trunk_id: livekit_trunk.to_owned(),
        sip_call_to: req.dial.clone(),
        sip_number: call.from_number.clone(),
        room_name: t.room.clone(),
        participant_identity: t.participant_identity.clone(),
        participant_name: req.dial.clone(),
        ringing_timeout: Some(seconds(ringing)),
        wait_until_answered: true,
        ..Default::default()
    };
    let timeout = Duration::from_secs(ringing) + ANSWER_MARGIN;
    match lk.create_sip_participant(dial, timeout).await {
        Ok(_) => {
            if !store.warm_transfer_answered(&t.id, now_micros()).await? {
                // Cancelled or settled while ringing: nobody wants this leg any more.
                let _ = lk.delete_room(&t.room).await;
            }
            Ok(())
        }
        Err(e) => match dial_outcome(&e) {
            Some((outcome, code, error)) => fail(store, lk, call, t, outcome, code, &error).await,
            None => {
                tracing::warn!(transfer = %t.id, error = %e, "warm transfer: dial outcome unknown");
                Ok(())
            }
        },
    }
}

/// Ends a dialing transfer that failed: the consultation room goes, and the agent in the
/// caller's room is told through the room's metadata.
async fn fail(
    store: &Store,
    lk: &LiveKitClient,
    call: &CallRow,
    t: &WarmTransferRow,
    outcome: &str,
    sip_status_code: Option<u16>,
    error: &str,
) -> Result<(), StoreError> {
    let end = WarmTransferEnd {
        status: ENDED,
        outcome,
        sip_status_code: sip_status_code.map(i64::from),
        error: Some(error),
    };
    if !store
        .end_warm_transfer(&t.id, &[DIALING], &end, now_micros())
        .await?
    {
        return Ok(());
    }
    close_room(lk, &t.room).await;
    tell_agent(lk, call, t, outcome, sip_status_code, error).await;
    Ok(())
}

/// The caller's room metadata says how the transfer ended, for the agent still with the
/// caller (agents receive room metadata changes).
async fn tell_agent(
    lk: &LiveKitClient,
    call: &CallRow,
    t: &WarmTransferRow,
    outcome: &str,
    sip_status_code: Option<u16>,
    error: &str,
) {
    let metadata = json!({"warm_transfer": {
        "transfer_id": t.id,
        "to": t.target,
        "status": ENDED,
        "outcome": outcome,
        "sip_status_code": sip_status_code,
        "error": error,
    }})
    .to_string();
    if let Err(e) = lk.update_room_metadata(&room_of(call), &metadata).await {
        tracing::warn!(transfer = %t.id, error = %e, "warm transfer: could not tell the agent the transfer failed");
    }
}

/// Deletes a consultation room; one already gone is fine.
pub async fn close_room(lk: &LiveKitClient, room: &str) {
    match lk.delete_room(room).await {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(%room, error = %e, "warm transfer: could not close the consultation room")
        }
    }
}

/// The call's open transfer, after settling one whose dialing outlived its deadline.
pub async fn open(
    store: &Store,
    lk: &LiveKitClient,
    call: &CallRow,
) -> Result<Option<WarmTransferRow>, StoreError> {
    let Some(t) = store.open_warm_transfer(&call.id).await? else {
        return Ok(None);
    };
    if t.status == DIALING && t.deadline_at < now_micros() {
        fail(store, lk, call, &t, "failed", None, LOST_TRACK).await?;
        return Ok(None);
    }
    Ok(Some(t))
}

/// How completing ended, when it could not.
#[derive(Debug)]
pub enum CompleteError {
    /// The target is no longer in the consultation room; the transfer ended as failed.
    TargetGone,
    LiveKit(LiveKitError),
    Store(StoreError),
}

impl From<StoreError> for CompleteError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Moves the target into the caller's room, removes the agents from it and closes the
/// consultation. `t` must be consulting. A LiveKit failure before the move leaves the
/// transfer consulting, so the request can be repeated.
pub async fn complete(
    store: &Store,
    lk: &LiveKitClient,
    call: &CallRow,
    t: &WarmTransferRow,
) -> Result<(), CompleteError> {
    let caller_room = room_of(call);
    match lk
        .move_participant(&t.room, &t.participant_identity, &caller_room)
        .await
    {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let end = WarmTransferEnd {
                status: ENDED,
                outcome: "failed",
                sip_status_code: None,
                error: Some("the target left the consultation before the transfer completed"),
            };
            store
                .end_warm_transfer(&t.id, &[CONSULTING], &end, now_micros())
                .await?;
            close_room(lk, &t.room).await;
            return Err(CompleteError::TargetGone);
        }
        Err(e) => return Err(CompleteError::LiveKit(e)),
    }
    let end = WarmTransferEnd {
        status: COMPLETED,
        outcome: "accepted",
        sip_status_code: None,
        error: None,
    };
    store
        .end_warm_transfer(&t.id, &[CONSULTING], &end, now_micros())
        .await?;
    // The target is with the caller now: what remains is tidying up, reported but not undone.
    match lk.list_participants(&caller_room).await {
        Ok(ps) => {
            let agent = proto::participant_info::Kind::Agent as i32;
            for p in ps.iter().filter(|p| p.kind == agent) {
                if let Err(e) = lk.remove_participant(&caller_room, &p.identity).await {
                    if e.kind() != ErrorKind::NotFound {
                        tracing::warn!(transfer = %t.id, error = %e, "warm transfer: could not remove the agent from the caller's room");
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(transfer = %t.id, error = %e, "warm transfer: could not list the caller's room")
        }
    }
    close_room(lk, &t.room).await;
    Ok(())
}

/// Hangs up the consultation. False if the transfer had ended meanwhile.
pub async fn cancel(
    store: &Store,
    lk: &LiveKitClient,
    t: &WarmTransferRow,
) -> Result<bool, StoreError> {
    end_consultation(store, lk, t, None).await
}

/// The call ended (its callee hung up, or its room closed): a consultation still open for it
/// is hung up, so the target is not left talking with the agent about a caller who is gone.
/// False when the call had no transfer open.
pub async fn caller_gone(
    store: &Store,
    lk: &LiveKitClient,
    call_id: &str,
) -> Result<bool, StoreError> {
    match store.open_warm_transfer(call_id).await? {
        Some(t) => {
            end_consultation(
                store,
                lk,
                &t,
                Some("the caller hung up during the consultation"),
            )
            .await
        }
        None => Ok(false),
    }
}

async fn end_consultation(
    store: &Store,
    lk: &LiveKitClient,
    t: &WarmTransferRow,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let end = WarmTransferEnd {
        status: ENDED,
        outcome: "cancelled",
        sip_status_code: None,
        error,
    };
    let ended = store
        .end_warm_transfer(&t.id, &[DIALING, CONSULTING], &end, now_micros())
        .await?;
    if ended {
        close_room(lk, &t.room).await;
    }
    Ok(ended)
}
