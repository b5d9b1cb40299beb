//! Warm transfer of an answered call against the LiveKit double: the target consulted in a
//! room of its own, then moved into the caller's room with the agent removed; a target that
//! is busy, declines or does not answer (the caller stays with the agent, who is told through
//! the room's metadata); cancel, and the caller hanging up during the consultation; a
//! transfer whose dialing instance died; and the refusals.
//! Runs on SQLite, and on PostgreSQL when `TRUNKLINE_TEST_POSTGRES` is set.

mod support;

use livekit_double::{CallOutcome, CallState};
use serde_json::{json, Value};
use std::time::Duration;
use support::call_fixture::*;
use support::*;
use trunkline_core::calls::warm_transfer::LOST_TRACK;
use trunkline_livekit::proto;
use trunkline_store::{now_micros, WarmTransferRow};

/// An answered call with its agent in the caller's room.
async fn answered(f: &Fixture, to: &str) -> (String, String) {
    let id = f.call(to).await;
    f.wait_status(&id, "answered").await;
    let room = f.dialed(&id)[0].room_name.clone();
    f.lk.join_participant(
        &room,
        proto::ParticipantInfo {
            sid: format!("PA_agent_{id}"),
            identity: "agent-sales".into(),
            kind: proto::participant_info::Kind::Agent as i32,
            state: proto::participant_info::State::Active as i32,
            ..Default::default()
        },
    );
    (id, room)
}

async fn transfers(f: &Fixture, id: &str) -> Vec<Value> {
    let (st, body) = f
        .srv
        .get(&format!("/call/{id}/warm-transfers"), &f.key)
        .await;
    assert_eq!(st, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn wait_transfer(f: &Fixture, id: &str, field: &str, want: &str) -> Value {
    eventually(&format!("{id} transfer {field}={want}"), || async {
        let all = transfers(f, id).await;
        all.last().filter(|t| t[field] == want).cloned()
    })
    .await
}

fn identities(f: &Fixture, room: &str) -> Vec<String> {
    f.lk.participants(room)
        .into_iter()
        .map(|p| p.identity)
        .collect()
}

fn room_open(f: &Fixture, room: &str) -> bool {
    f.lk.rooms().iter().any(|r| r.name == room)
}

#[tokio::test]
async fn an_answered_target_is_moved_to_the_caller_and_the_agent_leaves() {
    let f = fixture().await;
    let (id, caller_room) = answered(&f, "+14155550361").await;
    let caller = f.dialed(&id)[0].participant_identity.clone();

    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/warm-transfer"),
            &f.key,
            &json!({"to": "+15550100001", "metadata": {"reason": "billing"}}),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    assert_eq!(body["data"]["status"], "dialing");
    assert!(body["data"]["outcome"].is_null());
    let tid = body["data"]["transfer_id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["room_name"], format!("{id}_{tid}"));

    let t = wait_transfer(&f, &id, "status", "consulting").await;
    assert!(t["answered_at"].is_string(), "{t}");
    // The target was dialed over the call's trunk, into the consultation room, which is in
    // the tenant's namespace like the caller's room.
    let leg =
        f.lk.calls()
            .into_iter()
            .find(|c| c.request.sip_call_to == "+15550100001")
            .expect("the target was dialed");
    assert_eq!(
        leg.request.sip_trunk_id,
        f.dialed(&id)[0].request.sip_trunk_id
    );
    let consult_room = leg.room_name.clone();
    assert_eq!(own_room(&consult_room), format!("{id}_{tid}"));
    assert_eq!(
        trunkline_core::rooms::split(&consult_room).unwrap().0,
        trunkline_core::rooms::split(&caller_room).unwrap().0
    );
    // The call's own agent, namespaced, with the caller and the call described.
    let dispatch =
        f.lk.dispatches()
            .into_iter()
            .find(|d| d.room == consult_room)
            .expect("the agent was dispatched into the consultation room");
    assert!(
        dispatch.agent_name.ends_with("_outbound-caller"),
        "{dispatch:?}"
    );
    assert_ne!(dispatch.agent_name, "outbound-caller");
    let meta: Value = serde_json::from_str(&dispatch.metadata).unwrap();
    assert_eq!(meta["warm_transfer"]["call_id"], id.as_str());
    assert_eq!(meta["warm_transfer"]["caller"]["number"], "+14155550361");
    assert_eq!(meta["warm_transfer"]["metadata"]["reason"], "billing");

    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/warm-transfer/complete"),
            &f.key,
            &json!({}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(body["data"]["outcome"], "accepted");
    assert!(body["data"]["ended_at"].is_string());

    // The target is with the caller, the agent has left, the consultation room is gone.
    let now_in_room = identities(&f, &caller_room);
    assert!(now_in_room.contains(&caller), "{now_in_room:?}");
    assert!(
        now_in_room.contains(&leg.participant_identity),
        "{now_in_room:?}"
    );
    assert!(
        !now_in_room.contains(&"agent-sales".to_owned()),
        "{now_in_room:?}"
    );
    assert!(!room_open(&f, &consult_room));
    let leg =
        f.lk.calls()
            .into_iter()
            .find(|c| c.sip_call_id == leg.sip_call_id)
            .unwrap();
    assert_eq!(leg.state, CallState::Active);
    assert_eq!(leg.room_name, caller_room);
    // The move went with the grants LiveKit checks for it.
    let moved =
        f.lk.requests()
            .into_iter()
            .find(|r| r.method == "MoveParticipant")
            .unwrap();
    assert!(moved.ok(), "{moved:?}");
    let video = &moved.grants.unwrap().claims["video"];
    assert_eq!(video["roomAdmin"], true);
    assert_eq!(video["room"], consult_room.as_str());
    assert_eq!(video["destinationRoom"], caller_room.as_str());
    // The call goes on, the target's leg now part of it: the target hanging up leaves the
    // caller's leg, and the call, up; the caller hanging up ends it.
    assert_eq!(f.get(&id).await["status"], "answered");
    assert!(f.lk.hangup(&leg.sip_call_id));
    assert!(f.lk.flush_webhooks(Duration::from_secs(5)).await);
    assert_eq!(f.get(&id).await["status"], "answered");
    assert!(f.lk.hangup(&f.dialed(&id)[0].sip_call_id));
    f.wait_status(&id, "completed").await;
    // The transfer is over: completing again is refused.
    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/warm-transfer/complete"),
            &f.key,
            &json!({}),
        )
        .await;
    assert_eq!(st, 409, "{body}");
}

#[tokio::test]
async fn a_target_that_does_not_take_the_call_leaves_the_caller_with_the_agent() {
    let f = fixture().await;
    let (id, caller_room) = answered(&f, "+14155550362").await;
    f.lk.set_outcome_for_suffix("0102", CallOutcome::Busy);
    f.lk.set_outcome_for_suffix("0103", CallOutcome::NoAnswer);
    f.lk.set_outcome_for_suffix("0104", CallOutcome::Reject);
    f.lk.set_outcome_for_suffix("0105", CallOutcome::TrunkError(503));
    for (to, outcome, sip) in [
        ("+15550100102", "busy", json!(486)),
        ("+15550100103", "no_answer", Value::Null),
        ("+15550100104", "declined", json!(603)),
        ("+15550100105", "failed", json!(503)),
    ] {
        let (st, body) = f
            .srv
            .post(
                &format!("/call/{id}/warm-transfer"),
                &f.key,
                &json!({"to": to}),
            )
            .await;
        assert_eq!(st, 202, "{body}");
        let tid = body["data"]["transfer_id"].as_str().unwrap().to_owned();
        let t = wait_transfer(&f, &id, "status", "ended").await;
        assert_eq!(t["transfer_id"], tid.as_str());
        assert_eq!(t["outcome"], outcome, "{t}");
        assert_eq!(t["sip_status_code"], sip, "{t}");
        assert!(t["error"].is_string(), "{t}");
        // The caller and the agent are still together; the agent was told.
        let ids = identities(&f, &caller_room);
        assert!(ids.contains(&"agent-sales".to_owned()), "{ids:?}");
        assert_eq!(f.dialed(&id)[0].state, CallState::Active);
        // (The room's metadata is set just after the transfer is recorded as ended.)
        let meta = eventually("the agent is told", || async {
            let room = f.lk.rooms().into_iter().find(|r| r.name == caller_room)?;
            let meta: Value = serde_json::from_str(&room.metadata).ok()?;
            (meta["warm_transfer"]["transfer_id"] == tid.as_str()).then_some(meta)
        })
        .await;
        assert_eq!(meta["warm_transfer"]["outcome"], outcome);
        assert!(!f
            .lk
            .rooms()
            .iter()
            .any(|r| own_room(&r.name) == format!("{id}_{tid}")));
    }
    assert_eq!(transfers(&f, &id).await.len(), 4);
    assert_eq!(f.get(&id).await["status"], "answered");
}

#[tokio::test]
async fn cancel_hangs_up_the_consultation() {
    let f = fixture().await;
    let (id, caller_room) = answered(&f, "+14155550363").await;
    let path = format!("/call/{id}/warm-transfer");

    // While the target's phone rings.
    f.lk.set_outcome_for_suffix("0201", CallOutcome::AnswerAfter(Duration::from_secs(20)));
    let (st, body) = f
        .srv
        .post(&path, &f.key, &json!({"to": "+15550100201"}))
        .await;
    assert_eq!(st, 202, "{body}");
    eventually("the target rings", || async {
        f.lk.calls()
            .into_iter()
            .any(|c| c.request.sip_call_to == "+15550100201")
            .then_some(())
    })
    .await;
    let (st, body) = f
        .srv
        .post(&format!("{path}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["outcome"], "cancelled");
    assert_eq!(body["data"]["status"], "ended");
    let leg =
        f.lk.calls()
            .into_iter()
            .find(|c| c.request.sip_call_to == "+15550100201")
            .unwrap();
    assert!(!room_open(&f, &leg.room_name));
    // The ringing leg's late answer changes nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(transfers(&f, &id).await[0]["outcome"], "cancelled");

    // While consulting.
    let (st, body) = f
        .srv
        .post(&path, &f.key, &json!({"to": "sip:2001@pbx.example.com"}))
        .await;
    assert_eq!(st, 202, "{body}");
    wait_transfer(&f, &id, "status", "consulting").await;
    let leg =
        f.lk.calls()
            .into_iter()
            .find(|c| c.request.sip_call_to == "2001")
            .expect("the SIP user was dialed over the trunk");
    let (st, body) = f
        .srv
        .post(&format!("{path}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["outcome"], "cancelled");
    assert!(!room_open(&f, &leg.room_name));
    assert_ne!(
        f.lk.calls()
            .into_iter()
            .find(|c| c.sip_call_id == leg.sip_call_id)
            .unwrap()
            .state,
        CallState::Active
    );
    assert!(identities(&f, &caller_room).contains(&"agent-sales".to_owned()));
    // Nothing left to cancel.
    let (st, body) = f
        .srv
        .post(&format!("{path}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 409, "{body}");
}

#[tokio::test]
async fn the_caller_hanging_up_cancels_the_consultation() {
    let f = fixture().await;
    let (id, _) = answered(&f, "+14155550364").await;
    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/warm-transfer"),
            &f.key,
            &json!({"to": "sip:2002@pbx.example.com"}),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    wait_transfer(&f, &id, "status", "consulting").await;
    let calls = f.lk.calls();
    let target = calls
        .iter()
        .find(|c| c.request.sip_call_to == "2002")
        .unwrap();
    let caller = calls
        .iter()
        .find(|c| c.request.sip_call_to == "+14155550364")
        .unwrap();
    assert!(room_open(&f, &target.room_name));

    assert!(f.lk.hangup(&caller.sip_call_id));
    f.wait_status(&id, "completed").await;
    let t = wait_transfer(&f, &id, "status", "ended").await;
    assert_eq!(t["outcome"], "cancelled", "{t}");
    assert!(
        t["error"]
            .as_str()
            .unwrap_or_default()
            .contains("caller hung up"),
        "{t}"
    );
    assert!(!room_open(&f, &target.room_name));
    assert_ne!(
        f.lk.calls()
            .into_iter()
            .find(|c| c.sip_call_id == target.sip_call_id)
            .unwrap()
            .state,
        CallState::Active
    );
}

#[tokio::test]
async fn a_transfer_whose_dialer_died_is_settled_at_its_deadline() {
    let f = fixture().await;
    let (id, _) = answered(&f, "+14155550364").await;
    let call = f.srv.store.call_by_id(&id).await.unwrap().unwrap();
    let past = now_micros() - 1_000_000;
    let row = WarmTransferRow {
        id: "WT_0123456789abcdef0123456789abcdef".into(),
        call_id: id.clone(),
        tenant_id: call.tenant_id.clone(),
        target: "tel:+15550100301".into(),
        agent_name: "outbound-caller".into(),
        room: trunkline_core::rooms::livekit_room(&call.tenant_id, "gone"),
        participant_identity: "transfer_x".into(),
        status: "dialing".into(),
        outcome: None,
        sip_status_code: None,
        error: None,
        deadline_at: past,
        created_at: past - 60_000_000,
        answered_at: None,
        ended_at: None,
        updated_at: past,
    };
    assert!(f.srv.store.insert_warm_transfer(&row).await.unwrap());
    // Open, it blocks another transfer until someone looks.
    assert!(!f
        .srv
        .store
        .insert_warm_transfer(&WarmTransferRow {
            id: "WT_1123456789abcdef0123456789abcdef".into(),
            ..row.clone()
        })
        .await
        .unwrap());
    let t = &transfers(&f, &id).await[0];
    assert_eq!(t["status"], "ended");
    assert_eq!(t["outcome"], "failed");
    assert_eq!(t["error"], LOST_TRACK);
    // A new transfer may start.
    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/warm-transfer"),
            &f.key,
            &json!({"to": "+15550100302"}),
        )
        .await;
    assert_eq!(st, 202, "{body}");
}

#[tokio::test]
async fn refusals_name_what_to_do() {
    let f = fixture().await;
    let (id, _) = answered(&f, "+14155550365").await;
    let path = format!("/call/{id}/warm-transfer");
    for (body, field) in [
        (json!({}), "to"),
        (json!({"to": "15550100000"}), "to"),
        (json!({"to": "sip:a b@c"}), "to"),
        (json!({"to": "sip:@pbx.example.com"}), "to"),
        (
            json!({"to": "+15550100000", "agent_name": "has space"}),
            "agent_name",
        ),
        (
            json!({"to": "+15550100000", "metadata": "x".repeat(17 * 1024)}),
            "metadata",
        ),
    ] {
        let (st, resp) = f.srv.post(&path, &f.key, &body).await;
        assert_eq!(st, 400, "{body} -> {resp}");
        assert!(resp["message"].as_str().unwrap().contains(field), "{resp}");
    }
    let (st, resp) = f
        .srv
        .post(&path, &f.key, &json!({"to": "+15550100000", "extra": 1}))
        .await;
    assert_eq!(st, 400, "{resp}");
    assert!(transfers(&f, &id).await.is_empty(), "nothing recorded");

    // Nothing to complete or cancel yet.
    for action in ["complete", "cancel"] {
        let (st, resp) = f
            .srv
            .post(&format!("{path}/{action}"), &f.key, &json!({}))
            .await;
        assert_eq!(st, 409, "{resp}");
    }
    // One at a time; and not completed before the target answers.
    f.lk.set_outcome_for_suffix("0401", CallOutcome::AnswerAfter(Duration::from_secs(20)));
    let (st, resp) = f
        .srv
        .post(&path, &f.key, &json!({"to": "+15550100401"}))
        .await;
    assert_eq!(st, 202, "{resp}");
    let (st, resp) = f
        .srv
        .post(&path, &f.key, &json!({"to": "+15550100402"}))
        .await;
    assert_eq!(st, 409, "{resp}");
    assert!(
        resp["message"].as_str().unwrap().contains("in progress"),
        "{resp}"
    );
    let (st, resp) = f
        .srv
        .post(&format!("{path}/complete"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 409, "{resp}");
    assert!(
        resp["message"]
            .as_str()
            .unwrap()
            .contains("not answered yet"),
        "{resp}"
    );

    // Another tenant sees no such call.
    let other = f.srv.tenant("other@example.com").await;
    for p in [
        path.clone(),
        format!("{path}/complete"),
        format!("{path}/cancel"),
    ] {
        let (st, resp) = f.srv.post(&p, &other, &json!({"to": "+15550100000"})).await;
        assert_eq!(st, 404, "{p} {resp}");
    }
    let (st, _) = f
        .srv
        .get(&format!("/call/{id}/warm-transfers"), &other)
        .await;
    assert_eq!(st, 404);

    // A call that is not answered.
    f.lk.set_outcome_for_suffix("0366", CallOutcome::Busy);
    let busy = f.call("+14155550366").await;
    f.wait_status(&busy, "busy").await;
    let (st, resp) = f
        .srv
        .post(
            &format!("/call/{busy}/warm-transfer"),
            &f.key,
            &json!({"to": "+15550100000"}),
        )
        .await;
    assert_eq!(st, 409, "{resp}");
    assert!(
        resp["message"].as_str().unwrap().contains("answered"),
        "{resp}"
    );
}
