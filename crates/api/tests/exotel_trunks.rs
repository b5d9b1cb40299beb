//! `POST /sip/create-outbound-trunk` with `trunk_type "exotel"` and an Exotel provider
//! account: the vSIP trunk (named `tl_` + trunkline's id), the bridge's public IP
//! whitelisted and the ExoPhone mapped (mode pstn) in the Exotel double, then the trunkline
//! Exotel trunk with its LiveKit trunk to the bridge in the LiveKit double; a delete removes
//! exactly what was made; refusals and outages leave nothing made.

mod support;

use livekit_double::LiveKitDouble;
use provider_doubles::Fault;
use serde_json::{json, Value};
use support::exotel_fixture::*;
use support::provider_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

#[tokio::test]
async fn both_sides_are_made_and_a_delete_removes_exactly_them() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    let d = e.automated_trunk(EXOPHONE).await;
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(d["status"], "provisioned", "{d}");
    let p = &d["provider"];
    assert_eq!(p["provider"], "exotel", "{d}");
    assert_eq!(p["status"], "provisioned");
    let sid = p["exotel_trunk_sid"].as_str().unwrap().to_owned();
    let pt = p["provider_trunk_id"].as_str().unwrap();
    // The marker: the whole provider trunk id in Exotel's 16-character trunk name.
    let name = format!("tl_{}", &pt[3..]);
    assert_eq!(name.len(), 16);
    assert_eq!(p["exotel_trunk_name"], name.as_str());
    assert_eq!(p["whitelisted_ips"], json!([BRIDGE_IP]));
    assert_eq!(p["domain_name"], format!("{EX_SID}.pstn.exotel.com"));

    // Exotel: the trunk, the bridge's IP, the number in pstn mode.
    let trunks = e.exotel.trunks();
    assert_eq!(trunks.len(), 1);
    assert_eq!(trunks[0]["trunk_sid"], sid.as_str());
    assert_eq!(trunks[0]["trunk_name"], name.as_str());
    assert_eq!(trunks[0]["nso_code"], "ANY-ANY");
    assert_eq!(
        trunks[0]["domain_name"],
        format!("{EX_SID}.pstn.exotel.com")
    );
    let ips = e.exotel.whitelisted_ips(&sid);
    assert_eq!(ips.len(), 1, "{ips:?}");
    assert_eq!(ips[0]["ip"], BRIDGE_IP);
    let numbers = e.exotel.numbers(&sid);
    assert_eq!(numbers.len(), 1, "{numbers:?}");
    assert_eq!(numbers[0]["phone_number"], EXOPHONE);
    assert_eq!(numbers[0]["mode"], "pstn");

    // LiveKit dials the bridge, which calls Exotel from the whitelisted IP.
    let lk_trunk = lk
        .outbound_trunk(d["livekit_trunk_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(lk_trunk.address, "bridge.example.net:5080");
    assert_eq!(lk_trunk.numbers, [EXOPHONE]);
    assert_eq!(lk_trunk.auth_username, trunk_id);
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["trunk_type"], "exotel", "{shown}");
    assert_eq!(shown["provider"]["exotel_trunk_sid"], sid.as_str());
    assert_eq!(
        shown["trunk_config"]["sip_domain"],
        format!("{EX_SID}.pstn.exotel.com")
    );
    assert_no_secret("GET /sip/trunks/{id}", &shown.to_string());

    // A second trunk for the same number is refused before anything is made.
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &exotel_trunk_body(&e.account, EXOPHONE),
        )
        .await;
    assert_eq!(status, 409, "{json}");
    assert_eq!(e.exotel.trunks().len(), 1);

    // The account cannot go while the trunk uses it.
    let (status, _) = e.delete(&format!("/provider-accounts/{}", e.account)).await;
    assert_eq!(status, 409);

    // A trunk trunkline did not make, to be left alone.
    e.their_trunk().await;

    let (status, json) = e.delete(&format!("/sip/trunks/{trunk_id}")).await;
    assert_eq!(status, 200, "{json}");
    let left = e.exotel.trunks();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["trunk_name"], "theirs");
    // Exotel's delete takes the trunk sid as a query parameter.
    assert!(e
        .exotel
        .requests()
        .iter()
        .any(|r| r.method == "DELETE" && r.query == format!("trunk_sid={sid}")));
    assert!(lk.outbound_trunks().is_empty());
    let (status, json) = e.delete(&format!("/provider-accounts/{}", e.account)).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn refusals_name_the_field_and_make_nothing() {
    let e = exotel_env_with(LiveKit::None, Some(BRIDGE_PUBLIC)).await;
    e.exotel.add_exophone(EXOPHONE);
    let tw = account(&e.server, &e.key, &twilio_body()).await;
    let with = |extra: Value| {
        let mut b = exotel_trunk_body(&e.account, EXOPHONE);
        for (k, v) in extra.as_object().unwrap() {
            b["trunk_config"][k] = v.clone();
        }
        b
    };
    let cases = [
        (
            exotel_trunk_body(&e.account, "+918044319299"),
            "trunk_config.exotel_number",
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "exotel",
                   "trunk_config": {"provider_account_id": e.account}}),
            "trunk_config.exotel_number",
        ),
        (
            with(json!({"auth_username": "u", "auth_password": "p"})),
            "trunk_config.auth_password",
        ),
        (
            exotel_trunk_body(&tw, EXOPHONE),
            "trunk_config.provider_account_id",
        ),
        (
            exotel_trunk_body("PA_00000000000000000000000000000000", EXOPHONE),
            "trunk_config.provider_account_id",
        ),
        (with(json!({"sip_port": 70000})), "trunk_config.sip_port"),
    ];
    for (b, field) in cases {
        let (status, json) = e
            .server
            .post("/sip/create-outbound-trunk", &e.key, &b)
            .await;
        assert_eq!(status, 400, "{b}: {json}");
        let fields: Vec<&Value> = json["data"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["field"])
            .collect();
        assert!(fields.contains(&&json!(field)), "{b}: {json}");
    }
    assert!(e.exotel.trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
}

#[tokio::test]
async fn without_the_bridge_public_address_nothing_is_made() {
    let e = exotel_env_with(LiveKit::None, None).await;
    e.exotel.add_exophone(EXOPHONE);
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &exotel_trunk_body(&e.account, EXOPHONE),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("TRUNKLINE_BRIDGE_PUBLIC_ADDRESS"),
        "{json}"
    );
    assert!(e.exotel.trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
}

#[tokio::test]
async fn an_exotel_outage_makes_nothing() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    e.exotel.outage().await;
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &exotel_trunk_body(&e.account, EXOPHONE),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("Exotel"),
        "{json}"
    );
    e.exotel.resume().await;
    assert!(e.exotel.trunks().is_empty());
    assert!(lk.outbound_trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
}

#[tokio::test]
async fn a_failure_part_way_at_exotel_deletes_the_trunk() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    // The ExoPhones check and the trunk's create succeed; mapping the number answers 500.
    e.exotel.clear_requests();
    e.exotel.push_fault_on("/phone-numbers", Fault::Status(500));
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &exotel_trunk_body(&e.account, EXOPHONE),
        )
        .await;
    assert!(status == 502 || status == 503, "{status} {json}");
    let made: Vec<_> = e
        .exotel
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/trunks"))
        .collect();
    assert_eq!(made.len(), 1, "the trunk was made: {made:?}");
    assert!(e.exotel.trunks().is_empty(), "and deleted again");
    assert!(lk.outbound_trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
}

#[tokio::test]
async fn a_livekit_outage_undoes_the_exotel_side() {
    let e = exotel_env_with(
        LiveKit::At {
            url: "http://127.0.0.1:9".into(),
            key: LK_KEY.into(),
            secret: LK_SECRET.into(),
        },
        Some(BRIDGE_PUBLIC),
    )
    .await;
    e.exotel.add_exophone(EXOPHONE);
    let (status, json) = e
        .server
        .post(
            "/sip/create-outbound-trunk",
            &e.key,
            &exotel_trunk_body(&e.account, EXOPHONE),
        )
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(e.exotel.trunks().is_empty());
    assert!(e.server.list_ids(&e.key).await.is_empty());
    let (status, json) = e.delete(&format!("/provider-accounts/{}", e.account)).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn a_delete_while_exotel_is_down_changes_nothing() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    let d = e.automated_trunk(EXOPHONE).await;
    let trunk_id = d["trunk_id"].as_str().unwrap();
    e.exotel.outage().await;
    let (status, json) = e.delete(&format!("/sip/trunks/{trunk_id}")).await;
    assert_eq!(status, 503, "{json}");
    e.exotel.resume().await;
    assert_eq!(e.exotel.trunks().len(), 1);
    assert_eq!(lk.outbound_trunks().len(), 1);
    assert_eq!(e.trunk(trunk_id).await["provider"]["status"], "provisioned");
    let (status, json) = e.delete(&format!("/sip/trunks/{trunk_id}")).await;
    assert_eq!(status, 200, "{json}");
    assert!(e.exotel.trunks().is_empty());
}

#[tokio::test]
async fn post_numbers_sets_an_exophone_up_for_outbound_calls() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    let (status, a) = e
        .server
        .post(
            "/assistants",
            &e.key,
            &json!({"name": "Support", "agent_name": "support-agent"}),
        )
        .await;
    assert_eq!(status, 200, "{a}");
    let body = |direction: &str| {
        json!({"provider_account_id": e.account, "number": EXOPHONE,
               "assistant_id": a["data"]["assistant_id"], "direction": direction})
    };
    // Inbound needs a Flow made in Exotel's dashboard: refused, nothing made.
    let (status, json) = e.server.post("/numbers", &e.key, &body("both")).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "direction", "{json}");
    assert!(e.exotel.trunks().is_empty());

    let (status, json) = e.server.post("/numbers", &e.key, &body("outbound")).await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    assert_eq!(d["status"], "active");
    assert_eq!(d["provider"]["provider"], "exotel", "{d}");
    let sid = d["provider"]["exotel_trunk_sid"].as_str().unwrap();
    assert_eq!(e.exotel.numbers(sid)[0]["phone_number"], EXOPHONE);
    assert_eq!(e.exotel.whitelisted_ips(sid)[0]["ip"], BRIDGE_IP);
    assert_eq!(lk.outbound_trunks().len(), 1);
    // The same body again: the same setup, nothing made.
    let (status, again) = e.server.post("/numbers", &e.key, &body("outbound")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["number_id"], d["number_id"]);
    assert_eq!(e.exotel.trunks().len(), 1);

    let id = d["number_id"].as_str().unwrap();
    let (status, json) = e.delete(&format!("/numbers/{id}")).await;
    assert_eq!(status, 200, "{json}");
    assert!(e.exotel.trunks().is_empty());
    assert!(lk.outbound_trunks().is_empty());
}
