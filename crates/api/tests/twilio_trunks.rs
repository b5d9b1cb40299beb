//! `POST /sip/create-outbound-trunk` with a Twilio provider account: the Twilio side (trunk
//! with a unique *.pstn.twilio.com domain, credential list with a generated credential
//! associated for termination, the numbers on the trunk) made in the Twilio double, then
//! LiveKit's outbound trunk with that domain and credential in the LiveKit double; a delete
//! removes exactly what was made; an outage on either side leaves nothing made.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

#[tokio::test]
async fn both_sides_are_made_and_a_delete_removes_exactly_them() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let other_pn = e.twilio.add_number("+15550100001");
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &automated_trunk_body(&e.account, json!(["+15550100000"])),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(d["status"], "provisioned");
    let tk = d["provider"]["twilio_trunk_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let cl = d["provider"]["credential_list_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let domain = d["provider"]["domain_name"].as_str().unwrap().to_owned();
    // Derived from the trunk's sid, so a recreated trunk never asks for a reserved domain.
    assert_eq!(
        domain,
        format!("tl-{}.pstn.twilio.com", tk[2..].to_ascii_lowercase())
    );

    // Twilio: the trunk, marked as trunkline's, with the credential list for termination.
    let trunks = e.twilio.trunks();
    assert_eq!(trunks.len(), 1);
    assert_eq!(trunks[0]["sid"], tk.as_str());
    assert_eq!(trunks[0]["domain_name"], domain.as_str());
    assert!(trunks[0]["friendly_name"]
        .as_str()
        .unwrap()
        .starts_with("trunkline PT_"));
    assert_eq!(trunks[0]["auth_type"], "CREDENTIAL_LIST");
    assert_eq!(e.twilio.trunk_credential_lists(&tk), vec![cl.clone()]);
    let creds = e.twilio.credentials(&cl);
    assert_eq!(creds.len(), 1);
    let (username, password) = creds[0].clone();
    assert!(!json.to_string().contains(&password), "{json}");
    let numbers = e.twilio.numbers();
    let on = |sid: &str| {
        numbers
            .iter()
            .find(|n| n["sid"] == sid)
            .map(|n| n["trunk_sid"].clone())
            .unwrap()
    };
    assert_eq!(on(&pn), json!(tk));
    assert_eq!(on(&other_pn), Value::Null);

    // LiveKit: the outbound trunk dials that domain with that credential.
    let lk_id = d["livekit_trunk_id"].as_str().unwrap();
    let lk_trunk = lk.outbound_trunk(lk_id).unwrap();
    assert_eq!(lk_trunk.address, domain);
    assert_eq!(lk_trunk.auth_username, username);
    assert_eq!(lk_trunk.auth_password, password);
    assert_eq!(lk_trunk.numbers, ["+15550100000"]);

    // GET shows the provider side, never the password.
    let (status, shown) = e
        .server
        .get(&format!("/sip/trunks/{trunk_id}"), &e.key)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["provider"]["twilio_trunk_sid"], tk.as_str());
    assert_eq!(shown["data"]["provider"]["status"], "provisioned");
    assert!(!shown.to_string().contains(&password), "{shown}");

    // The account cannot go while the trunk uses it.
    let (status, json) = e.delete_account().await;
    assert_eq!(status, 409, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains(&trunk_id),
        "{json}"
    );

    // A Twilio trunk trunkline did not make, to be left alone.
    let theirs = e
        .server
        .http
        .post(format!("{}/v1/Trunks", e.twilio.url()))
        .basic_auth(TW_SID, Some(TW_TOKEN))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("FriendlyName=theirs&DomainName=theirs.pstn.twilio.com")
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 201);

    let (status, json) = e
        .server
        .send(
            "DELETE",
            &format!("/sip/trunks/{trunk_id}"),
            Some(&e.key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let left: Vec<Value> = e.twilio.trunks();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["friendly_name"], "theirs");
    assert!(e.twilio.credential_lists().is_empty());
    assert!(lk.outbound_trunk(lk_id).is_none());
    let (status, json) = e.delete_account().await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_livekit_outage_undoes_the_twilio_side() {
    let e = twilio_env(LiveKit::At {
        url: "http://127.0.0.1:9".into(),
        key: LK_KEY.into(),
        secret: LK_SECRET.into(),
    })
    .await;
    let pn = e.twilio.add_number("+15550100000");
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &automated_trunk_body(&e.account, json!(["+15550100000"])),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    // Made at Twilio, then removed: nothing is left on either side.
    let made: Vec<_> = e
        .twilio
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.status == 201)
        .collect();
    assert!(made.len() >= 3, "{made:?}");
    assert!(e.twilio.trunks().is_empty());
    assert!(e.twilio.credential_lists().is_empty());
    let n = e.twilio.numbers();
    assert_eq!(
        n.iter().find(|x| x["sid"] == pn.as_str()).unwrap()["trunk_sid"],
        Value::Null
    );
    assert!(e.server.list_ids(&e.key).await.is_empty());
    // Nothing holds the account.
    let (status, json) = e.delete_account().await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_twilio_outage_makes_nothing() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    e.twilio.outage().await;
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &automated_trunk_body(&e.account, json!(["+15550100000"])),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("Twilio"),
        "{json}"
    );
    e.twilio.resume().await;
    assert!(e.twilio.trunks().is_empty());
    assert!(lk.outbound_trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
}

#[tokio::test]
async fn refusals_name_the_field_and_make_nothing() {
    let e = twilio_env(LiveKit::None).await;
    e.twilio.add_number("+15550100000");
    let ex = account(&e.server, &e.key, &exotel_body()).await;
    let tx = account(&e.server, &e.key, &telnyx_body()).await;
    let cases = [
        (
            json!({"trunk_name": "t", "trunk_type": "twilio", "trunk_config": {
                "provider_account_id": e.account, "numbers": ["+15550100000"],
                "address": "x.pstn.twilio.com"}}),
            "trunk_config.address",
        ),
        (
            automated_trunk_body(&e.account, json!(["+15550109999"])),
            "trunk_config.numbers[0]",
        ),
        (
            automated_trunk_body(&e.account, json!([])),
            "trunk_config.numbers",
        ),
        (
            automated_trunk_body(
                "PA_00000000000000000000000000000000",
                json!(["+15550100000"]),
            ),
            "trunk_config.provider_account_id",
        ),
        (
            automated_trunk_body(&ex, json!(["+15550100000"])),
            "trunk_config.provider_account_id",
        ),
        // A Telnyx account makes Telnyx trunks only.
        (
            automated_trunk_body(&tx, json!(["+15550100000"])),
            "trunk_type",
        ),
    ];
    for (b, field) in cases {
        let (status, json) = e
            .server
            .post("/sip/create-outbound-trunk", &e.key, &b)
            .await;
        assert_eq!(status, 400, "{b}: {json}");
        assert_eq!(json["data"]["errors"][0]["field"], field, "{json}");
    }
    assert!(e.twilio.trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
}
