//! Call tracking: LiveKit's signed webhooks (forged, altered and replayed ones change
//! nothing), end-of-call webhook delivery and its retries, and how calls a dialer lost track
//! of are settled. Runs on SQLite, and on PostgreSQL when `TRUNKLINE_TEST_POSTGRES` is set.

mod support;

use livekit_double::CallOutcome;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::call_fixture::*;
use support::*;

#[tokio::test]
async fn forged_altered_and_replayed_webhooks_change_nothing() {
    let f = fixture().await;
    let id = f.call("+14155550133").await;
    f.wait_status(&id, "answered").await;
    let ended = json!({"event": "participant_left", "id": "EV_forged1", "createdAt": "1700000000",
        "room": {"name": id},
        "participant": {"identity": "sip_14155550133", "kind": "SIP", "disconnectReason": "CLIENT_INITIATED",
                        "attributes": {"sip.callStatus": "hangup"}}})
    .to_string()
    .into_bytes();
    // Unsigned, signed with another secret, signed for another key, or the body altered.
    assert_eq!(post_webhook(&f.srv, None, &ended).await, 401);
    assert_eq!(
        post_webhook(
            &f.srv,
            Some(lk_token("wrong-secret", LK_KEY, &ended)),
            &ended
        )
        .await,
        401
    );
    assert_eq!(
        post_webhook(
            &f.srv,
            Some(lk_token(LK_SECRET, "APIother", &ended)),
            &ended
        )
        .await,
        401
    );
    let other_body = br#"{"event":"room_finished","room":{"name":"x"}}"#;
    assert_eq!(
        post_webhook(
            &f.srv,
            Some(lk_token(LK_SECRET, LK_KEY, other_body)),
            &ended
        )
        .await,
        401
    );
    assert_eq!(f.get(&id).await["status"], "answered", "nothing changed");

    // The genuine hangup completes the call once; replaying LiveKit's own events changes
    // nothing and queues no second webhook.
    let sip_call_id = f.dialed(&id)[0].sip_call_id.clone();
    assert!(f.lk.hangup(&sip_call_id));
    f.wait_status(&id, "completed").await;
    assert!(f.lk.flush_webhooks(Duration::from_secs(5)).await);
    let left =
        f.lk.webhook_events()
            .into_iter()
            .find(|e| {
                e.event == "participant_left"
                    && e.room.as_ref().is_some_and(|r| own_room(&r.name) == id)
            })
            .expect("LiveKit reported the hangup");
    let body = serde_json::to_vec(&left).unwrap();
    assert_eq!(
        post_webhook(&f.srv, Some(lk_token(LK_SECRET, LK_KEY, &body)), &body).await,
        200
    );
    let before = f.get(&id).await;
    assert_eq!(before["status"], "completed");
    eventually("delivered", || async {
        let (_, b) = f.srv.get(&format!("/call/{id}/webhooks"), &f.key).await;
        (b["data"][0]["status"] == "delivered").then_some(())
    })
    .await;
    let (_, deliveries) = f.srv.get(&format!("/call/{id}/webhooks"), &f.key).await;
    assert_eq!(
        deliveries["data"].as_array().unwrap().len(),
        1,
        "{deliveries}"
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_visible() {
    let f = fixture().await;
    f.sink.answers.lock().unwrap().extend([500, 503]);
    f.lk.push_call_outcome(CallOutcome::Busy);
    let id = f.call("+14155550171").await;
    f.wait_status(&id, "busy").await;
    let d = eventually("delivered after retries", || async {
        let (_, b) = f.srv.get(&format!("/call/{id}/webhooks"), &f.key).await;
        (b["data"][0]["status"] == "delivered").then_some(b)
    })
    .await;
    assert_eq!(d["data"][0]["attempts"], 3, "{d}");
    let got = f.sink.received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    // Every retry carries the same webhook-id, so the receiver can deduplicate.
    let ids: Vec<_> = got
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
}

/// A call as a crashed dialer leaves it: `dialing`, LiveKit's answer lost with the process.
async fn orphan(f: &Fixture, to: &str, deadline_in: Duration) -> String {
    let now = trunkline_store::now_micros();
    let id = trunkline_domain::CallId::generate().to_string();
    let plan = json!({"agent_name": "a", "agent_metadata": "", "participant_metadata": "",
                      "ringing_timeout": 1});
    let tenant = f
        .srv
        .store
        .tenant_for_key_hash(&trunkline_core::sealing::hash_api_key(&f.key))
        .await
        .unwrap()
        .unwrap();
    f.srv
        .store
        .insert_call(&trunkline_store::CallRow {
            id: id.clone(),
            tenant_id: tenant,
            assistant_id: f.assistant.clone(),
            trunk_id: f.trunk.clone(),
            to_number: to.into(),
            from_number: "+15550100000".into(),
            plan: plan.to_string(),
            request_hash: "h".into(),
            status: "dialing".into(),
            // mark_dialing leaves the claimer's name: the crashed dialer was awaiting LiveKit.
            claimed_by: Some("ins_crashed".into()),
            attempts: 1,
            max_attempts: 3,
            next_attempt_at: now,
            dialed_at: Some(now),
            dial_deadline_at: Some(now + deadline_in.as_micros() as i64),
            created_at: now,
            updated_at: now,
            ..Default::default()
        })
        .await
        .unwrap();
    id
}

fn sweeper(f: &Fixture) -> trunkline_core::calls::dialer::Dialer {
    trunkline_core::calls::dialer::Dialer {
        store: f.srv.store.clone(),
        livekit: f.srv.state.livekit.clone().unwrap(),
        settings: f.srv.state.calls.clone(),
        wake: Arc::default(),
    }
}

#[tokio::test]
async fn calls_orphaned_while_dialing_are_settled_by_livekit_or_the_sweeper() {
    let f = fixture().await;
    // LiveKit reports how the call ended while a dialer could still be waiting: noted, then
    // applied by the sweeper once that dialer's deadline has passed.
    let noted = orphan(&f, "+14155550191", Duration::from_millis(300)).await;
    let left = json!({"event": "participant_left", "id": "EV_orphan1", "createdAt": "1700000000",
        "room": {"name": noted},
        "participant": {"identity": "sip_14155550191", "kind": "SIP", "disconnectReason": "USER_UNAVAILABLE",
                        "attributes": {"sip.callStatus": "ringing"}}})
    .to_string()
    .into_bytes();
    assert_eq!(
        post_webhook(&f.srv, Some(lk_token(LK_SECRET, LK_KEY, &left)), &left).await,
        200
    );
    assert_eq!(f.get(&noted).await["status"], "dialing");
    // Nothing reported at all: the sweeper gives up on it, and says why.
    let silent = orphan(&f, "+14155550192", Duration::ZERO).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    sweeper(&f).sweep().await.unwrap();
    let c = f.get(&noted).await;
    assert_eq!(c["status"], "no_answer", "{c}");
    let c = f.get(&silent).await;
    assert_eq!(c["status"], "failed", "{c}");
    assert!(
        c["last_error"].as_str().unwrap().contains("lost track"),
        "{c}"
    );
    // Neither was ever dialed again.
    assert!(f.dialed(&noted).is_empty() && f.dialed(&silent).is_empty());
}

#[tokio::test]
async fn an_answered_call_whose_webhooks_never_arrive_is_completed_by_asking_livekit() {
    let f = fixture().await;
    let up = f.call("+14155550201").await;
    let gone = f.call("+14155550202").await;
    f.wait_status(&up, "answered").await;
    f.wait_status(&gone, "answered").await;
    // LiveKit's webhooks stop reaching trunkline; one callee hangs up, its room closes.
    f.lk.set_webhook_url(None);
    let sip_call_id = f.dialed(&gone)[0].sip_call_id.clone();
    assert!(f.lk.hangup(&sip_call_id));
    assert!(f.lk.rooms().iter().all(|r| r.name != gone));
    let mut settings = (*f.srv.state.calls).clone();
    settings.room_check_after = Duration::ZERO;
    let checker = trunkline_core::calls::dialer::Dialer {
        settings: Arc::new(settings),
        ..sweeper(&f)
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(checker.check_rooms().await.unwrap(), 1);
    let c = f.get(&gone).await;
    assert_eq!(c["status"], "completed", "{c}");
    assert!(c["end_reason"].as_str().unwrap().contains("polling"), "{c}");
    assert_eq!(f.get(&up).await["status"], "answered");
    let req =
        f.lk.requests()
            .into_iter()
            .find(|r| r.method == "ListRooms")
            .expect("asked LiveKit");
    assert_eq!(req.grants.unwrap().claims["video"]["roomList"], true);
}

/// A room another tenant can name (its own namespace, then this call's id) is not this
/// call's room: LiveKit's events about it leave the call alone. The same event about the
/// call's real room applies.
#[tokio::test]
async fn a_webhook_for_another_tenants_room_does_not_touch_the_call() {
    let f = fixture().await;
    let id = f.call("+14155550134").await;
    f.wait_status(&id, "answered").await;
    let tenant_of = |key: String| {
        let store = f.srv.store.clone();
        async move {
            store
                .tenant_for_key_hash(&trunkline_core::sealing::hash_api_key(&key))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let mine = tenant_of(f.key.clone()).await;
    let theirs = tenant_of(f.srv.tenant("b@example.com").await).await;
    let finished = |room: String, event_id: &str| {
        json!({"event": "room_finished", "id": event_id, "createdAt": "1700000000",
               "room": {"name": room}})
        .to_string()
        .into_bytes()
    };
    let foreign = finished(trunkline_core::rooms::call_room(&theirs, &id), "EV_b1");
    let auth = Some(lk_token(LK_SECRET, LK_KEY, &foreign));
    assert_eq!(post_webhook(&f.srv, auth, &foreign).await, 200);
    assert_eq!(
        f.get(&id).await["status"],
        "answered",
        "B's room ended A's call"
    );

    let own = finished(trunkline_core::rooms::call_room(&mine, &id), "EV_a1");
    let auth = Some(lk_token(LK_SECRET, LK_KEY, &own));
    assert_eq!(post_webhook(&f.srv, auth, &own).await, 200);
    f.wait_status(&id, "completed").await;
}
