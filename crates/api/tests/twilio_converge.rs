//! The provider side of automated trunks converged by the engine, against the Twilio double
//! and the LiveKit double together: drift at Twilio pushed back, a trunk deleted out of band
//! recreated under a new domain with LiveKit's trunk following it, an outage shown as a
//! status and repaired afterwards, a PATCH of the numbers carried to Twilio, and objects
//! trunkline did not make never touched.

mod support;

use livekit_double::LiveKitDouble;
use provider_doubles::Fault;
use serde_json::{json, Value};
use support::provider_fixture::*;
use support::{LiveKit, LK_KEY, LK_SECRET};

#[tokio::test]
async fn drift_at_twilio_is_pushed_back() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let t = e.automated_trunk(&["+15550100000"]).await;
    let (username, password) = e.twilio.credentials(&t.credential_list_sid)[0].clone();
    // Nothing to do on a pass right after the create.
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");

    // Out of band: the credential list deleted, the trunk renamed and its domain changed,
    // the number taken off the trunk.
    assert!(e
        .twilio
        .delete_credential_list_out_of_band(&t.credential_list_sid));
    assert!(e.twilio.edit_trunk_out_of_band(
        &t.twilio_trunk_sid,
        Some("renamed"),
        Some("elsewhere.pstn.twilio.com")
    ));
    let path = format!("/v1/Trunks/{}/PhoneNumbers/{pn}", t.twilio_trunk_sid);
    assert_eq!(e.twilio_call("DELETE", &path, None).await, 204);

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.repaired, r.trunks.failed), (1, 0), "{r:?}");
    let trunk = &e.twilio.trunks()[0];
    assert_eq!(trunk["sid"], t.twilio_trunk_sid.as_str());
    assert_eq!(trunk["domain_name"], t.domain_name.as_str());
    assert!(trunk["friendly_name"]
        .as_str()
        .unwrap()
        .starts_with("trunkline PT_"));
    let lists = e.twilio.trunk_credential_lists(&t.twilio_trunk_sid);
    assert_eq!(lists.len(), 1);
    assert_ne!(lists[0], t.credential_list_sid);
    // The same credential as LiveKit's trunk presents.
    assert_eq!(e.twilio.credentials(&lists[0]), [(username, password)]);
    assert_eq!(e.number_trunk(&pn), json!(t.twilio_trunk_sid));
    let shown = e.trunk(&t.trunk_id).await;
    assert_eq!(shown["provider"]["credential_list_sid"], lists[0].as_str());
    assert_eq!(shown["provider"]["status"], "provisioned");
    // And the pass after that has nothing left to do.
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");
}

#[tokio::test]
async fn a_trunk_deleted_at_twilio_is_recreated_and_livekit_follows_its_new_domain() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let pn = e.twilio.add_number("+15550100000");
    let t = e.automated_trunk(&["+15550100000"]).await;
    let (username, password) = e.twilio.credentials(&t.credential_list_sid)[0].clone();

    assert!(e.twilio.delete_trunk_out_of_band(&t.twilio_trunk_sid));
    // Twilio keeps the deleted domain: asking for it again would get 21248.
    assert!(e.twilio.reserved_domains().contains(&t.domain_name));

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.trunks.failed), (1, 0), "{r:?}");
    let trunks = e.twilio.trunks();
    assert_eq!(trunks.len(), 1, "{trunks:?}");
    let new_sid = trunks[0]["sid"].as_str().unwrap().to_owned();
    let new_domain = trunks[0]["domain_name"].as_str().unwrap().to_owned();
    assert_ne!(new_sid, t.twilio_trunk_sid);
    assert_ne!(new_domain, t.domain_name);
    assert!(new_domain.ends_with(".pstn.twilio.com"), "{new_domain}");
    // The number is back on the new trunk, with the same credential (the list was reused:
    // it outlived the trunk).
    assert_eq!(e.number_trunk(&pn), json!(new_sid));
    let lists = e.twilio.trunk_credential_lists(&new_sid);
    assert_eq!(lists, std::slice::from_ref(&t.credential_list_sid));
    assert_eq!(
        e.twilio.credentials(&lists[0]),
        [(username.clone(), password.clone())]
    );

    // LiveKit's outbound trunk dials the new domain, same credential and numbers.
    let lk_trunk = lk.outbound_trunk(&t.livekit_trunk_id).unwrap();
    assert_eq!(lk_trunk.address, new_domain);
    assert_eq!(lk_trunk.auth_username, username);
    assert_eq!(lk_trunk.auth_password, password);
    assert_eq!(lk_trunk.numbers, ["+15550100000"]);
    let shown = e.trunk(&t.trunk_id).await;
    assert_eq!(shown["provider"]["twilio_trunk_sid"], new_sid.as_str());
    assert_eq!(shown["provider"]["domain_name"], new_domain.as_str());
    assert_eq!(
        shown["trunk_config"]["address"],
        new_domain.as_str(),
        "{shown}"
    );
    assert!(!shown.to_string().contains(&password));

    // A delete now removes the recreated trunk and its list.
    e.delete_trunk(&t.trunk_id).await;
    assert!(e.twilio.trunks().is_empty());
    assert!(e.twilio.credential_lists().is_empty());
    assert_eq!(e.number_trunk(&pn), Value::Null);
    assert!(lk.outbound_trunk(&t.livekit_trunk_id).is_none());
}

#[tokio::test]
async fn an_outage_is_a_visible_status_and_the_next_pass_repairs() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    let t = e.automated_trunk(&["+15550100000"]).await;
    assert!(e.twilio.delete_trunk_out_of_band(&t.twilio_trunk_sid));

    e.twilio.set_fault(Some(Fault::Status(503)));
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.unreachable, 1, "{r:?}");
    assert_eq!(r.trunks.recreated, 0, "{r:?}");
    let shown = e.trunk(&t.trunk_id).await;
    assert_eq!(shown["provider"]["status"], "unprovisioned", "{shown}");
    let why = shown["provider"]["last_error"].as_str().unwrap();
    assert!(why.contains("Twilio"), "{why}");
    assert_no_secret("an outage status", &shown.to_string());
    // Nothing was made meanwhile, and LiveKit's trunk was left as it was.
    assert!(e.twilio.trunks().is_empty());
    assert_eq!(
        lk.outbound_trunk(&t.livekit_trunk_id).unwrap().address,
        t.domain_name
    );

    e.twilio.set_fault(None);
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.unreachable), (1, 0), "{r:?}");
    let shown = e.trunk(&t.trunk_id).await;
    assert_eq!(shown["provider"]["status"], "provisioned", "{shown}");
    assert_eq!(shown["provider"]["last_error"], Value::Null);
    assert_eq!(e.twilio.trunks().len(), 1);
}

#[tokio::test]
async fn rate_limited_answers_are_retried_with_backoff() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let mut settings = None;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    // The shared fixture does not retry; this server does, as production does.
    {
        let mut s = (*e.server.state.providers).clone();
        s.client.retry.max_retries = 3;
        s.client.retry.initial_backoff = std::time::Duration::from_millis(20);
        settings.replace(s);
    }
    let mut state = e.server.state.clone();
    state.providers = std::sync::Arc::new(settings.unwrap());
    e.twilio.add_number("+15550100000");
    let t = e.automated_trunk(&["+15550100000"]).await;
    assert!(e.twilio.delete_trunk_out_of_band(&t.twilio_trunk_sid));
    // Twilio answers 429 (20429) twice, then serves: the pass still recreates the trunk.
    e.twilio.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    e.twilio.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    e.twilio.clear_requests();
    let r = state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.unreachable), (1, 0), "{r:?}");
    let limited = e
        .twilio
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(limited, 2);
    assert_eq!(e.twilio.trunks().len(), 1);
}

#[tokio::test]
async fn a_patch_of_the_numbers_changes_twilio_and_livekit() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let a = e.twilio.add_number("+15550100000");
    let b = e.twilio.add_number("+15550100001");
    let t = e.automated_trunk(&["+15550100000"]).await;
    let path = format!("/sip/trunks/{}", t.trunk_id);

    let patch = json!({"trunk_config": {"numbers": ["+15550100001"]}});
    let (status, json) = e
        .server
        .send("PATCH", &path, Some(&e.key), Some(&patch.to_string()))
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(e.number_trunk(&a), Value::Null);
    assert_eq!(e.number_trunk(&b), json!(t.twilio_trunk_sid));
    assert_eq!(
        lk.outbound_trunk(&t.livekit_trunk_id).unwrap().numbers,
        ["+15550100001"]
    );
    let shown = e.trunk(&t.trunk_id).await;
    assert_eq!(shown["provider"]["numbers"], json!(["+15550100001"]));

    // What trunkline made for the trunk cannot be changed by hand.
    let patch = json!({"trunk_config": {"address": "other.pstn.twilio.com"}});
    let (status, json) = e
        .server
        .send("PATCH", &path, Some(&e.key), Some(&patch.to_string()))
        .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["data"]["errors"][0]["field"], "trunk_config.address");

    // A number that is not the account's: Twilio's side refuses, nothing changes anywhere.
    let patch = json!({"trunk_config": {"numbers": ["+15550109999"]}});
    let (status, json) = e
        .server
        .send("PATCH", &path, Some(&e.key), Some(&patch.to_string()))
        .await;
    assert_eq!(status, 400, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("+15550109999"),
        "{json}"
    );
    assert_eq!(e.number_trunk(&b), json!(t.twilio_trunk_sid));
    assert_eq!(
        lk.outbound_trunk(&t.livekit_trunk_id).unwrap().numbers,
        ["+15550100001"]
    );
    let shown = e.trunk(&t.trunk_id).await;
    assert_eq!(shown["provider"]["numbers"], json!(["+15550100001"]));
}

#[tokio::test]
async fn objects_trunkline_did_not_make_are_never_touched() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    let theirs_pn = e.twilio.add_number("+15550100009");
    e.twilio.add_number("+15550100000");
    let t = e.automated_trunk(&["+15550100000"]).await;
    // A trunk made by hand, one named like trunkline's but for an id this database never
    // held (another deployment), and a credential list of the same kind.
    for form in [
        "FriendlyName=theirs&DomainName=theirs.pstn.twilio.com",
        "FriendlyName=trunkline+PT_ffffffffffffffffffffffffffffffff&DomainName=other-deploy.pstn.twilio.com",
    ] {
        assert_eq!(e.twilio_call("POST", "/v1/Trunks", Some(form)).await, 201);
    }
    let lists = format!("/2010-04-01/Accounts/{TW_SID}/SIP/CredentialLists.json");
    assert_eq!(
        e.twilio_call(
            "POST",
            &lists,
            Some("FriendlyName=trunkline+PT_ffffffffffffffffffffffffffffffff")
        )
        .await,
        201
    );
    let theirs = e
        .twilio
        .trunks()
        .into_iter()
        .find(|x| x["friendly_name"] == "theirs")
        .unwrap();
    let their_sid = theirs["sid"].as_str().unwrap().to_owned();
    let path = format!("/v1/Trunks/{their_sid}/PhoneNumbers");
    assert_eq!(
        e.twilio_call("POST", &path, Some(&format!("PhoneNumberSid={theirs_pn}")))
            .await,
        201
    );
    let before = e.twilio.trunks();
    let lists_before = e.twilio.credential_lists();

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r, Default::default(), "{r:?}");
    assert_eq!(e.twilio.trunks(), before);
    assert_eq!(e.twilio.credential_lists(), lists_before);
    assert_eq!(e.number_trunk(&theirs_pn), json!(their_sid));

    // Deleting ours leaves all of theirs.
    e.delete_trunk(&t.trunk_id).await;
    let left: Vec<Value> = e.twilio.trunks();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|x| x["sid"] != t.twilio_trunk_sid.as_str()));
    assert_eq!(e.twilio.credential_lists().len(), 1);
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r, Default::default(), "{r:?}");
    assert_eq!(e.twilio.trunks().len(), 2);
}

#[tokio::test]
async fn a_delete_while_twilio_is_down_changes_nothing() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    e.twilio.add_number("+15550100000");
    let t = e.automated_trunk(&["+15550100000"]).await;
    e.twilio.outage().await;
    let path = format!("/sip/trunks/{}", t.trunk_id);
    let (status, json) = e.server.send("DELETE", &path, Some(&e.key), None).await;
    assert_eq!(status, 503, "{json}");
    e.twilio.resume().await;
    assert_eq!(e.twilio.trunks().len(), 1);
    assert!(lk.outbound_trunk(&t.livekit_trunk_id).is_some());
    assert_eq!(
        e.trunk(&t.trunk_id).await["provider"]["status"],
        "provisioned"
    );
    let (status, json) = e.server.send("DELETE", &path, Some(&e.key), None).await;
    assert_eq!(status, 200, "{json}");
    assert!(e.twilio.trunks().is_empty());
    assert!(e.twilio.credential_lists().is_empty());
}

#[tokio::test]
async fn a_create_interrupted_by_a_crash_is_retired_with_its_twilio_trunk() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = twilio_env(LiveKit::Double(&lk)).await;
    // What a process killed mid-create leaves: a `pending` row, older than the grace
    // period, and the Twilio trunk it had made, marked with the row's id.
    let id = "PT_0123456789abcdef0123456789abcdef";
    insert_interrupted_side(&e.server, &e.account, id).await;
    let form = format!("FriendlyName=trunkline+{id}");
    assert_eq!(e.twilio_call("POST", "/v1/Trunks", Some(&form)).await, 201);

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.trunks.abandoned, 1, "{r:?}");
    assert!(e.twilio.trunks().is_empty(), "{:?}", e.twilio.trunks());
    // Nothing holds the account any more.
    let (status, json) = e.delete_account().await;
    assert_eq!(status, 200, "{json}");
}
