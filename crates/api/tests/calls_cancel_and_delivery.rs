//! Outbound calls off the common path after the dial: a cancel between claim and dial, an
//! end-of-call webhook that is given up on, and a transfer LiveKit cannot carry out. Runs on
//! SQLite, and on PostgreSQL when `TRUNKLINE_TEST_POSTGRES` is set.

mod support;

use livekit_double::{CallOutcome, CallState};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::call_fixture::*;
use support::*;
use trunkline_core::calls::signing::signature;
use trunkline_store::now_micros;

#[tokio::test]
async fn cancelling_a_call_waiting_for_its_slot_removes_its_room_and_never_dials() {
    let f = fixture_with(|s| {
        fast(s);
        let mut c = (*s.calls).clone();
        c.horizon = Duration::from_secs(5);
        s.calls = Arc::new(c);
    })
    .await;
    let (st, _) = f
        .srv
        .send(
            "PUT",
            &format!("/sip/trunks/{}/call-limits", f.trunk),
            Some(&f.key),
            Some(&json!({"calls_per_second": 0.5}).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    let first = f.call("+14155550321").await;
    let second = f.call("+14155550322").await;
    f.wait_status(&first, "answered").await;
    // The second is claimed for a slot 2 s after the first's; its room and agent are ready.
    let r = eventually("second claimed and prepared", || async {
        let r = row(&f, &second).await;
        let prepared =
            f.lk.dispatches()
                .iter()
                .any(|d| own_room(&d.room) == second);
        (r.status == "claimed" && prepared).then_some(r)
    })
    .await;
    assert!(r.dial_at.unwrap() - now_micros() > 300_000, "{r:?}");
    let (st, c) = f
        .srv
        .post(&format!("/call/{second}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["data"]["status"], "cancelled");
    assert_eq!(c["data"]["end_reason"], "cancelled_by_api");
    assert!(c["data"]["dialed_at"].is_null(), "{c}");
    // At its slot the dialer finds the call cancelled: it removes the room it made.
    within("prepared room removed", Duration::from_secs(10), || async {
        f.lk.rooms()
            .iter()
            .all(|r| own_room(&r.name) != second)
            .then_some(())
    })
    .await;
    assert!(f.dialed(&second).is_empty());
    assert!(f
        .lk
        .dispatches()
        .iter()
        .all(|d| own_room(&d.room) != second));
    let c = f.get(&second).await;
    assert_eq!(c["status"], "cancelled", "{c}");
    assert!(c["dialed_at"].is_null(), "{c}");
    assert_eq!(create_sip_participants(&f), 1);
    assert_eq!(f.get(&first).await["status"], "answered");
}

#[tokio::test]
async fn cancelling_a_call_while_its_room_is_being_made_never_dials_it() {
    let f = fixture().await;
    f.lk.clear_requests();
    // LiveKit is slow to answer: preparing the call takes a while.
    f.lk.set_latency(Duration::from_millis(400));
    let id = f.call("+14155550331").await;
    eventually("room requested while claimed", || async {
        let asked = f.lk.requests().iter().any(|r| r.method == "CreateRoom");
        (asked && row(&f, &id).await.status == "claimed").then_some(())
    })
    .await;
    let (st, c) = f
        .srv
        .post(&format!("/call/{id}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["data"]["status"], "cancelled");
    assert!(
        f.lk.rooms().iter().any(|r| own_room(&r.name) == id),
        "the room exists"
    );
    eventually("room removed", || async {
        f.lk.rooms()
            .iter()
            .all(|r| own_room(&r.name) != id)
            .then_some(())
    })
    .await;
    let methods: Vec<String> = f.lk.requests().into_iter().map(|r| r.method).collect();
    assert!(methods.iter().any(|m| m == "DeleteRoom"), "{methods:?}");
    assert!(
        !methods.iter().any(|m| m == "CreateSIPParticipant"),
        "{methods:?}"
    );
    assert!(f.dialed(&id).is_empty());
    assert_eq!(f.get(&id).await["status"], "cancelled");
}

/// The cancel route decides on the status it read. If the dialer moved the call on since
/// (claimed → dialing), a move restricted to the status read does not apply: the route reads
/// again and hangs the call up, rather than marking a live call cancelled.
#[tokio::test]
async fn a_cancel_decided_on_a_stale_status_does_not_apply() {
    use trunkline_core::calls::finish::{advance_from, Details};
    use trunkline_domain::call::CallStatus;
    let f = fixture().await;
    // It rings for a while: the call is `dialing`, from which a cancel could apply.
    f.lk.push_call_outcome(CallOutcome::AnswerAfter(Duration::from_secs(20)));
    let id = f.call("+14155550341").await;
    f.wait_status(&id, "dialing").await;
    // What the route read before the dialer got there.
    let mut stale = row(&f, &id).await;
    stale.status = "claimed".into();
    let applied = advance_from(
        &f.srv.store,
        &stale,
        CallStatus::Cancelled,
        now_micros(),
        Details::default(),
        Some(&[CallStatus::Claimed]),
    )
    .await
    .unwrap();
    assert_eq!(applied, trunkline_store::Applied::NotApplicable);
    assert_eq!(
        row(&f, &id).await.status,
        "dialing",
        "the live call is not marked ended"
    );
    // The route itself, reading the status now, hangs it up.
    let (st, c) = f
        .srv
        .post(&format!("/call/{id}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["data"]["status"], "cancelled");
    assert!(
        f.lk.rooms().iter().all(|r| own_room(&r.name) != id),
        "the room is gone"
    );
}

#[tokio::test]
async fn an_end_of_call_webhook_answered_500_is_given_up_after_the_maximum_attempts() {
    let f = fixture_with(|s| {
        fast(s);
        let mut c = (*s.calls).clone();
        c.webhook_max_attempts = 3;
        c.webhook_base_delay = Duration::from_millis(20);
        s.calls = Arc::new(c);
    })
    .await;
    f.sink.answers.lock().unwrap().extend([500; 10]);
    f.lk.push_call_outcome(CallOutcome::Busy);
    let id = f.call("+14155550341").await;
    f.wait_status(&id, "busy").await;
    let d = within("delivery given up", Duration::from_secs(10), || async {
        let (_, b) = f.srv.get(&format!("/call/{id}/webhooks"), &f.key).await;
        (b["data"][0]["status"] == "failed").then_some(b)
    })
    .await;
    let list = d["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{d}");
    let w = &list[0];
    assert_eq!(w["attempts"], 3, "{w}");
    assert_eq!(w["last_http_status"], 500, "{w}");
    assert_eq!(w["last_error"], "the receiver answered HTTP 500", "{w}");
    assert!(w["next_attempt_at"].is_null(), "{w}");
    assert!(w["delivered_at"].is_null(), "{w}");
    let webhook_id = w["webhook_id"].as_str().unwrap();
    assert!(webhook_id.starts_with("msg_"), "{w}");
    // Nothing is left to send.
    let deliverer = trunkline_core::calls::webhooks_out::Deliverer::new(
        f.srv.store.clone(),
        f.srv.state.keyring.clone(),
        f.srv.state.calls.clone(),
        Arc::default(),
        true,
    );
    assert_eq!(deliverer.pass().await.unwrap(), 0);
    // Three signed POSTs of the same message, under the same webhook-id.
    let got = f.sink.received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    for (headers, body) in &got {
        assert_eq!(headers["webhook-id"].to_str().unwrap(), webhook_id);
        let ts: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            headers["webhook-signature"].to_str().unwrap(),
            signature(&f.secret, webhook_id, ts, body).unwrap()
        );
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(payload["data"]["call_id"], id.as_str());
        assert_eq!(payload["data"]["status"], "busy");
    }
    assert_eq!(f.sink.answers.lock().unwrap().len(), 7);
}

#[tokio::test]
async fn a_failed_transfer_says_why_and_leaves_the_call_as_it_was() {
    let f = fixture().await;
    let id = f.call("+14155550351").await;
    f.wait_status(&id, "answered").await;
    let before = f.get(&id).await;
    let path = format!("/call/{id}/transfer");
    let target = json!({"to": "+15550100001"});
    let transfer = || f.srv.post(&path, &f.key, &target);

    // The transfer target answers the REFER with 486.
    f.lk.set_transfer_outcome(Err(486));
    let (st, body) = transfer().await;
    assert_eq!(st, 502, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(
        body["message"],
        "the transfer target refused the transfer (SIP 486)"
    );
    assert_eq!(f.lk.transfers().len(), 1);
    assert_unchanged(&f, &id, &before).await;

    // LiveKit fails without a SIP answer.
    f.lk.set_transfer_outcome(Ok(()));
    f.lk.fail_next("internal", "boom");
    let (st, body) = transfer().await;
    assert_eq!(st, 502, "{body}");
    assert_eq!(
        body["message"],
        "LiveKit returned an error (internal); the details are in trunkline's log"
    );
    assert_unchanged(&f, &id, &before).await;

    // LiveKit cannot take the request now.
    f.lk.fail_next("unavailable", "overloaded");
    let (st, body) = transfer().await;
    assert_eq!(st, 503, "{body}");
    assert_eq!(
        body["message"],
        "LiveKit returned an error (unavailable); the details are in trunkline's log"
    );
    assert_unchanged(&f, &id, &before).await;
    assert_eq!(f.lk.transfers().len(), 1, "failed before the SIP stage");

    // The call can still be transferred.
    let (st, body) = transfer().await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["transferred_to"], "tel:+15550100001");
}

/// The call is as it was before the failed transfer, in trunkline and in LiveKit.
async fn assert_unchanged(f: &Fixture, id: &str, before: &Value) {
    let c = f.get(id).await;
    assert_eq!(&c, before);
    assert_eq!(c["status"], "answered");
    assert!(c["transferred_to"].is_null(), "{c}");
    assert_eq!(f.dialed(id)[0].state, CallState::Active);
}
