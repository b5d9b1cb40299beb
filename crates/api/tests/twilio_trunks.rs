//! `POST /sip/create-outbound-trunk` with a Twilio provider account: the Twilio side (trunk
//! with a unique *.pstn.twilio.com domain, credential list with a generated credential
//! associated for termination, the numbers on the trunk) made in the Twilio double, then
//! LiveKit's outbound trunk with that domain and credential in the LiveKit double; a delete
//! removes exactly what was made; an outage on either side leaves nothing made.

mod support;

use livekit_double::LiveKitDouble;
use provider_doubles::TwilioDouble;
use serde_json::{json, Value};
use std::sync::Arc;
use support::provider_fixture::*;
use support::{LiveKit, TestDb, TestServer, LK_KEY, LK_SECRET};

struct Env {
    twilio: TwilioDouble,
    _providers: Providers,
    _db: TestDb,
    server: TestServer,
    key: String,
    account: String,
}

async fn env(livekit: LiveKit<'_>) -> Env {
    let providers = Providers::start().await;
    let db = TestDb::fresh().await;
    let settings = Arc::new(providers.settings());
    let server = TestServer::start_custom(&db, livekit, None, |state| {
        state.providers = settings;
    })
    .await;
    let key = server.tenant("a@example.com").await;
    let account = account(&server, &key, &twilio_body()).await;
    Env {
        twilio: providers.twilio.clone(),
        _providers: providers,
        _db: db,
        server,
        key,
        account,
    }
}

fn body(account: &str, numbers: Value) -> Value {
    json!({"trunk_name": "Twilio automated", "trunk_type": "twilio",
           "trunk_config": {"provider_account_id": account, "numbers": numbers}})
}

#[tokio::test]
async fn both_sides_are_made_and_a_delete_removes_exactly_them() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let other_pn = e.twilio.add_number("+15550100001");
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &body(&e.account, json!(["+15550100000"])),
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
    assert!(
        domain.starts_with("tl-") && domain.ends_with(".pstn.twilio.com"),
        "{domain}"
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
    assert_eq!(shown["data"]["provider"]["status"], "active");
    assert!(!shown.to_string().contains(&password), "{shown}");

    // The account cannot go while the trunk uses it.
    let (status, json) = e
        .server
        .send(
            "DELETE",
            &format!("/provider-accounts/{}", e.account),
            Some(&e.key),
            None,
        )
        .await;
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
    let (status, json) = e
        .server
        .send(
            "DELETE",
            &format!("/provider-accounts/{}", e.account),
            Some(&e.key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_livekit_outage_undoes_the_twilio_side() {
    let e = env(LiveKit::At {
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
            &body(&e.account, json!(["+15550100000"])),
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
    let (status, json) = e
        .server
        .send(
            "DELETE",
            &format!("/provider-accounts/{}", e.account),
            Some(&e.key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_twilio_outage_makes_nothing() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    e.twilio.outage().await;
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &body(&e.account, json!(["+15550100000"])),
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
    let e = env(LiveKit::None).await;
    e.twilio.add_number("+15550100000");
    let tx = account(&e.server, &e.key, &telnyx_body()).await;
    let cases = [
        (
            json!({"trunk_name": "t", "trunk_type": "twilio", "trunk_config": {
                "provider_account_id": e.account, "numbers": ["+15550100000"],
                "address": "x.pstn.twilio.com"}}),
            "trunk_config.address",
        ),
        (
            body(&e.account, json!(["+15550109999"])),
            "trunk_config.numbers[0]",
        ),
        (body(&e.account, json!([])), "trunk_config.numbers"),
        (
            body(
                "PA_00000000000000000000000000000000",
                json!(["+15550100000"]),
            ),
            "trunk_config.provider_account_id",
        ),
        (
            body(&tx, json!(["+15550100000"])),
            "trunk_config.provider_account_id",
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

#[tokio::test]
async fn the_converge_pass_puts_back_what_changed_at_twilio() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &body(&e.account, json!(["+15550100000"])),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    let tk = d["provider"]["twilio_trunk_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let cl = d["provider"]["credential_list_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let domain = d["provider"]["domain_name"].as_str().unwrap().to_owned();
    let (username, password) = e.twilio.credentials(&cl)[0].clone();
    // Nothing to do on a pass right after the create.
    let quiet = e.server.state.converge_twilio_trunks().await;
    assert_eq!((quiet.repaired, quiet.failed), (0, 0), "{quiet:?}");

    // Out of band: the credential list deleted, the trunk renamed and its domain changed,
    // the number taken off the trunk.
    assert!(e.twilio.delete_credential_list_out_of_band(&cl));
    assert!(e.twilio.edit_trunk_out_of_band(
        &tk,
        Some("renamed"),
        Some("elsewhere.pstn.twilio.com")
    ));
    let off = e
        .server
        .http
        .delete(format!(
            "{}/v1/Trunks/{tk}/PhoneNumbers/{pn}",
            e.twilio.url()
        ))
        .basic_auth(TW_SID, Some(TW_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 204);

    let r = e.server.state.converge_twilio_trunks().await;
    assert_eq!((r.repaired, r.failed), (1, 0), "{r:?}");
    let trunk = &e.twilio.trunks()[0];
    assert_eq!(trunk["domain_name"], domain.as_str());
    assert!(trunk["friendly_name"]
        .as_str()
        .unwrap()
        .starts_with("trunkline PT_"));
    let lists = e.twilio.trunk_credential_lists(&tk);
    assert_eq!(lists.len(), 1);
    assert_ne!(lists[0], cl);
    // The same credential as LiveKit's trunk presents.
    assert_eq!(e.twilio.credentials(&lists[0]), [(username, password)]);
    let number = e
        .twilio
        .numbers()
        .into_iter()
        .find(|n| n["sid"] == pn.as_str())
        .unwrap();
    assert_eq!(number["trunk_sid"], tk.as_str());
    let (_, shown) = e
        .server
        .get(&format!("/sip/trunks/{trunk_id}"), &e.key)
        .await;
    assert_eq!(
        shown["data"]["provider"]["credential_list_sid"],
        lists[0].as_str()
    );

    // A trunk deleted at Twilio cannot get its domain back: the provider side says so.
    assert!(e.twilio.delete_trunk_out_of_band(&tk));
    let r = e.server.state.converge_twilio_trunks().await;
    assert_eq!(r.missing, 1, "{r:?}");
    let (_, shown) = e
        .server
        .get(&format!("/sip/trunks/{trunk_id}"), &e.key)
        .await;
    assert_eq!(shown["data"]["provider"]["status"], "missing", "{shown}");
}
