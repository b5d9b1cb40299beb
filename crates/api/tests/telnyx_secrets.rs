//! The Telnyx API key and the credential trunkline generates for a Telnyx connection (which
//! Telnyx echoes back in every answer) appear in no response and no log line, on success and
//! on the error paths (Telnyx refusing, failing part-way, unreachable).

mod support;
use support::log_capture::Captured;

use livekit_double::LiveKitDouble;
use provider_doubles::Fault;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::telnyx_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

// One test in this binary: it owns the global log subscriber, at TRACE.
#[tokio::test]
async fn telnyx_credentials_appear_in_no_response_and_no_log() {
    let captured = Captured::install();

    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    e.telnyx.add_number("+13125550101");
    let mut bodies: Vec<Value> = Vec::new();

    // Failures part-way: the connection refused, then the number's routing failing.
    let body = telnyx_trunk_body(&e.account, json!(["+13125550100"]));
    e.telnyx
        .fail_next("POST", "/v2/credential_connections", Fault::Status(422));
    bodies.push(
        e.server
            .post("/sip/create-outbound-trunk", &e.key, &body)
            .await
            .1,
    );
    e.telnyx.fail_next(
        "PATCH",
        &format!("/v2/phone_numbers/{n0}"),
        Fault::Status(500),
    );
    bodies.push(
        e.server
            .post("/sip/create-outbound-trunk", &e.key, &body)
            .await
            .1,
    );

    let d = e.automated_trunk(&["+13125550100"]).await;
    bodies.push(d.clone());
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    let conn = d["provider"]["telnyx_connection_id"].as_str().unwrap();
    let password = e.object("credential_connections", conn).unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    bodies.push(e.trunk(&trunk_id).await);
    bodies.push(e.server.get("/sip/list", &e.key).await.1);
    // Drift: the password changed at Telnyx is pushed back (sent again), and logged as a pass.
    e.telnyx.edit_out_of_band(
        "credential_connections",
        conn,
        "password",
        json!("changed-by-hand"),
    );
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.trunks.repaired, 1, "{r:?}");
    assert_eq!(
        e.object("credential_connections", conn).unwrap()["password"],
        password.as_str()
    );
    let path = format!("/sip/trunks/{trunk_id}");
    bodies.push(
        e.send(
            "PATCH",
            &path,
            Some(json!({"trunk_config": {"numbers": ["+13125550101"]}})),
        )
        .await
        .1,
    );
    e.telnyx.outage().await;
    bodies.push(e.send("DELETE", &path, None).await.1);
    e.telnyx.resume().await;
    bodies.push(e.send("DELETE", &path, None).await.1);

    for b in &bodies {
        let text = b.to_string();
        assert!(
            !text.contains(&password),
            "a response carries the password: {text}"
        );
        assert_no_secret("a response", &text);
    }
    let logs = captured.text();
    assert!(logs.contains("trunk created"), "the log capture works");
    assert!(!logs.contains(&password), "a log line carries the password");
    assert!(!logs.contains(TX_KEY), "a log line carries the API key");
}
