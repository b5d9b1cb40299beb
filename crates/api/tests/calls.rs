//! Outbound calls end to end: the API queues, the dialer dials the LiveKit double, the
//! double answers (or not) and reports through signed webhooks, and end-of-call webhooks
//! reach a receiver signed the Standard Webhooks way. Runs on SQLite, and on PostgreSQL when
//! `TRUNKLINE_TEST_POSTGRES` is set.

mod support;

use livekit_double::CallOutcome;
use serde_json::{json, Value};
use std::time::Duration;
use support::call_fixture::*;
use support::*;
use trunkline_core::calls::signing::signature;

#[tokio::test]
async fn an_answered_call_completes_and_the_end_of_call_webhook_is_signed() {
    let f = fixture().await;
    let id = f.call("+14155550100").await;
    let answered = f.wait_status(&id, "answered").await;
    assert!(answered["answered_at"].is_string());
    let dialed = f.dialed(&id);
    assert_eq!(dialed.len(), 1);
    let req = &dialed[0].request;
    let lk_trunk = f.lk.outbound_trunks()[0].sip_trunk_id.clone();
    assert_eq!(req.sip_trunk_id, lk_trunk);
    assert_eq!(req.sip_call_to, "+14155550100");
    assert_eq!(req.sip_number, "+15550100000");
    assert!(req.wait_until_answered);
    assert_eq!(req.ringing_timeout.as_ref().unwrap().seconds, 20);
    assert_eq!(req.max_call_duration.as_ref().unwrap().seconds, 600);
    assert_eq!(req.participant_metadata, r#"{"customer":"Asha"}"#);
    // The agent was dispatched into the call's room, with the call in its job metadata.
    let dispatch =
        f.lk.dispatches()
            .into_iter()
            .find(|d| own_room(&d.room) == id)
            .expect("agent dispatched");
    assert_eq!(own_room(&dispatch.agent_name), "outbound-caller");
    // The assistant tells the tenant the name its worker registers with in LiveKit.
    let (_, assistant) = f
        .srv
        .get(&format!("/assistants/{}", f.assistant), &f.key)
        .await;
    assert_eq!(assistant["data"]["agent_name"], "outbound-caller");
    assert_eq!(
        assistant["data"]["livekit_agent_name"],
        dispatch.agent_name.as_str()
    );
    let meta: Value = serde_json::from_str(&dispatch.metadata).unwrap();
    assert_eq!(meta["to_number"], "+14155550100");
    assert_eq!(meta["assistant_metadata"]["lang"], "en");

    tokio::time::sleep(Duration::from_millis(1100)).await; // a measurable talk time
    assert!(f.lk.hangup(&dialed[0].sip_call_id));
    let done = f.wait_status(&id, "completed").await;
    assert!(done["ended_at"].is_string());
    let secs = done["duration_seconds"].as_f64().unwrap();
    assert!((1.0..30.0).contains(&secs), "{done}");

    let (headers, body) = eventually("end-of-call webhook", || async {
        f.sink.received.lock().unwrap().first().cloned()
    })
    .await;
    let msg_id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sig, signature(&f.secret, msg_id, ts, &body).unwrap());
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["type"], "call.ended");
    assert_eq!(payload["data"]["call_id"], id.as_str());
    assert_eq!(payload["data"]["status"], "completed");
    let deliveries = eventually("delivery recorded", || async {
        let (_, b) = f.srv.get(&format!("/call/{id}/webhooks"), &f.key).await;
        (b["data"][0]["status"] == "delivered").then_some(b)
    })
    .await;
    assert_eq!(deliveries["data"][0]["webhook_id"], msg_id);
    assert_eq!(deliveries["data"][0]["attempts"], 1);
}

#[tokio::test]
async fn busy_no_answer_rejected_and_trunk_failures_are_reported_as_such() {
    let f = fixture().await;
    // Nobody answering takes the whole ringing timeout: make it short.
    let (st, _) = f
        .srv
        .send(
            "PATCH",
            &format!("/assistants/{}", f.assistant),
            Some(&f.key),
            Some(&json!({"ringing_timeout": 1}).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    let cases = [
        (CallOutcome::Busy, "busy", Some(486)),
        (CallOutcome::NoAnswer, "no_answer", None),
        (CallOutcome::Reject, "rejected", Some(603)),
        (CallOutcome::TrunkError(404), "failed", Some(404)),
    ];
    for (i, (outcome, want, code)) in cases.into_iter().enumerate() {
        f.lk.push_call_outcome(outcome);
        let id = f.call(&format!("+1415555010{i}")).await;
        let c = f.wait_status(&id, want).await;
        if code.is_some() {
            assert_eq!(c["sip_status_code"].as_i64().map(|v| v as u16), code, "{c}");
        }
        assert!(c["answered_at"].is_null(), "{c}");
        assert!(c["duration_seconds"].is_null(), "{c}");
        assert!(c["last_error"].is_string(), "{c}");
        assert_eq!(c["attempts"], 1, "never retried: {c}");
        assert_eq!(f.dialed(&id).len(), 1, "dialed once");
    }
}

#[tokio::test]
async fn a_503_from_the_trunk_is_retried_and_a_486_never_is() {
    let f = fixture().await;
    f.lk.push_call_outcome(CallOutcome::TrunkError(503));
    f.lk.push_call_outcome(CallOutcome::Answer);
    let id = f.call("+14155550111").await;
    let c = f.wait_status(&id, "answered").await;
    assert_eq!(c["attempts"], 2, "{c}");
    assert_eq!(f.dialed(&id).len(), 2);
    // One agent in the room, even though the call was dialed twice.
    assert_eq!(
        f.lk.dispatches()
            .iter()
            .filter(|d| own_room(&d.room) == id)
            .count(),
        1
    );
}

#[tokio::test]
async fn the_same_idempotency_key_dials_once() {
    let f = fixture().await;
    let body =
        json!({"assistant_id": f.assistant, "trunk_id": f.trunk, "to_number": "+14155550122"});
    let send = |b: Value| {
        let (srv, key) = (&f.srv, f.key.clone());
        async move {
            let resp = srv
                .http
                .post(format!("{}/call/outbound", srv.url))
                .bearer_auth(key)
                .header("Idempotency-Key", "order-42")
                .json(&b)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (a, b) = tokio::join!(send(body.clone()), send(body.clone()));
    assert_eq!((a.0, b.0), (202, 202), "{a:?} {b:?}");
    assert_eq!(a.1["data"]["call_id"], b.1["data"]["call_id"]);
    let id = a.1["data"]["call_id"].as_str().unwrap().to_owned();
    f.wait_status(&id, "answered").await;
    let again = send(body.clone()).await;
    assert_eq!(again.0, 202);
    assert_eq!(again.1["data"]["call_id"], id.as_str());
    assert_eq!(again.1["data"]["status"], "answered");
    // A replay says the call was already placed rather than queued again.
    assert_eq!(again.1["message"], "Call already placed; it is answered");
    // Hanging up an answered call ends it (it was not cancelled), and a replay then says so.
    let (st, ended) = f
        .srv
        .send("POST", &format!("/call/{id}/cancel"), Some(&f.key), None)
        .await;
    assert_eq!(st, 200, "{ended}");
    assert_eq!(ended["message"], "Call ended", "{ended}");
    let replay = send(body.clone()).await;
    assert_eq!(replay.0, 202);
    assert!(
        replay.1["message"]
            .as_str()
            .unwrap()
            .starts_with("Call already placed; it has ended"),
        "{replay:?}"
    );
    let other = send(
        json!({"assistant_id": f.assistant, "trunk_id": f.trunk, "to_number": "+14155550123"}),
    )
    .await;
    assert_eq!(other.0, 409, "{other:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.dialed(&id).len(), 1);
    assert_eq!(f.lk.calls().len(), 1);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_queue_nothing() {
    let f = fixture().await;
    let (st, exotel) = f
        .srv
        .post("/sip/create-outbound-trunk", &f.key, &seed_exotel())
        .await;
    assert_eq!(st, 200, "{exotel}");
    let exotel = exotel["data"]["trunk_id"].as_str().unwrap().to_owned();
    let other = f.srv.tenant("other@example.com").await;
    let foreign_trunk = f.srv.create(&other, &seed_twilio()).await;
    let cases = [
        (
            json!({"trunk_id": f.trunk, "to_number": "+14155550100"}),
            "assistant_id",
        ),
        (
            json!({"assistant_id": f.assistant, "to_number": "+14155550100"}),
            "trunk_id",
        ),
        (
            json!({"assistant_id": f.assistant, "trunk_id": f.trunk}),
            "to_number",
        ),
        (
            json!({"assistant_id": f.assistant, "trunk_id": f.trunk, "to_number": "4155550100"}),
            "to_number",
        ),
        (
            json!({"assistant_id": "AS_nope", "trunk_id": f.trunk, "to_number": "+14155550100"}),
            "assistant_id",
        ),
        (
            json!({"assistant_id": f.assistant, "trunk_id": foreign_trunk, "to_number": "+14155550100"}),
            "trunk_id",
        ),
        (
            json!({"assistant_id": f.assistant, "trunk_id": exotel, "to_number": "+14155550100"}),
            "trunk_id",
        ),
        (
            json!({"assistant_id": f.assistant, "trunk_id": f.trunk, "to_number": "+14155550100", "from_number": "+15550109999"}),
            "from_number",
        ),
        (
            json!({"assistant_id": f.assistant, "trunk_id": f.trunk, "to_number": "+14155550100", "extra": 1}),
            "extra",
        ),
    ];
    for (body, field) in cases {
        let (status, resp) = f.srv.post("/call/outbound", &f.key, &body).await;
        assert_eq!(status, 400, "{body} → {resp}");
        let text = resp.to_string();
        assert!(text.contains(field), "{body} → {resp}");
    }
    let (status, resp) = f.srv.get("/calls", &f.key).await;
    assert_eq!(status, 200);
    assert_eq!(resp["data"]["calls"].as_array().unwrap().len(), 0);
    assert!(f.lk.calls().is_empty());
}

#[tokio::test]
async fn cancelling_a_queued_call_means_it_is_never_dialed() {
    let f = fixture().await;
    let (st, limits) = f
        .srv
        .send(
            "PUT",
            &format!("/sip/trunks/{}/call-limits", f.trunk),
            Some(&f.key),
            Some(&json!({"calls_per_second": 0.01}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{limits}");
    assert_eq!(limits["data"]["calls_per_second"], 0.01);
    let first = f.call("+14155550141").await;
    let second = f.call("+14155550142").await;
    f.wait_status(&first, "answered").await;
    // One call per 100 s: the second waits in the queue.
    assert_eq!(f.get(&second).await["status"], "queued");
    let (st, c) = f
        .srv
        .post(&format!("/call/{second}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["data"]["status"], "cancelled");
    let (st, again) = f
        .srv
        .post(&format!("/call/{second}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 409, "{again}");
    assert!(f.dialed(&second).is_empty());
    // Cancelling the answered call hangs it up.
    let (st, c) = f
        .srv
        .post(&format!("/call/{first}/cancel"), &f.key, &json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["data"]["status"], "completed");
    assert!(f.lk.rooms().iter().all(|r| own_room(&r.name) != first));
}

#[tokio::test]
async fn calls_are_paced_to_the_trunks_calls_per_second() {
    let f = fixture().await;
    let (st, _) = f
        .srv
        .send(
            "PUT",
            &format!("/sip/trunks/{}/call-limits", f.trunk),
            Some(&f.key),
            Some(&json!({"calls_per_second": 20, "max_concurrent_calls": 100}).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    let mut ids = vec![];
    for i in 0..8 {
        ids.push(f.call(&format!("+1415555020{i}")).await);
    }
    let mut dialed = vec![];
    for id in &ids {
        let c = f.wait_status(id, "answered").await;
        dialed.push(c["dialed_at"].as_str().unwrap().to_owned());
    }
    let micros: Vec<i64> = dialed
        .iter()
        .map(|t| {
            let t = time::PrimitiveDateTime::parse(
                t,
                &time::format_description::well_known::Iso8601::DEFAULT,
            )
            .unwrap();
            (t.assume_utc().unix_timestamp_nanos() / 1000) as i64
        })
        .collect();
    let mut sorted = micros.clone();
    sorted.sort();
    for (i, t) in sorted.iter().enumerate() {
        // 20 per second is one slot per 50 ms: the i-th call may not be dialed before the
        // first call's time plus i slots. A call can be stamped late (preparing its room
        // takes longer on a loaded machine), never early; the slack is the first call's own
        // lateness.
        let earliest = sorted[0] + i as i64 * 50_000 - 20_000;
        assert!(
            *t >= earliest,
            "call {i} dialed {} µs before its slot: {sorted:?}",
            earliest - t
        );
    }
    let span = sorted[7] - sorted[0];
    assert!(
        span >= 7 * 50_000 - 20_000,
        "8 calls over {span} µs: {sorted:?}"
    );
}

#[tokio::test]
async fn calls_are_private_to_their_tenant() {
    let f = fixture().await;
    let id = f.call("+14155550151").await;
    let other = f.srv.tenant("nosy@example.com").await;
    for path in [format!("/call/{id}"), format!("/call/{id}/webhooks")] {
        let (st, body) = f.srv.get(&path, &other).await;
        assert_eq!(st, 404, "{body}");
    }
    let (st, _) = f
        .srv
        .post(&format!("/call/{id}/cancel"), &other, &json!({}))
        .await;
    assert_eq!(st, 404);
    let (_, list) = f.srv.get("/calls", &other).await;
    assert!(list["data"]["calls"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_answered_call_is_transferred_with_the_grants_livekit_requires() {
    let f = fixture().await;
    let id = f.call("+14155550161").await;
    f.wait_status(&id, "answered").await;
    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/transfer"),
            &f.key,
            &json!({"to": "12345"}),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = f
        .srv
        .post(
            &format!("/call/{id}/transfer"),
            &f.key,
            &json!({"to": "+15550100001"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["transferred_to"], "tel:+15550100001");
    let t = f.lk.transfers();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].transfer_to, "tel:+15550100001");
    assert_eq!(own_room(&t[0].room_name), id);
    let req =
        f.lk.requests()
            .into_iter()
            .find(|r| r.method == "TransferSIPParticipant")
            .unwrap();
    let grants = req.grants.expect("verified token");
    assert!(grants.sip_call());
    assert_eq!(grants.claims["video"]["roomAdmin"], true);
    assert_eq!(grants.claims["video"]["room"], t[0].room_name.as_str());
    // After the REFER the callee's leg leaves the room: the call is complete.
    f.wait_status(&id, "completed").await;
}

#[tokio::test]
async fn two_instances_on_one_database_dial_each_call_exactly_once() {
    let f = fixture().await;
    let second = TestServer::start_custom(&f._db, LiveKit::Double(&f.lk), None, fast).await;
    let (st, _) = f
        .srv
        .send(
            "PUT",
            &format!("/sip/trunks/{}/call-limits", f.trunk),
            Some(&f.key),
            Some(&json!({"calls_per_second": 500, "max_concurrent_calls": 1000}).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    let mut ids = vec![];
    for i in 0..40 {
        ids.push(f.call(&format!("+141555503{i:02}")).await);
    }
    for id in &ids {
        f.wait_status(id, "answered").await;
    }
    let calls = f.lk.calls();
    assert_eq!(calls.len(), 40, "each call dialed exactly once");
    let mut rooms: Vec<_> = calls.iter().map(|c| c.room_name.clone()).collect();
    rooms.sort();
    rooms.dedup();
    assert_eq!(rooms.len(), 40);
    second.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_call_paths() {
    let f = fixture().await;
    let (status, doc) = f.srv.send("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    for path in [
        "/assistants",
        "/assistants/{id}",
        "/webhooks/secret",
        "/call/outbound",
        "/calls",
        "/call/{id}",
        "/call/{id}/cancel",
        "/call/{id}/transfer",
        "/call/{id}/webhooks",
        "/sip/trunks/{trunk_id}/call-limits",
        "/livekit/webhook",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

#[tokio::test]
async fn a_slow_answer_is_waited_for_and_ring_time_is_not_talk_time() {
    let f = fixture().await;
    f.lk.push_call_outcome(CallOutcome::Slow(Duration::from_millis(800)));
    let id = f.call("+14155550181").await;
    // While LiveKit holds the answer back, the call is dialing, never redialed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.get(&id).await["status"], "dialing");
    let c = f.wait_status(&id, "answered").await;
    assert_eq!(c["attempts"], 1);
    assert_eq!(f.dialed(&id).len(), 1);
    let sip_call_id = f.dialed(&id)[0].sip_call_id.clone();
    assert!(f.lk.hangup(&sip_call_id));
    let done = f.wait_status(&id, "completed").await;
    // Dialed to answered took the ring time; the duration counts from the answer only.
    let secs = done["duration_seconds"].as_f64().unwrap();
    assert!(secs < 0.7, "ring time counted as talk time: {done}");
}
