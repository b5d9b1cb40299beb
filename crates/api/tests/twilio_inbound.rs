//! `POST /sip/inbound-trunks` with a Twilio provider account: an Elastic SIP trunk whose
//! origination URL is `LIVEKIT_SIP_URI` with the numbers on it, then LiveKit's inbound trunk,
//! against the Twilio double and the LiveKit double together; converged like the outbound
//! side; a delete removes exactly what was made; Exotel and Telnyx accounts get the console
//! steps instead.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

fn body(account: &str, numbers: Value) -> Value {
    json!({"name": "Twilio inbound", "provider_account_id": account, "numbers": numbers})
}

#[tokio::test]
async fn twilio_sends_the_numbers_to_livekit_and_a_delete_removes_it() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let (status, json) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &body(&e.account, json!(["+15550100000"])),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    let lk_id = d["livekit_trunk_id"].as_str().unwrap().to_owned();
    let tk = d["provider"]["twilio_trunk_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(d["provider"]["origination_url"], LIVEKIT_SIP);
    assert_eq!(d["provider"]["status"], "provisioned");

    let trunks = e.twilio.trunks();
    assert_eq!(trunks.len(), 1);
    assert!(trunks[0]["friendly_name"]
        .as_str()
        .unwrap()
        .starts_with("trunkline PT_"));
    // Inbound only: no termination credential.
    assert!(e.twilio.credential_lists().is_empty());
    let ous = e.twilio.origination_urls(&tk);
    assert_eq!(ous.len(), 1, "{ous:?}");
    assert_eq!(ous[0]["sip_url"], LIVEKIT_SIP);
    assert_eq!(ous[0]["enabled"], true);
    assert_eq!(e.number_trunk(&pn), json!(tk));
    let lk_trunk = lk.inbound_trunk(&lk_id).unwrap();
    assert_eq!(lk_trunk.numbers, ["+15550100000"]);

    let (status, shown) = e
        .server
        .get(&format!("/sip/inbound-trunks/{trunk_id}"), &e.key)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["provider"]["twilio_trunk_sid"], tk.as_str());
    assert_no_secret("an inbound trunk", &shown.to_string());

    // The origination URL deleted at Twilio comes back on the next pass.
    let ou = ous[0]["sid"].as_str().unwrap().to_owned();
    assert!(e.twilio.delete_origination_url_out_of_band(&ou));
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.repaired, r.trunks.failed), (1, 0), "{r:?}");
    let ous = e.twilio.origination_urls(&tk);
    assert_eq!(ous.len(), 1, "{ous:?}");
    assert_eq!(ous[0]["sip_url"], LIVEKIT_SIP);

    let (status, json) = e
        .server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{trunk_id}"),
            Some(&e.key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert!(e.twilio.trunks().is_empty());
    assert_eq!(e.number_trunk(&pn), Value::Null);
    assert!(lk.inbound_trunk(&lk_id).is_none());
}

#[tokio::test]
async fn a_livekit_refusal_leaves_nothing_at_twilio() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    e.twilio.add_number("+15550100001");
    // The number is already served by another inbound trunk of this account.
    let (status, json) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &json!({"name": "by hand", "numbers": ["+15550100001"]}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let (status, json) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &body(&e.account, json!(["+15550100000", "+15550100001"])),
        )
        .await;
    assert_eq!(status, 409, "{json}");
    assert!(e.twilio.trunks().is_empty(), "{:?}", e.twilio.trunks());
    let n = e.twilio.numbers();
    assert!(n.iter().all(|x| x["trunk_sid"].is_null()), "{n:?}");
    // The account is free: nothing half-made holds it.
    let (status, json) = e.delete_account().await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn exotel_accounts_get_the_console_steps() {
    let e = twilio_env(LiveKit::None).await;
    for (provider, words) in [(exotel_body(), "Exotel dashboard")] {
        let account = account(&e.server, &e.key, &provider).await;
        let (status, json) = e
            .server
            .post(
                "/sip/inbound-trunks",
                &e.key,
                &body(&account, json!(["+15550100000"])),
            )
            .await;
        assert_eq!(status, 400, "{json}");
        let err = &json["data"]["errors"][0];
        assert_eq!(err["field"], "provider_account_id", "{json}");
        let msg = err["message"].as_str().unwrap();
        assert!(msg.contains(words), "{msg}");
        assert!(msg.contains("tl-test.sip.livekit.cloud"), "{msg}");
        assert_no_secret("a refusal", &json.to_string());
    }
    let (status, json) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &json!({"name": "x", "provider_account_id": 7, "numbers": ["+15550100000"]}),
        )
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "provider_account_id");
    assert!(e.twilio.trunks().is_empty());
}
