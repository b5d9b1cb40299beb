//! `serve --demo`: the embedded LiveKit stand-in answers, is busy or goes unanswered by the
//! dialed number, reports through signed webhooks, says loudly that it is a demo, listens on
//! loopback only, and refuses to run beside real LiveKit settings.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::*;

fn demo_env() -> Vec<(&'static str, String)> {
    vec![("TRUNKLINE_DEMO", "true".into())]
}

async fn get(url: &str, key: &str) -> Value {
    http()
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(url: &str, key: &str, body: Value) -> Value {
    http()
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the call until its status is final (or 20 s pass).
async fn settled(server: &str, key: &str, call_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let call = get(&format!("{server}/call/{call_id}"), key).await;
        let status = call["data"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !["queued", "dialing", "ringing"].contains(&status.as_str()) || Instant::now() > deadline
        {
            return call["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn demo_places_scripted_calls_and_says_it_is_a_demo() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &demo_env());
    let key = create_key(dir.path(), "ops@acme.example", &[]);
    let base = server.url.clone();

    let ready: Value = http()
        .get(format!("{base}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["data"]["livekit"], "demo", "{ready}");
    assert_eq!(ready["success"], true);

    let trunk = post(
        &format!("{base}/sip/create-outbound-trunk"),
        &key,
        seed_twilio(),
    )
    .await;
    assert_eq!(trunk["data"]["status"], "provisioned", "{trunk}");
    let trunk_id = trunk["data"]["trunk_id"].as_str().unwrap().to_owned();
    let assistant = post(
        &format!("{base}/assistants"),
        &key,
        json!({"name": "Sales", "agent_name": "outbound-caller", "ringing_timeout": 30}),
    )
    .await;
    let assistant_id = assistant["data"]["assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut outcomes = Vec::new();
    let mut last_call = String::new();
    for to in [
        "+14155550486",
        "+14155550480",
        "+14155550603",
        "+14155550100",
    ] {
        let queued = post(
            &format!("{base}/call/outbound"),
            &key,
            json!({"assistant_id": assistant_id, "trunk_id": trunk_id, "to_number": to}),
        )
        .await;
        let call_id = queued["data"]["call_id"].as_str().unwrap().to_owned();
        let call = settled(&base, &key, &call_id).await;
        last_call = call_id;
        outcomes.push((call["status"].clone(), call["sip_status_code"].clone()));
    }
    assert_eq!(
        outcomes,
        [
            (json!("busy"), json!(486)),
            (json!("no_answer"), Value::Null),
            (json!("rejected"), json!(603)),
            (json!("answered"), Value::Null),
        ]
    );
    // An answered call's end arrives as a signed webhook from the stand-in.
    // Ending it from trunkline's side: the stand-in's participant_left / room_finished
    // webhooks, signed with its key, settle it.
    post(&format!("{base}/call/{last_call}/cancel"), &key, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let ended = loop {
        let call = get(&format!("{base}/call/{last_call}"), &key).await["data"].clone();
        if call["status"] != "answered" || Instant::now() > deadline {
            break call;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended["status"], "completed", "{ended}");

    let log = server.stop();
    assert!(log.contains("DEMO MODE: no real LiveKit"), "{log}");
    assert!(
        log.contains("WARN") && log.contains("LiveKit is an embedded stand-in"),
        "{log}"
    );
    // The stand-in listens on loopback only.
    let stand_in = log
        .split("A LiveKit stand-in on http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{log}"));
    assert!(stand_in.starts_with("127.0.0.1:"), "{stand_in}");
    assert!(!log.contains("LiveKit webhook refused"), "{log}");
}

#[test]
fn demo_refuses_real_livekit_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut envs = demo_env();
    envs.push(("LIVEKIT_URL", "wss://my-project.livekit.cloud".into()));
    envs.push(("LIVEKIT_API_KEY", "APIxyz".into()));
    let stderr = serve_refused(dir.path(), &envs);
    assert!(
        stderr.contains("--demo runs its own LiveKit stand-in")
            && stderr.contains("LIVEKIT_URL, LIVEKIT_API_KEY are set"),
        "{stderr}"
    );
    assert!(!stderr.contains("APIxyz"), "{stderr}");
}
