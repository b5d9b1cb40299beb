//! The Telnyx side of automated trunks converged by the engine, against the Telnyx double and
//! the LiveKit double: a connection (and its profile or FQDN record) deleted out of band is
//! recreated, drift pushed back, objects naming deleted trunks removed, an interrupted create
//! retired, objects trunkline did not make never touched, an outage shown as a status and
//! repaired, Telnyx's 429 (10011) retried with backoff.

mod support;

use livekit_double::LiveKitDouble;
use provider_doubles::Fault;
use serde_json::{json, Value};
use support::provider_fixture::insert_interrupted_side;
use support::telnyx_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

/// A connection and a number trunkline did not make, to be left exactly as they are.
async fn theirs(e: &TelnyxEnv) -> (String, String) {
    let n = e.telnyx.add_number("+13125550199");
    let (status, c) = e
        .telnyx_call(
            "POST",
            "/v2/fqdn_connections",
            Some(json!({"connection_name": "theirs"})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let c = s(&c["data"]["id"]);
    let path = format!("/v2/phone_numbers/{n}");
    let (status, _) = e
        .telnyx_call("PATCH", &path, Some(json!({"connection_id": c})))
        .await;
    assert_eq!(status, 200);
    (c, n)
}

#[tokio::test]
async fn deleted_out_of_band_is_recreated_and_livekit_keeps_dialing_it() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let (their_conn, their_number) = theirs(&e).await;
    let d = e.automated_trunk(&["+13125550100"]).await;
    let conn = s(&d["provider"]["telnyx_connection_id"]);
    let ovp = s(&d["provider"]["outbound_voice_profile_id"]);
    let before = e.object("credential_connections", &conn).unwrap();
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");

    // Out of band: the connection and its profile deleted (the number falls off it).
    assert!(e.telnyx.delete_out_of_band("credential_connections", &conn));
    assert!(e.telnyx.delete_out_of_band("outbound_voice_profiles", &ovp));
    assert_eq!(e.number_connection(&n0), Value::Null);

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.trunks.failed), (1, 0), "{r:?}");
    let conns = e.telnyx.objects("credential_connections");
    assert_eq!(conns.len(), 1, "{conns:?}");
    let new = &conns[0];
    assert_ne!(new["id"], conn.as_str());
    // The same credential LiveKit presents, a new profile linked, the number back on it.
    assert_eq!(new["connection_name"], before["connection_name"]);
    assert_eq!(new["user_name"], before["user_name"]);
    assert_eq!(new["password"], before["password"]);
    let profiles = e.telnyx.objects("outbound_voice_profiles");
    assert_eq!(profiles.len(), 1);
    assert_eq!(
        new["outbound"]["outbound_voice_profile_id"],
        profiles[0]["id"]
    );
    assert_eq!(e.number_connection(&n0), new["id"]);
    let lk_trunk = lk.outbound_trunk(&s(&d["livekit_trunk_id"])).unwrap();
    assert_eq!(lk_trunk.address, "sip.telnyx.com");
    assert_eq!(lk_trunk.auth_password, s(&before["password"]));
    let shown = e.trunk(&s(&d["trunk_id"])).await;
    assert_eq!(shown["provider"]["telnyx_connection_id"], new["id"]);
    assert_eq!(
        shown["provider"]["outbound_voice_profile_id"],
        profiles[0]["id"]
    );

    // An inbound trunk's FQDN connection deleted: recreated with its FQDN record.
    let n1 = e.telnyx.add_number("+13125550101");
    let i = e.inbound_trunk(&["+13125550101"]).await;
    let fconn = s(&i["provider"]["telnyx_connection_id"]);
    assert!(e.telnyx.delete_out_of_band("fqdn_connections", &fconn));
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.trunks.failed), (1, 0), "{r:?}");
    let ours: Vec<Value> = e
        .telnyx
        .objects("fqdn_connections")
        .into_iter()
        .filter(|c| c["id"] != their_conn.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let fqdns: Vec<Value> = e
        .telnyx
        .objects("fqdns")
        .into_iter()
        .filter(|f| f["connection_id"] == ours[0]["id"])
        .collect();
    assert_eq!(fqdns.len(), 1);
    assert_eq!(fqdns[0]["fqdn"], "tl-test.sip.livekit.cloud");
    assert_eq!(e.number_connection(&n1), ours[0]["id"]);

    // Theirs untouched throughout.
    assert!(e.object("fqdn_connections", &their_conn).is_some());
    assert_eq!(e.number_connection(&their_number), json!(their_conn));
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");
}

#[tokio::test]
async fn drift_is_pushed_back_and_what_others_made_is_left_alone() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let n1 = e.telnyx.add_number("+13125550101");
    let (their_conn, their_number) = theirs(&e).await;
    let d = e.automated_trunk(&["+13125550100"]).await;
    let conn = s(&d["provider"]["telnyx_connection_id"]);
    let before = e.object("credential_connections", &conn).unwrap();
    let i = e.inbound_trunk(&["+13125550101"]).await;
    let fconn = s(&i["provider"]["telnyx_connection_id"]);
    let fqdn = s(&i["provider"]["fqdn_id"]);

    // Out of band: renamed, the user name changed, the number taken off; the inbound
    // connection's formats changed and its FQDN record pointed elsewhere.
    e.telnyx.edit_out_of_band(
        "credential_connections",
        &conn,
        "connection_name",
        json!("renamed"),
    );
    e.telnyx.edit_out_of_band(
        "credential_connections",
        &conn,
        "user_name",
        json!("someone1"),
    );
    let path = format!("/v2/phone_numbers/{n0}");
    let (status, _) = e
        .telnyx_call("PATCH", &path, Some(json!({"connection_id": null})))
        .await;
    assert_eq!(status, 200);
    e.telnyx.edit_out_of_band(
        "fqdn_connections",
        &fconn,
        "inbound",
        json!({"ani_number_format": "E.164-national", "dnis_number_format": "e164"}),
    );
    e.telnyx
        .edit_out_of_band("fqdns", &fqdn, "fqdn", json!("elsewhere.example.com"));

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.repaired, r.trunks.failed), (2, 0), "{r:?}");
    let now = e.object("credential_connections", &conn).unwrap();
    assert_eq!(now["connection_name"], before["connection_name"]);
    assert_eq!(now["user_name"], before["user_name"]);
    assert_eq!(e.number_connection(&n0), json!(conn));
    let f = e.object("fqdn_connections", &fconn).unwrap();
    assert_eq!(f["inbound"]["ani_number_format"], "+E.164");
    assert_eq!(f["inbound"]["dnis_number_format"], "+e164");
    let records: Vec<Value> = e
        .telnyx
        .objects("fqdns")
        .into_iter()
        .filter(|x| x["connection_id"] == fconn.as_str())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["fqdn"], "tl-test.sip.livekit.cloud");
    assert_eq!(e.number_connection(&n1), json!(fconn));
    assert!(e.object("fqdn_connections", &their_conn).is_some());
    assert_eq!(e.number_connection(&their_number), json!(their_conn));
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");
}

#[tokio::test]
async fn objects_of_deleted_or_interrupted_trunks_are_removed() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let (their_conn, _) = theirs(&e).await;
    // What a process killed mid-create leaves: a `pending` row older than the grace period,
    // and the profile and connection it had made, marked with the row's id.
    let id = "PT_0123456789abcdef0123456789abcdef";
    insert_interrupted_side(&e.server, &e.account, id).await;
    let name = format!("trunkline {id}");
    let (status, p) = e
        .telnyx_call(
            "POST",
            "/v2/outbound_voice_profiles",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    let (status, c) = e
        .telnyx_call(
            "POST",
            "/v2/credential_connections",
            Some(json!({"connection_name": name, "user_name": "tlcrash01", "password": "crash-password",
                        "outbound": {"outbound_voice_profile_id": p["data"]["id"]}})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    // And a trunk deleted while its profile's removal failed: the profile names a
    // deleted row.
    e.telnyx.add_number("+13125550100");
    let d = e.automated_trunk(&["+13125550100"]).await;
    let ovp = s(&d["provider"]["outbound_voice_profile_id"]);
    e.telnyx.fail_next(
        "DELETE",
        &format!("/v2/outbound_voice_profiles/{ovp}"),
        Fault::Status(500),
    );
    let (status, json) = e
        .send(
            "DELETE",
            &format!("/sip/trunks/{}", s(&d["trunk_id"])),
            None,
        )
        .await;
    assert_eq!(status, 503, "{json}");
    // The connection went, the profile stayed; a second delete finishes the trunk.
    let (status, json) = e
        .send(
            "DELETE",
            &format!("/sip/trunks/{}", s(&d["trunk_id"])),
            None,
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert!(e.object("outbound_voice_profiles", &ovp).is_some());

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.trunks.abandoned, 1, "{r:?}");
    assert!(e.telnyx.objects("credential_connections").is_empty());
    assert!(
        e.telnyx.objects("outbound_voice_profiles").is_empty(),
        "{:?}",
        e.telnyx.objects("outbound_voice_profiles")
    );
    assert_eq!(e.made().len(), 1, "only theirs: {:?}", e.made());
    assert!(e.object("fqdn_connections", &their_conn).is_some());
}

#[tokio::test]
async fn an_outage_is_a_status_until_a_pass_reaches_telnyx_and_429s_are_retried() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    e.telnyx.add_number("+13125550100");
    let d = e.automated_trunk(&["+13125550100"]).await;
    let trunk_id = s(&d["trunk_id"]);
    let conn = s(&d["provider"]["telnyx_connection_id"]);

    e.telnyx.outage().await;
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.unreachable, 1, "{r:?}");
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["provider"]["status"], "unprovisioned", "{shown}");
    assert!(
        s(&shown["provider"]["last_error"]).contains("Telnyx could not be reached"),
        "{shown}"
    );
    e.telnyx.resume().await;

    // A server that retries, as production does: Telnyx answers 429 (10011) twice, then
    // serves; the pass still repairs the trunk.
    let mut settings = (*e.server.state.providers).clone();
    settings.client.retry.max_retries = 3;
    settings.client.retry.initial_backoff = std::time::Duration::from_millis(20);
    let mut state = e.server.state.clone();
    state.providers = std::sync::Arc::new(settings);
    assert!(e.telnyx.delete_out_of_band("credential_connections", &conn));
    for _ in 0..2 {
        e.telnyx.push_fault(Fault::RateLimited {
            retry_after_secs: None,
        });
    }
    e.telnyx.clear_requests();
    let r = state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.unreachable), (1, 0), "{r:?}");
    let limited = e
        .telnyx
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(limited, 2);
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["provider"]["status"], "provisioned", "{shown}");
    assert_eq!(shown["provider"]["last_error"], Value::Null, "{shown}");
}
