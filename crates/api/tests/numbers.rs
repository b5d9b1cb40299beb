//! `POST /numbers`: one number of a Twilio account set up end to end, against the Twilio
//! double and the LiveKit double together. Each direction makes exactly its parts, the same
//! body is idempotent, a delete removes exactly what was made, and a failure part-way undoes
//! the parts already made.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

async fn assistant(e: &TwilioEnv) -> String {
    assistant_of(&e.server, &e.key).await
}

fn body(e: &TwilioEnv, assistant: &str, direction: &str) -> Value {
    json!({"provider_account_id": e.account, "number": "+15550100000",
           "assistant_id": assistant, "direction": direction})
}

#[tokio::test]
async fn both_directions_on_one_twilio_trunk_idempotent_and_removed_exactly() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let a = assistant(&e).await;
    let (status, json) = e
        .server
        .post("/numbers", &e.key, &body(&e, &a, "both"))
        .await;
    assert_eq!(status, 200, "{json}");
    let d = json["data"].clone();
    let id = d["number_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("NB_"), "{d}");
    assert_eq!(d["status"], "active");
    let out = d["outbound_trunk_id"].as_str().unwrap().to_owned();
    let inb = d["inbound_trunk_id"].as_str().unwrap().to_owned();
    let rule = d["dispatch_rule_id"].as_str().unwrap().to_owned();
    let tk = d["provider"]["twilio_trunk_sid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Twilio: one trunk, with the credential for LiveKit's calls out and the origination
    // URL for calls in, and the number on it.
    assert_eq!(e.twilio.trunks().len(), 1);
    assert_eq!(e.number_trunk(&pn), json!(tk));
    assert_eq!(e.twilio.trunk_credential_lists(&tk).len(), 1);
    let ous = e.twilio.origination_urls(&tk);
    assert_eq!(ous.len(), 1, "{ous:?}");
    assert_eq!(ous[0]["sip_url"], LIVEKIT_SIP);
    // LiveKit: both trunks and the rule sending the number's calls to the agent.
    assert_eq!(lk.outbound_trunks().len(), 1);
    assert_eq!(lk.inbound_trunks().len(), 1);
    assert_eq!(lk.inbound_trunks()[0].numbers, ["+15550100000"]);
    let rules = lk.dispatch_rules();
    assert_eq!(rules.len(), 1);
    let agents = &rules[0].room_config.as_ref().unwrap().agents;
    // Agent names are namespaced per account in LiveKit.
    assert!(
        agents[0].agent_name.ends_with("_support-agent"),
        "{}",
        agents[0].agent_name
    );
    assert_no_secret("a number setup", &json.to_string());

    // The same body: the same setup, nothing more made.
    let (status, again) = e
        .server
        .post("/numbers", &e.key, &body(&e, &a, "both"))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["number_id"], id.as_str());
    assert_eq!(e.twilio.trunks().len(), 1);
    assert_eq!(lk.dispatch_rules().len(), 1);
    // Another body for the number: a conflict.
    let (status, json) = e
        .server
        .post("/numbers", &e.key, &body(&e, &a, "outbound"))
        .await;
    assert_eq!(status, 409, "{json}");

    let (status, shown) = e.server.get(&format!("/numbers/{id}"), &e.key).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["dispatch_rule_id"], rule.as_str());
    let (status, list) = e.server.get("/numbers", &e.key).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    for (path, id) in [("/sip/trunks", &out), ("/sip/inbound-trunks", &inb)] {
        let (status, _) = e.server.get(&format!("{path}/{id}"), &e.key).await;
        assert_eq!(status, 200);
    }

    // Something of the user's own, to be left alone by the delete.
    let (status, theirs) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &json!({"name": "theirs", "numbers": ["+15550100009"]}),
        )
        .await;
    assert_eq!(status, 200, "{theirs}");
    let (status, json) = e
        .server
        .send("DELETE", &format!("/numbers/{id}"), Some(&e.key), None)
        .await;
    assert_eq!(status, 200, "{json}");
    assert!(e.twilio.trunks().is_empty());
    assert!(e.twilio.credential_lists().is_empty());
    assert_eq!(e.number_trunk(&pn), Value::Null);
    assert!(lk.outbound_trunks().is_empty());
    assert!(lk.dispatch_rules().is_empty());
    assert_eq!(lk.inbound_trunks().len(), 1);
    assert_eq!(lk.inbound_trunks()[0].numbers, ["+15550100009"]);
    let (status, _) = e.server.get(&format!("/numbers/{id}"), &e.key).await;
    assert_eq!(status, 404);
    // The setup's writes are in the audit: created, its parts recorded, deleted; and the
    // Twilio side's as provider_trunk changes.
    let (status, audit) = e
        .server
        .get(&format!("/audit?object_kind=number&object_id={id}"), &e.key)
        .await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["data"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"create") && actions.contains(&"delete"),
        "{actions:?}"
    );
    assert!(actions.contains(&"update"), "{actions:?}");
    let (_, audit) = e
        .server
        .get("/audit?object_kind=provider_trunk", &e.key)
        .await;
    assert!(
        !audit["data"]["records"].as_array().unwrap().is_empty(),
        "{audit}"
    );
    assert_no_secret("the audit", &audit.to_string());
    let (status, json) = e.delete_account().await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn each_direction_makes_only_its_parts() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    let a = assistant(&e).await;
    let (status, json) = e
        .server
        .post("/numbers", &e.key, &body(&e, &a, "outbound"))
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    assert!(
        d["outbound_trunk_id"].is_string() && d["inbound_trunk_id"].is_null(),
        "{d}"
    );
    assert!(d["dispatch_rule_id"].is_null());
    let tk = d["provider"]["twilio_trunk_sid"].as_str().unwrap();
    assert!(e.twilio.origination_urls(tk).is_empty());
    let id = d["number_id"].as_str().unwrap().to_owned();
    let (status, _) = e
        .server
        .send("DELETE", &format!("/numbers/{id}"), Some(&e.key), None)
        .await;
    assert_eq!(status, 200);

    let (status, json) = e
        .server
        .post("/numbers", &e.key, &body(&e, &a, "inbound"))
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    assert!(
        d["outbound_trunk_id"].is_null() && d["inbound_trunk_id"].is_string(),
        "{d}"
    );
    assert!(d["dispatch_rule_id"].is_string());
    let tk = d["provider"]["twilio_trunk_sid"].as_str().unwrap();
    assert_eq!(e.twilio.origination_urls(tk).len(), 1);
    assert!(e.twilio.credential_lists().is_empty());
    assert!(lk.outbound_trunks().is_empty());
}

#[tokio::test]
async fn a_failure_part_way_undoes_what_was_made() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    let a = assistant(&e).await;
    // The number is already served by an inbound trunk of the account: the inbound part
    // conflicts after the outbound trunk (both sides) was made.
    let (status, json) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &json!({"name": "by hand", "numbers": ["+15550100000"]}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let (status, json) = e
        .server
        .post("/numbers", &e.key, &body(&e, &a, "both"))
        .await;
    assert_eq!(status, 409, "{json}");
    assert!(e.twilio.trunks().is_empty(), "{:?}", e.twilio.trunks());
    assert!(e.twilio.credential_lists().is_empty());
    assert!(lk.outbound_trunks().is_empty());
    assert!(lk.dispatch_rules().is_empty());
    let (_, list) = e.server.get("/numbers", &e.key).await;
    assert_eq!(list["data"], json!([]));
    let (_, list) = e.server.get("/sip/list", &e.key).await;
    assert_eq!(list["data"], json!([]), "{list}");

    // Bad input names the field and makes nothing.
    for (b, field) in [
        (
            json!({"provider_account_id": e.account, "number": "5550100000", "assistant_id": a, "direction": "both"}),
            "number",
        ),
        (
            json!({"provider_account_id": e.account, "number": "+15550100000", "assistant_id": a, "direction": "sideways"}),
            "direction",
        ),
        (
            json!({"provider_account_id": e.account, "number": "+15550100000", "assistant_id": "AS_00000000000000000000000000000000", "direction": "both"}),
            "assistant_id",
        ),
        (
            json!({"number": "+15550100000", "assistant_id": a, "direction": "both"}),
            "provider_account_id",
        ),
    ] {
        let (status, json) = e.server.post("/numbers", &e.key, &b).await;
        assert_eq!(status, 400, "{b}: {json}");
        assert_eq!(json["data"]["errors"][0]["field"], field, "{json}");
    }
    assert!(e.twilio.trunks().is_empty());
}
