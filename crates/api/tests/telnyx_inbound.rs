//! Inbound calls automated at Telnyx, against the Telnyx double and the LiveKit double:
//! `POST /sip/inbound-trunks` with a Telnyx account makes an FQDN connection whose FQDN
//! record is LiveKit's SIP endpoint, the numbers routed to it, then LiveKit's inbound trunk;
//! `POST /numbers` with a Telnyx account sets a number up each way, `both` as two
//! connections (the number routed to the inbound one); deletes remove exactly what was made;
//! a LiveKit refusal leaves nothing at Telnyx.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::telnyx_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

#[tokio::test]
async fn telnyx_sends_the_numbers_to_livekit_and_a_delete_removes_it() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let n1 = e.telnyx.add_number("+13125550101");
    let d = e.inbound_trunk(&["+13125550100"]).await;
    let p = &d["provider"];
    assert_eq!(p["provider"], "telnyx", "{d}");
    assert_eq!(p["connection_type"], "fqdn", "{d}");
    assert_eq!(p["origination_url"], LIVEKIT_SIP, "{d}");
    assert_eq!(p["status"], "provisioned", "{d}");
    let trunk_id = s(&d["trunk_id"]);
    let conn_id = s(&p["telnyx_connection_id"]);
    let pt = s(&p["provider_trunk_id"]);

    // Telnyx: the marked FQDN connection, with LiveKit's inbound formats, its FQDN record
    // pointing at LiveKit's SIP endpoint, and the number routed to it. No credential.
    let conn = e.object("fqdn_connections", &conn_id).unwrap();
    assert_eq!(conn["connection_name"], format!("trunkline {pt}"));
    assert_eq!(conn["inbound"]["ani_number_format"], "+E.164");
    assert_eq!(conn["inbound"]["dnis_number_format"], "+e164");
    let fqdns = e.telnyx.objects("fqdns");
    assert_eq!(fqdns.len(), 1, "{fqdns:?}");
    assert_eq!(fqdns[0]["connection_id"], conn_id.as_str());
    assert_eq!(fqdns[0]["fqdn"], "tl-test.sip.livekit.cloud");
    assert_eq!(fqdns[0]["dns_record_type"], "a");
    assert_eq!(fqdns[0]["port"], 5060);
    assert_eq!(p["fqdn_id"], fqdns[0]["id"], "{d}");
    assert!(e.telnyx.objects("credential_connections").is_empty());
    assert!(e.telnyx.objects("outbound_voice_profiles").is_empty());
    assert_eq!(e.number_connection(&n0), json!(conn_id));
    let lk_id = s(&d["livekit_trunk_id"]);
    assert_eq!(lk.inbound_trunk(&lk_id).unwrap().numbers, ["+13125550100"]);

    // PATCH the numbers: Telnyx first, then LiveKit.
    let path = format!("/sip/inbound-trunks/{trunk_id}");
    let patch = json!({"numbers": ["+13125550100", "+13125550101"]});
    let (status, json) = e.send("PATCH", &path, Some(patch)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(e.number_connection(&n1), json!(conn_id));
    assert_eq!(lk.inbound_trunk(&lk_id).unwrap().numbers.len(), 2);
    let (status, shown) = e.send("GET", &path, None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        shown["data"]["provider"]["telnyx_connection_id"],
        conn_id.as_str()
    );

    let (status, json) = e.send("DELETE", &path, None).await;
    assert_eq!(status, 200, "{json}");
    assert!(e.made().is_empty(), "{:?}", e.made());
    assert_eq!(e.number_connection(&n0), Value::Null);
    assert_eq!(e.number_connection(&n1), Value::Null);
    assert!(lk.inbound_trunk(&lk_id).is_none());
}

#[tokio::test]
async fn a_livekit_refusal_leaves_nothing_at_telnyx() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    lk.fail_next("invalid_argument", "trunk rejected");
    let body = json!({"name": "Telnyx inbound", "provider_account_id": e.account,
                      "numbers": ["+13125550100"]});
    let (status, json) = e.server.post("/sip/inbound-trunks", &e.key, &body).await;
    assert_eq!(status, 400, "{json}");
    assert!(e.made().is_empty(), "{:?}", e.made());
    assert_eq!(e.number_connection(&n0), Value::Null);
    assert!(lk.inbound_trunks().is_empty());
}

#[tokio::test]
async fn a_number_both_ways_is_two_connections_idempotent_and_removed_exactly() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let a = assistant_of(&e.server, &e.key).await;
    let body = json!({"provider_account_id": e.account, "number": "+13125550100",
                      "assistant_id": a, "direction": "both"});
    let (status, json) = e.server.post("/numbers", &e.key, &body).await;
    assert_eq!(status, 200, "{json}");
    let d = json["data"].clone();
    let id = s(&d["number_id"]);
    assert_eq!(d["status"], "active", "{d}");
    assert_eq!(d["provider"]["connection_type"], "credential", "{d}");
    assert_eq!(d["inbound_provider"]["connection_type"], "fqdn", "{d}");
    let cred = s(&d["provider"]["telnyx_connection_id"]);
    let fqdn = s(&d["inbound_provider"]["telnyx_connection_id"]);

    // The number is routed to the inbound (FQDN) connection; the credential connection
    // presents it as caller id only, and LiveKit's outbound trunk lists it.
    assert_eq!(e.number_connection(&n0), json!(fqdn));
    assert!(e.object("credential_connections", &cred).is_some());
    assert_eq!(e.telnyx.objects("outbound_voice_profiles").len(), 1);
    assert_eq!(lk.outbound_trunks().len(), 1);
    assert_eq!(lk.outbound_trunks()[0].address, "sip.telnyx.com");
    assert_eq!(lk.outbound_trunks()[0].numbers, ["+13125550100"]);
    assert_eq!(lk.inbound_trunks().len(), 1);
    assert_eq!(lk.dispatch_rules().len(), 1);
    assert_no_secret("a number setup", &json.to_string());

    // Converged as made: a pass finds nothing to do.
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");

    // The same body: the same setup, nothing more made.
    let before = e.made().len();
    let (status, again) = e.server.post("/numbers", &e.key, &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["number_id"], id.as_str());
    assert_eq!(e.made().len(), before);

    let (status, json) = e.send("DELETE", &format!("/numbers/{id}"), None).await;
    assert_eq!(status, 200, "{json}");
    assert!(e.made().is_empty(), "{:?}", e.made());
    assert_eq!(e.number_connection(&n0), Value::Null);
    assert!(lk.outbound_trunks().is_empty());
    assert!(lk.inbound_trunks().is_empty());
    assert!(lk.dispatch_rules().is_empty());
}

#[tokio::test]
async fn a_number_one_way_is_one_connection() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = telnyx_env(LiveKit::Double(&lk)).await;
    let n0 = e.telnyx.add_number("+13125550100");
    let n1 = e.telnyx.add_number("+13125550101");
    let a = assistant_of(&e.server, &e.key).await;
    for (number, id, direction, collection) in [
        ("+13125550100", &n0, "outbound", "credential_connections"),
        ("+13125550101", &n1, "inbound", "fqdn_connections"),
    ] {
        let body = json!({"provider_account_id": e.account, "number": number,
                          "assistant_id": a, "direction": direction});
        let (status, json) = e.server.post("/numbers", &e.key, &body).await;
        assert_eq!(status, 200, "{json}");
        let d = &json["data"];
        assert!(d.get("inbound_provider").is_none(), "{d}");
        let conn = s(&d["provider"]["telnyx_connection_id"]);
        assert!(e.object(collection, &conn).is_some(), "{d}");
        assert_eq!(e.number_connection(id), json!(conn));
    }
    assert_eq!(lk.outbound_trunks().len(), 1);
    assert_eq!(lk.inbound_trunks().len(), 1);
    assert_eq!(lk.dispatch_rules().len(), 1);
}
