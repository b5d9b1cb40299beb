//! CreateSIPParticipant and TransferSIPParticipant on the wire: validation, grants, every
//! scripted outcome's Twirp error, and the room state the call leaves behind.

mod common;

use common::*;
use livekit_double::{CallOutcome, CallState, LiveKitDouble};
use livekit_protocol::participant_info::Kind;
use livekit_protocol::*;
use serde_json::json;
use std::time::{Duration, Instant};

const SIP: &str = "livekit.SIP";

async fn trunk_id(lk: &LiveKitDouble) -> String {
    create(lk, trunk("sip.example.com", &["+15550100"]))
        .await
        .unwrap()
        .sip_trunk_id
}

fn dial(trunk: &str, room: &str, wait: bool) -> CreateSipParticipantRequest {
    CreateSipParticipantRequest {
        sip_trunk_id: trunk.into(),
        sip_call_to: "+15550199".into(),
        room_name: room.into(),
        wait_until_answered: wait,
        ..Default::default()
    }
}

async fn place(
    lk: &LiveKitDouble,
    req: &CreateSipParticipantRequest,
) -> Result<SipParticipantInfo, TwirpErr> {
    let t = token(json!({"sip": {"call": true}}));
    twirp(lk, SIP, "CreateSIPParticipant", &t, req).await
}

#[tokio::test]
async fn answered_call_joins_a_sip_participant() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    let mut req = dial(&trunk, "call-1", true);
    req.participant_attributes.insert("crm".into(), "42".into());
    req.max_call_duration
        .get_or_insert_with(Default::default)
        .seconds = 600;
    let info = place(&lk, &req).await.unwrap();
    assert!(info.participant_id.starts_with("PA_"), "{info:?}");
    assert!(info.sip_call_id.starts_with("SCL_"), "{info:?}");
    assert_eq!(info.participant_identity, "sip_+15550199");
    assert_eq!(info.room_name, "call-1");

    let ps = lk.participants("call-1");
    assert_eq!(ps.len(), 1);
    let p = &ps[0];
    assert_eq!(p.kind, Kind::Sip as i32);
    assert_eq!(p.sid, info.participant_id);
    let a = &p.attributes;
    assert_eq!(a["sip.callID"], info.sip_call_id);
    assert_eq!(a["sip.callStatus"], "active");
    assert_eq!(a["sip.trunkID"], trunk);
    assert_eq!(a["sip.phoneNumber"], "+15550199");
    assert_eq!(a["sip.trunkPhoneNumber"], "+15550100");
    assert_eq!(a["sip.hostname"], "sip.example.com");
    assert_eq!(a["crm"], "42");

    let calls = lk.calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(
        (c.state, c.outcome.clone()),
        (CallState::Active, CallOutcome::Answer)
    );
    assert_eq!(c.max_call_duration, Some(Duration::from_secs(600)));
    assert_eq!(c.request, req);

    // RoomService sees the participant too; hiding the number drops the number attributes.
    let admin = token(json!({"video": {"roomAdmin": true, "room": "call-1"}}));
    let listed: ListParticipantsResponse = twirp(
        &lk,
        "livekit.RoomService",
        "ListParticipants",
        &admin,
        &ListParticipantsRequest {
            room: "call-1".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.participants, ps);
    let mut hidden = dial(&trunk, "call-2", false);
    hidden.hide_phone_number = true;
    hidden.participant_identity = "callee".into();
    let info = place(&lk, &hidden).await.unwrap();
    assert_eq!(info.participant_identity, "callee");
    let a = &lk.participants("call-2")[0].attributes;
    assert!(!a.contains_key("sip.phoneNumber") && !a.contains_key("sip.trunkPhoneNumber"));
    assert_eq!(lk.requests().last().unwrap().method, "CreateSIPParticipant");
}

#[tokio::test]
async fn create_is_validated_like_livekit() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    // sip.admin does not imply sip.call.
    let e = twirp::<_, SipParticipantInfo>(
        &lk,
        SIP,
        "CreateSIPParticipant",
        &admin_token(),
        &dial(&trunk, "r", true),
    )
    .await
    .unwrap_err();
    assert_eq!(e.parts(), (401, "unauthenticated", "permissions denied"));

    let cases = [
        (dial("", "r", true), "missing sip trunk id and sip number"),
        (
            CreateSipParticipantRequest {
                sip_call_to: String::new(),
                ..dial(&trunk, "r", true)
            },
            "missing sip callee number",
        ),
        (
            CreateSipParticipantRequest {
                sip_call_to: "bob@example.com".into(),
                ..dial(&trunk, "r", true)
            },
            "SipCallTo should be a phone number or SIP user, not a full SIP URI",
        ),
        (dial(&trunk, "", true), "missing room name"),
    ];
    for (req, msg) in cases {
        let e = place(&lk, &req).await.unwrap_err();
        assert_eq!(e.parts(), (400, "invalid_argument", msg));
    }
    let e = place(&lk, &dial("ST_nope", "r", true)).await.unwrap_err();
    assert_eq!(
        e.parts(),
        (404, "not_found", "requested sip trunk does not exist")
    );
    // Nothing reached the dialing stage.
    assert!(lk.calls().is_empty());
    assert!(lk.rooms().is_empty());
}

/// `(outcome, ringing_timeout, status, code, msg, sip_status_code, reason)`.
type Case = (
    CallOutcome,
    Option<i64>,
    u16,
    &'static str,
    &'static str,
    Option<&'static str>,
    DisconnectReason,
);

#[tokio::test]
async fn failed_outcomes_answer_livekits_errors() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    let cases: Vec<Case> = vec![
        (
            CallOutcome::Busy,
            None,
            429,
            "resource_exhausted",
            "twirp error unknown: INVITE failed: sip status: 486: Busy Here",
            Some("486"),
            DisconnectReason::UserRejected,
        ),
        (
            CallOutcome::Reject,
            None,
            403,
            "permission_denied",
            "twirp error unknown: unexpected status from INVITE response: sip status: 603: Decline",
            Some("603"),
            DisconnectReason::UserRejected,
        ),
        (
            CallOutcome::TrunkError(503),
            None,
            412,
            "failed_precondition",
            "twirp error unknown: unexpected status from INVITE response: sip status: 503: Service Unavailable",
            Some("503"),
            DisconnectReason::SipTrunkFailure,
        ),
        (
            CallOutcome::TrunkError(404),
            None,
            404,
            "not_found",
            "twirp error unknown: INVITE failed: sip status: 404: Not Found",
            Some("404"),
            DisconnectReason::UserUnavailable,
        ),
        (
            CallOutcome::TrunkError(403),
            None,
            403,
            "permission_denied",
            "twirp error unknown: unexpected status from INVITE response: sip status: 403: Forbidden",
            Some("403"),
            DisconnectReason::UserRejected,
        ),
        (
            CallOutcome::TrunkError(408),
            None,
            408,
            "deadline_exceeded",
            "twirp error unknown: unexpected status from INVITE response: sip status: 408: Request Timeout",
            Some("408"),
            DisconnectReason::UserUnavailable,
        ),
        (
            CallOutcome::NoAnswer,
            Some(20),
            408,
            "canceled",
            "twirp error unknown: sip request timed out",
            None,
            DisconnectReason::UserUnavailable,
        ),
        (
            CallOutcome::NoAnswer,
            None,
            408,
            "deadline_exceeded",
            "twirp error unknown: request timed out",
            None,
            DisconnectReason::UserUnavailable,
        ),
        (
            CallOutcome::TrunkError(407),
            None,
            412,
            "failed_precondition",
            "twirp error unknown: max auth retry attempts reached for SIP invite",
            None,
            DisconnectReason::UserRejected,
        ),
    ];
    for (i, (outcome, ringing, status, code, msg, sip_code, reason)) in
        cases.into_iter().enumerate()
    {
        lk.push_call_outcome(outcome.clone());
        let room = format!("room-{i}");
        let mut req = dial(&trunk, &room, true);
        if let Some(secs) = ringing {
            req.ringing_timeout
                .get_or_insert_with(Default::default)
                .seconds = secs;
        }
        let e = place(&lk, &req).await.unwrap_err();
        assert_eq!(e.parts(), (status, code, msg), "{outcome:?}");
        match sip_code {
            Some(c) => {
                assert_eq!(e.meta["sip_status_code"], c, "{outcome:?}");
                assert!(e.meta["sip_status"].as_str().is_some_and(|s| !s.is_empty()));
                assert!(e.meta["error_details"].is_string());
            }
            None => assert!(e.meta.is_null(), "{outcome:?}: {:?}", e.meta),
        }
        let c = lk.calls().pop().unwrap();
        assert_eq!(c.state, CallState::Failed, "{outcome:?}");
        assert_eq!(c.disconnect_reason, Some(reason), "{outcome:?}");
        assert_eq!(c.error.as_ref().map(|e| e.code.as_str()), Some(code));
        // The participant left and the room closed.
        assert!(lk.participants(&room).is_empty());
    }
    assert!(lk.rooms().is_empty());
}

#[tokio::test]
async fn outcome_queue_and_no_wait() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    lk.set_call_outcome(CallOutcome::Busy);
    lk.push_call_outcome(CallOutcome::Answer);
    // Without wait_until_answered the answer is a success whatever happens next.
    let first = place(&lk, &dial(&trunk, "a", false)).await.unwrap();
    let second = place(&lk, &dial(&trunk, "b", false)).await.unwrap();
    let third = place(&lk, &dial(&trunk, "c", true)).await.unwrap_err();
    assert_eq!(third.code, "resource_exhausted");
    let calls = lk.calls();
    assert_eq!(calls[0].sip_call_id, first.sip_call_id);
    assert_eq!(calls[0].state, CallState::Active);
    assert_eq!(calls[1].sip_call_id, second.sip_call_id);
    assert_eq!(calls[1].state, CallState::Failed);
    assert_eq!(calls[1].error.as_ref().unwrap().code, "resource_exhausted");
    assert_eq!(calls[2].outcome, CallOutcome::Busy);
}

#[tokio::test]
async fn outcomes_by_number_ending() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    lk.set_outcome_for_suffix("0486", CallOutcome::Busy);
    lk.set_outcome_for_suffix("0480", CallOutcome::NoAnswer);
    // The longer ending wins over the shorter one, whatever the order they were set in.
    lk.set_outcome_for_suffix("86", CallOutcome::Reject);
    let to = |n: &str, room: &str| CreateSipParticipantRequest {
        sip_call_to: n.into(),
        ..dial(&trunk, room, true)
    };
    let busy = place(&lk, &to("+15550100486", "a")).await.unwrap_err();
    assert_eq!(busy.code, "resource_exhausted");
    let unanswered = place(&lk, &to("+15550100480", "b")).await.unwrap_err();
    assert_eq!(unanswered.code, "deadline_exceeded");
    let rejected = place(&lk, &to("+15550100186", "c")).await.unwrap_err();
    assert_eq!(rejected.code, "permission_denied");
    place(&lk, &to("+15550100123", "d")).await.unwrap();
    // A one-shot outcome still goes first.
    lk.push_call_outcome(CallOutcome::Answer);
    place(&lk, &to("+15550100486", "e")).await.unwrap();
    let states: Vec<CallState> = lk.calls().iter().map(|c| c.state).collect();
    use CallState::*;
    assert_eq!(states, [Failed, Failed, Failed, Active, Active]);
}

#[tokio::test]
async fn answered_calls_can_hang_up_on_their_own() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    lk.set_answered_call_length(Some(Duration::from_millis(200)));
    place(&lk, &dial(&trunk, "a", true)).await.unwrap();
    assert_eq!(lk.calls()[0].state, CallState::Active);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = &lk.calls()[0];
    assert_eq!(c.state, CallState::Ended);
    assert_eq!(c.disconnect_reason, Some(DisconnectReason::ClientInitiated));
    assert!(lk.rooms().is_empty());
}

#[tokio::test]
async fn delayed_answers() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    lk.push_call_outcome(CallOutcome::AnswerAfter(Duration::from_millis(300)));
    let t = Instant::now();
    place(&lk, &dial(&trunk, "a", true)).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(lk.calls()[0].state, CallState::Active);

    // Without waiting: answered at once, still ringing for a while.
    lk.push_call_outcome(CallOutcome::AnswerAfter(Duration::from_millis(300)));
    let t = Instant::now();
    let info = place(&lk, &dial(&trunk, "b", false)).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(300));
    assert_eq!(lk.calls()[1].state, CallState::Ringing);
    assert_eq!(
        lk.participants("b")[0].attributes["sip.callStatus"],
        "ringing"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(lk.calls()[1].state, CallState::Active);
    assert_eq!(lk.calls()[1].sip_call_id, info.sip_call_id);

    // Slow holds the Twirp answer back even without waiting.
    lk.push_call_outcome(CallOutcome::Slow(Duration::from_millis(300)));
    let t = Instant::now();
    place(&lk, &dial(&trunk, "c", false)).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn calls_end_by_hangup_max_duration_or_removal() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    let a = place(&lk, &dial(&trunk, "a", true)).await.unwrap();
    assert!(lk.hangup(&a.sip_call_id));
    assert!(!lk.hangup(&a.sip_call_id));
    let c = &lk.calls()[0];
    assert_eq!(c.state, CallState::Ended);
    assert_eq!(c.disconnect_reason, Some(DisconnectReason::ClientInitiated));
    assert!(lk.rooms().is_empty());

    let mut req = dial(&trunk, "b", true);
    req.max_call_duration
        .get_or_insert_with(Default::default)
        .nanos = 200_000_000;
    place(&lk, &req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = &lk.calls()[1];
    assert_eq!(c.state, CallState::Ended);
    assert_eq!(c.disconnect_reason, Some(DisconnectReason::ClientInitiated));

    let r = place(&lk, &dial(&trunk, "c", true)).await.unwrap();
    let admin = token(json!({"video": {"roomAdmin": true, "room": "c"}}));
    let _: RemoveParticipantResponse = twirp(
        &lk,
        "livekit.RoomService",
        "RemoveParticipant",
        &admin,
        &RoomParticipantIdentity {
            room: "c".into(),
            identity: r.participant_identity,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let c = &lk.calls()[2];
    assert_eq!(c.state, CallState::Ended);
    assert_eq!(
        c.disconnect_reason,
        Some(DisconnectReason::ParticipantRemoved)
    );
}

fn transfer(room: &str, identity: &str, to: &str) -> TransferSipParticipantRequest {
    TransferSipParticipantRequest {
        participant_identity: identity.into(),
        room_name: room.into(),
        transfer_to: to.into(),
        ..Default::default()
    }
}

async fn do_transfer(
    lk: &LiveKitDouble,
    token: &str,
    req: &TransferSipParticipantRequest,
) -> Result<TransferSipParticipantResponse, TwirpErr> {
    twirp(lk, SIP, "TransferSIPParticipant", token, req).await
}

#[tokio::test]
async fn transfers() {
    let lk = start().await;
    let trunk = trunk_id(&lk).await;
    let info = place(&lk, &dial(&trunk, "t", true)).await.unwrap();
    let id = info.participant_identity.as_str();
    let good = call_token("t");

    // Grants: sip.call and room admin of that very room.
    for g in [
        json!({"sip": {"call": true}}),
        json!({"video": {"roomAdmin": true, "room": "t"}, "sip": {"admin": true}}),
        json!({"sip": {"call": true}, "video": {"roomAdmin": true, "room": "u"}}),
    ] {
        let e = do_transfer(&lk, &token(g.clone()), &transfer("t", id, "tel:+1555"))
            .await
            .unwrap_err();
        assert_eq!(
            e.parts(),
            (401, "unauthenticated", "permissions denied"),
            "{g}"
        );
    }
    let cases = [
        (
            transfer("", id, "tel:+1"),
            400,
            "invalid_argument",
            "twirp error unknown: Missing room name",
        ),
        (
            transfer("t", "", "tel:+1"),
            400,
            "invalid_argument",
            "twirp error unknown: Missing participant identity",
        ),
        (
            transfer("t", id, ""),
            400,
            "invalid_argument",
            "missing transfer to",
        ),
        (
            transfer("t", id, "+15550111"),
            400,
            "invalid_argument",
            "transfer_to must be a valid SIP(s) or TEL URI (sip:, sips: or tel:)",
        ),
        (
            transfer("t", "ghost", "tel:+1"),
            404,
            "not_found",
            "twirp error unknown: participant does not exist",
        ),
    ];
    for (req, status, code, msg) in cases {
        let e = do_transfer(&lk, &good, &req).await.unwrap_err();
        assert_eq!(e.parts(), (status, code, msg), "{req:?}");
    }
    assert!(lk.transfers().is_empty());

    // The target refuses: SIP meta, the call stays up.
    lk.set_transfer_outcome(Err(486));
    let e = do_transfer(&lk, &good, &transfer("t", id, "sip:desk@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        e.parts(),
        (
            429,
            "resource_exhausted",
            "twirp error unknown: call transfer failed: sip status: 486: Busy Here"
        )
    );
    assert_eq!(e.meta["sip_status_code"], "486");
    assert_eq!(lk.calls()[0].state, CallState::Active);

    lk.set_transfer_outcome(Ok(()));
    let _ = do_transfer(&lk, &good, &transfer("t", id, "<sip:desk@example.com>"))
        .await
        .unwrap();
    assert_eq!(lk.transfers().len(), 2);
    assert_eq!(lk.transfers()[1].transfer_to, "<sip:desk@example.com>");
    let c = &lk.calls()[0];
    assert_eq!(c.state, CallState::Transferred);
    assert_eq!(c.disconnect_reason, Some(DisconnectReason::ClientInitiated));
    assert!(lk.participants("t").is_empty());
    // Gone now.
    let e = do_transfer(&lk, &good, &transfer("t", id, "tel:+1"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "not_found");
}
