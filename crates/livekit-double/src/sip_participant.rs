//! `CreateSIPParticipant` end to end (transfers: `sip_transfer.rs`): livekit/livekit
//! `pkg/service/sip.go` (grants, validation, trunk lookup, error wrapping), livekit/protocol
//! `rpc/sip.go` (`NewCreateSIPParticipantRequestResult`: number, identity, attributes) and
//! livekit/sip `pkg/sip/client.go`, `outbound.go`, `errors.go`, `participant.go` (joining the
//! room before dialing, call status attributes, how each failure ends the call).
//!
//! Timeline of an outbound call in LiveKit, which the double follows: the SIP participant
//! joins the room *before* the INVITE is sent (`newCall` → `connectToRoom`), with
//! `sip.callStatus` = `dialing`, so `room_started` (if new) and `participant_joined` come
//! first; a 18x sets `ringing`, the 200 sets `active` (attribute updates have no webhook);
//! a failed INVITE disconnects the participant (`participant_left`), and the room closes.

use crate::auth::Grants;
use crate::sip::TRUNK_NOT_FOUND;
use crate::sip_status::{self, psrpc_error};
use crate::store::{guid, now_ms};
use crate::twirp::{auth_error, Codec, TwirpError};
use crate::{Shared, State};
use axum::response::Response;
use livekit_protocol::participant_info::{Kind, State as PState};
use livekit_protocol::{
    CreateSipParticipantRequest, DisconnectReason, ParticipantInfo, ParticipantPermission,
    SipParticipantInfo,
};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const ATTR_CALL_ID: &str = "sip.callID";
pub(crate) const ATTR_CALL_STATUS: &str = "sip.callStatus";

/// How the callee (or the provider) answers the next dialed call.
///
/// With `wait_until_answered`, `CreateSIPParticipant` answers like LiveKit does for each
/// (livekit/sip `pkg/sip/outbound.go` + `errors.go`, livekit/protocol `livekit/sip.go`,
/// `utils/xtwirp/errors.go`):
///
/// | outcome | Twirp code | `msg` | meta | `participant_left.disconnectReason` |
/// |---|---|---|---|---|
/// | `Busy` (486) | `resource_exhausted` | `twirp error unknown: INVITE failed: sip status: 486: Busy Here` | `sip_status_code`, `sip_status`, `error_details` | `USER_REJECTED` |
/// | `Reject` (603) | `permission_denied` | `twirp error unknown: unexpected status from INVITE response: sip status: 603: Decline` | same | `USER_REJECTED` |
/// | `TrunkError(c)` | per `sipCodeToGRPCCode`: 404 `not_found`, 403 `permission_denied`, 408/504 `deadline_exceeded`, 480 `resource_exhausted`, 5xx `failed_precondition` | `INVITE failed: …` for 400/404/480/486/488, else `unexpected status from INVITE response: …` | same | 403, 6xx, 486, 488 `USER_REJECTED`; other 4xx `USER_UNAVAILABLE`; 5xx `SIP_TRUNK_FAILURE` |
/// | `NoAnswer` | `canceled` (HTTP 408) when the request's `ringing_timeout` is under the server's 80 s psrpc timeout, else `deadline_exceeded` | `twirp error unknown: sip request timed out` / `twirp error unknown: request timed out` | **none**: no SIP final response, so no `sip_status_code` | `USER_UNAVAILABLE` |
///
/// The no-answer case is `sipResponse` in livekit/sip `pkg/sip/outbound.go`: when the
/// ringing timeout's context ends it cancels the INVITE and returns
/// `psrpc.NewError(psrpc.Canceled, ErrSIPRequestTimeout)`, which carries no `SIPStatus`, so
/// `ApplySIPStatus` adds nothing. Without `ringing_timeout` livekit/sip rings for 3 minutes
/// (`defaultRingingTimeout`), longer than the 80 s `CreateSIPParticipant` gives the psrpc call
/// (`pkg/service/sip.go`), so the server's own `request timed out` answers first.
///
/// 401/407 are auth challenges, never final: with trunk credentials they end as
/// `failed_precondition` "max auth retry attempts reached for SIP invite", without as
/// "sip server required auth, but no username or password was provided" (no SIP meta).
///
/// `disconnectReason` follows livekit/sip's classification (`EndCall.Reason`, what
/// `SIPCallInfo` reports). Caveat: the OSS server derives the participant's reason from the
/// SDK's leave request, which only carries `EndCall.Status.DisconnectReason()`; there a 5xx
/// leaves as `CLIENT_INITIATED` and "other 4xx" as `USER_REJECTED`.
///
/// The double decides instantly (a no-answer does not wait out the ringing timeout); the
/// `sip.callStatus` left behind is `dialing` for `Busy` and `TrunkError` (provider answered
/// at once) and `ringing` for `Reject`, `NoAnswer`, `AnswerAfter` and `Slow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CallOutcome {
    /// Answered at once.
    #[default]
    Answer,
    /// Rings, then is answered after this long.
    AnswerAfter(Duration),
    /// 486 Busy Here.
    Busy,
    /// Rings until the ringing timeout.
    NoAnswer,
    /// 603 Decline.
    Reject,
    /// A final error response from the provider, e.g. 503, 408, 404, 403.
    TrunkError(u16),
    /// Rings for this long, then answers; the Twirp answer is held back as long even
    /// without `wait_until_answered`.
    Slow(Duration),
}

/// Where a dialed call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Participant joined, INVITE sent, no ringing yet.
    Dialing,
    Ringing,
    /// Answered.
    Active,
    /// Never answered (busy, rejected, no answer, trunk error).
    Failed,
    /// Answered, then ended (hangup, max duration, removed, room deleted).
    Ended,
    /// Transferred away with a REFER.
    Transferred,
}

/// One `CreateSIPParticipant` that reached the dialing stage.
#[derive(Debug, Clone, PartialEq)]
pub struct DialedCall {
    /// The request as decoded.
    pub request: CreateSipParticipantRequest,
    /// `SCL_…`.
    pub sip_call_id: String,
    /// `PA_…`.
    pub participant_id: String,
    pub participant_identity: String,
    pub room_name: String,
    /// The From number used (`sip_number`, else one of the trunk's numbers).
    pub from_number: String,
    pub outcome: CallOutcome,
    pub state: CallState,
    pub ringing_timeout: Option<Duration>,
    pub max_call_duration: Option<Duration>,
    /// SIP final status of a failed call.
    pub sip_status: Option<u16>,
    /// Why the participant left, once it has.
    pub disconnect_reason: Option<DisconnectReason>,
    /// The Twirp error the call failed with (answered only with `wait_until_answered`).
    pub error: Option<TwirpError>,
    pub(crate) started: Instant,
}

impl DialedCall {
    pub(crate) fn live(&self) -> bool {
        matches!(
            self.state,
            CallState::Dialing | CallState::Ringing | CallState::Active
        )
    }
}

/// A protobuf `Duration` (seconds, nanos); zero or negative means unset.
fn duration(d: Option<(i64, i32)>) -> Option<Duration> {
    let (seconds, nanos) = d?;
    let nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    (nanos > 0).then(|| Duration::from_nanos(nanos.min(u64::MAX as i128) as u64))
}

/// `CreateSIPParticipantRequest.ValidateResult` (livekit/protocol `livekit/sip.go`), minus
/// header, media and destination checks.
fn validate(req: &CreateSipParticipantRequest) -> Result<(), String> {
    if req.sip_trunk_id.is_empty() && req.trunk.is_none() && req.sip_number.is_empty() {
        return Err("missing sip trunk id and sip number".into());
    }
    if req.sip_call_to.is_empty() {
        return Err("missing sip callee number".into());
    }
    if req.sip_call_to.contains('@') {
        return Err("SipCallTo should be a phone number or SIP user, not a full SIP URI".into());
    }
    if req.to_user_override.contains('@') {
        return Err(
            "ToUserOverride should be a phone number or SIP user, not a full SIP URI".into(),
        );
    }
    if req.room_name.is_empty() {
        return Err("missing room name".into());
    }
    if req.display_name.as_ref().is_some_and(|n| n.len() > 128) {
        return Err("DisplayName too long (max 128 characters)".into());
    }
    Ok(())
}

enum Plan {
    Done(Result<(), TwirpError>),
    After(Duration),
}

pub(crate) async fn create(
    shared: &Arc<Shared>,
    codec: Codec,
    body: &[u8],
    g: Option<&Grants>,
) -> Result<Response, TwirpError> {
    let req: CreateSipParticipantRequest = codec.decode(body)?;
    let wait = req.wait_until_answered;
    let (info, plan, slow) = {
        let mut s = shared.lock();
        if let Some(e) = s.fail_next.take() {
            return Err(e);
        }
        start(shared, &mut s, g, req)?
    };
    let result = match plan {
        Plan::Done(r) => r,
        Plan::After(d) => {
            // Its own task: the call goes on even if the client stops waiting.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (shared2, id) = (shared.clone(), info.sip_call_id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                let r = answer(&shared2, &mut shared2.lock(), &id);
                let _ = tx.send(r);
            });
            if wait {
                rx.await.unwrap_or(Ok(()))
            } else {
                Ok(())
            }
        }
    };
    if wait {
        result?;
    } else if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    Ok(codec.encode(&info))
}

/// Everything up to the INVITE, under the lock; instant outcomes are settled here too.
fn start(
    shared: &Arc<Shared>,
    s: &mut State,
    g: Option<&Grants>,
    req: CreateSipParticipantRequest,
) -> Result<(SipParticipantInfo, Plan, Option<Duration>), TwirpError> {
    if !g.is_some_and(Grants::sip_call) {
        return Err(auth_error());
    }
    validate(&req).map_err(TwirpError::invalid_argument)?;
    let trunk = if req.sip_trunk_id.is_empty() {
        None
    } else {
        let t = s.store.outbound.get(&req.sip_trunk_id).cloned();
        Some(t.ok_or_else(|| TwirpError::not_found(TRUNK_NOT_FOUND))?)
    };
    let (hostname, numbers) = match (&trunk, &req.trunk) {
        (Some(t), _) => (t.address.clone(), t.numbers.clone()),
        (None, Some(t)) => (t.hostname.clone(), Vec::new()),
        (None, None) => (String::new(), Vec::new()),
    };
    let mut number = req.sip_number.clone();
    if number.is_empty() {
        if numbers.is_empty() {
            return Err(psrpc_error(
                "failed_precondition",
                "no numbers on outbound trunk",
            ));
        }
        number = numbers[rand::rng().random_range(0..numbers.len())].clone();
    }
    if hostname.ends_with("twilio.com") && !number.starts_with('+') {
        number.insert(0, '+');
    }
    if hostname.is_empty() {
        // livekit/sip `buildLegacyURI`: a plain error, `unknown` once through psrpc.
        return Err(psrpc_error("unknown", "address must be set"));
    }
    let call_id = guid("SCL_");
    let mut attrs = req.participant_attributes.clone();
    attrs.insert(ATTR_CALL_ID.into(), call_id.clone());
    let trunk_id = trunk
        .as_ref()
        .map(|t| t.sip_trunk_id.clone())
        .unwrap_or_else(|| req.sip_trunk_id.clone());
    attrs.insert("sip.trunkID".into(), trunk_id);
    if !req.hide_phone_number {
        attrs.insert("sip.phoneNumber".into(), req.sip_call_to.clone());
        attrs.insert("sip.hostname".into(), hostname.clone());
        attrs.insert("sip.trunkPhoneNumber".into(), number.clone());
    }
    attrs.insert(ATTR_CALL_STATUS.into(), "dialing".into());
    let identity = if req.participant_identity.is_empty() {
        format!("sip_{}", req.sip_call_to)
    } else {
        req.participant_identity.clone()
    };
    let now = now_ms();
    let p = ParticipantInfo {
        sid: guid("PA_"),
        identity: identity.clone(),
        state: PState::Active as i32,
        metadata: req.participant_metadata.clone(),
        joined_at: now / 1000,
        joined_at_ms: now,
        name: req.participant_name.clone(),
        version: 1,
        // livekit/protocol `sip/token.go`: the SIP participant's token grants.
        permission: Some(ParticipantPermission {
            can_subscribe: true,
            can_publish: true,
            can_publish_data: true,
            can_update_metadata: true,
            ..Default::default()
        }),
        kind: Kind::Sip as i32,
        attributes: attrs,
        ..Default::default()
    };
    let info = SipParticipantInfo {
        participant_id: p.sid.clone(),
        participant_identity: identity,
        room_name: req.room_name.clone(),
        sip_call_id: call_id.clone(),
    };
    s.join(&req.room_name, p);
    let outcome = s.call_outcomes.pop_front().unwrap_or_else(|| {
        s.suffix_outcomes
            .iter()
            .find(|(suffix, _)| req.sip_call_to.ends_with(suffix.as_str()))
            .map_or_else(|| s.call_outcome.clone(), |(_, o)| o.clone())
    });
    s.calls.push(DialedCall {
        ringing_timeout: duration(req.ringing_timeout.as_ref().map(|d| (d.seconds, d.nanos))),
        max_call_duration: duration(req.max_call_duration.as_ref().map(|d| (d.seconds, d.nanos))),
        request: req,
        sip_call_id: call_id.clone(),
        participant_id: info.participant_id.clone(),
        participant_identity: info.participant_identity.clone(),
        room_name: info.room_name.clone(),
        from_number: number,
        outcome: outcome.clone(),
        state: CallState::Dialing,
        sip_status: None,
        disconnect_reason: None,
        error: None,
        started: Instant::now(),
    });
    let (plan, slow) = match outcome {
        CallOutcome::Answer => (Plan::Done(answer(shared, s, &call_id)), None),
        CallOutcome::AnswerAfter(d) => {
            set_status(s, &call_id, CallState::Ringing, "ringing");
            (Plan::After(d), None)
        }
        CallOutcome::Slow(d) => {
            set_status(s, &call_id, CallState::Ringing, "ringing");
            (Plan::After(d), Some(d))
        }
        CallOutcome::Busy => (Plan::Done(fail(s, &call_id, 486)), None),
        CallOutcome::TrunkError(code) => (Plan::Done(fail(s, &call_id, code)), None),
        CallOutcome::Reject => {
            set_status(s, &call_id, CallState::Ringing, "ringing");
            (Plan::Done(fail(s, &call_id, 603)), None)
        }
        CallOutcome::NoAnswer => {
            set_status(s, &call_id, CallState::Ringing, "ringing");
            (Plan::Done(no_answer(s, &call_id)), None)
        }
    };
    Ok((info, plan, slow))
}

pub(crate) fn call_index(s: &State, call_id: &str) -> Option<usize> {
    s.calls.iter().position(|c| c.sip_call_id == call_id)
}

/// Moves the call to `state` and mirrors `sip.callStatus` on the participant.
fn set_status(s: &mut State, call_id: &str, state: CallState, attr: &str) {
    let Some(i) = call_index(s, call_id) else {
        return;
    };
    s.calls[i].state = state;
    let (room, identity) = (
        s.calls[i].room_name.clone(),
        s.calls[i].participant_identity.clone(),
    );
    if let Some(p) = s.participant_mut(&room, &identity) {
        p.attributes.insert(ATTR_CALL_STATUS.into(), attr.into());
        p.version += 1;
    }
}

/// The error a call gets when its participant vanished before the answer: the INVITE's
/// context is cancelled (`sipResponse`).
fn cancelled() -> TwirpError {
    psrpc_error("canceled", "sip request timed out")
}

/// The 200 OK: `active`, and the max call duration (counted from the dial, as livekit/sip's
/// `deadline` is) starts running.
fn answer(shared: &Arc<Shared>, s: &mut State, call_id: &str) -> Result<(), TwirpError> {
    let Some(i) = call_index(s, call_id).filter(|&i| s.calls[i].live()) else {
        return Err(cancelled());
    };
    set_status(s, call_id, CallState::Active, "active");
    if let Some(length) = s.answered_call_length {
        let (shared, id) = (shared.clone(), call_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(length).await;
            end(&mut shared.lock(), &id, CallState::Ended);
        });
    }
    if let Some(max) = s.calls[i].max_call_duration {
        let left = max.saturating_sub(s.calls[i].started.elapsed());
        let (shared, id) = (shared.clone(), call_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(left).await;
            // `waitClose`: the context deadline ends the call as a hangup.
            end(&mut shared.lock(), &id, CallState::Ended);
        });
    }
    Ok(())
}

/// Ends a live call from the SIP side as a hangup (`CallHangup`: `hangup`,
/// `CLIENT_INITIATED`). Returns whether it was live.
pub(crate) fn end(s: &mut State, call_id: &str, state: CallState) -> bool {
    let Some(i) = call_index(s, call_id).filter(|&i| s.calls[i].live()) else {
        return false;
    };
    set_status(s, call_id, state, "hangup");
    let reason = DisconnectReason::ClientInitiated;
    s.calls[i].disconnect_reason = Some(reason);
    let (room, identity) = (
        s.calls[i].room_name.clone(),
        s.calls[i].participant_identity.clone(),
    );
    s.leave(&room, &identity, reason, false);
    true
}

/// A failed call: the participant leaves with `reason`, and `error` is what the waiting
/// `CreateSIPParticipant` answers.
fn finish_failed(
    s: &mut State,
    call_id: &str,
    sip_status: Option<u16>,
    reason: DisconnectReason,
    error: TwirpError,
) -> Result<(), TwirpError> {
    let Some(i) = call_index(s, call_id).filter(|&i| s.calls[i].live()) else {
        return Err(cancelled());
    };
    let c = &mut s.calls[i];
    c.state = CallState::Failed;
    c.sip_status = sip_status;
    c.disconnect_reason = Some(reason);
    c.error = Some(error.clone());
    let (room, identity) = (c.room_name.clone(), c.participant_identity.clone());
    s.leave(&room, &identity, reason, false);
    Err(error)
}

/// `classifyInviteError` (livekit/sip `pkg/sip/errors.go`): the participant's reason.
fn reason_for(code: u16) -> DisconnectReason {
    use DisconnectReason as R;
    match code {
        401 | 403 | 407 | 486 | 488 => R::UserRejected,
        400..=499 => R::UserUnavailable,
        500..=599 => R::SipTrunkFailure,
        600..=699 => R::UserRejected,
        _ => R::UnknownReason,
    }
}

fn fail(s: &mut State, call_id: &str, code: u16) -> Result<(), TwirpError> {
    let reason = reason_for(code);
    if code == 401 || code == 407 {
        // Auth challenges: `sipOutbound.Invite` retries with credentials, or gives up.
        let has_creds = call_index(s, call_id)
            .and_then(|i| s.store.outbound.get(&s.calls[i].request.sip_trunk_id))
            .is_some_and(|t| !t.auth_username.is_empty() && !t.auth_password.is_empty());
        let msg = if has_creds {
            "max auth retry attempts reached for SIP invite"
        } else {
            "sip server required auth, but no username or password was provided"
        };
        let e = psrpc_error("failed_precondition", msg);
        return finish_failed(s, call_id, Some(code), reason, e);
    }
    let phrase = sip_status::reason_phrase(code);
    let e = sip_status::twirp_error(code, phrase, sip_status::invite_context(code));
    finish_failed(s, call_id, Some(code), reason, e)
}

fn no_answer(s: &mut State, call_id: &str) -> Result<(), TwirpError> {
    // The server gives the psrpc call 80 s with wait_until_answered (`pkg/service/sip.go`).
    let ringing = call_index(s, call_id).and_then(|i| s.calls[i].ringing_timeout);
    let e = match ringing {
        Some(t) if t < Duration::from_secs(80) => cancelled(),
        _ => psrpc_error("deadline_exceeded", "request timed out"),
    };
    finish_failed(s, call_id, None, DisconnectReason::UserUnavailable, e)
}

/// A participant left for a reason outside the call (removed, room deleted, duplicate
/// identity): its live call ends.
pub(crate) fn participant_gone(s: &mut State, sid: &str, reason: DisconnectReason) {
    for c in s.calls.iter_mut().filter(|c| c.participant_id == sid) {
        if c.live() {
            c.state = if c.state == CallState::Active {
                CallState::Ended
            } else {
                CallState::Failed
            };
            c.disconnect_reason = Some(reason);
        }
    }
}
