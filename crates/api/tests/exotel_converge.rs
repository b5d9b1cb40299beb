//! The Exotel side of automated trunks converged by the engine, against the Exotel double
//! and the LiveKit double together: a vSIP trunk deleted out of band is made again (a new
//! trunk_sid), drift pushed back, an interrupted create retired with its trunk, a trunk of a
//! deleted row removed, an outage shown as a status and repaired, and trunks trunkline did not
//! make never touched.

mod support;

use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::exotel_fixture::*;
use support::provider_fixture::*;
use support::{LK_KEY, LK_SECRET};

fn sid_of(d: &Value) -> String {
    d["provider"]["exotel_trunk_sid"]
        .as_str()
        .unwrap_or_else(|| panic!("{d}"))
        .to_owned()
}

#[tokio::test]
async fn a_trunk_deleted_at_exotel_is_made_again_and_drift_is_pushed_back() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    let d = e.automated_trunk(EXOPHONE).await;
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    let sid = sid_of(&d);
    let lk_before = lk.outbound_trunks();
    let their_sid = e.their_trunk().await;
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");

    // Drift: the number switched to a Flow at the dashboard.
    assert!(e
        .exotel
        .set_number_mode_out_of_band(&sid, EXOPHONE, Some("flow")));
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.repaired, r.trunks.failed), (1, 0), "{r:?}");
    assert_eq!(e.exotel.numbers(&sid)[0]["mode"], "pstn");

    // Deleted out of band: made again under the same name, with a new sid.
    assert!(e.exotel.delete_trunk_out_of_band(&sid));
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.trunks.recreated, r.trunks.failed), (1, 0), "{r:?}");
    let ours: Vec<Value> = e
        .exotel
        .trunks()
        .into_iter()
        .filter(|t| t["trunk_sid"] != their_sid.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let new_sid = ours[0]["trunk_sid"].as_str().unwrap().to_owned();
    assert_ne!(new_sid, sid);
    assert_eq!(ours[0]["trunk_name"], d["provider"]["exotel_trunk_name"]);
    assert_eq!(e.exotel.whitelisted_ips(&new_sid)[0]["ip"], BRIDGE_IP);
    assert_eq!(e.exotel.numbers(&new_sid)[0]["phone_number"], EXOPHONE);
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["provider"]["exotel_trunk_sid"], new_sid.as_str());
    assert_eq!(shown["provider"]["status"], "provisioned");
    // The bridge dials the account's domain from the whitelisted IP: LiveKit's trunk to the
    // bridge needs nothing.
    assert_eq!(lk.outbound_trunks(), lk_before);
    let quiet = e.server.state.converge_provider_trunks().await;
    assert_eq!(quiet, Default::default(), "{quiet:?}");

    // Theirs was never touched: no request named it.
    assert!(e
        .exotel
        .requests()
        .iter()
        .all(|r| !r.path.contains(&their_sid) && !r.query.contains(&their_sid)));
    assert_eq!(e.exotel.trunks().len(), 2);
}

#[tokio::test]
async fn an_outage_is_a_visible_status_and_the_next_pass_repairs() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    let d = e.automated_trunk(EXOPHONE).await;
    let trunk_id = d["trunk_id"].as_str().unwrap().to_owned();
    e.exotel.outage().await;
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.unreachable, 1, "{r:?}");
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["provider"]["status"], "unprovisioned", "{shown}");
    assert!(shown["provider"]["last_error"]
        .as_str()
        .unwrap()
        .contains("Exotel could not be reached"));
    e.exotel.resume().await;
    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!((r.unreachable, r.trunks.failed), (0, 0), "{r:?}");
    let shown = e.trunk(&trunk_id).await;
    assert_eq!(shown["provider"]["status"], "provisioned", "{shown}");
    assert_eq!(shown["provider"]["last_error"], Value::Null);
}

#[tokio::test]
async fn an_interrupted_create_and_a_deleted_rows_trunk_are_removed() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let e = exotel_env(&lk).await;
    e.exotel.add_exophone(EXOPHONE);
    let store = &e.server.state.store;
    let tenant = store
        .find_provider_account(&e.account)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    // What a process killed mid-create leaves: a `pending` row older than the grace period
    // with the sid it recorded as soon as Exotel made the trunk, and that trunk, half-filled.
    let id = "PT_0123456789abc";
    let made = e
        .exotel_call(
            "POST",
            "/trunks",
            Some(
                json!({"trunk_name": "tl_0123456789abc", "nso_code": "ANY-ANY",
                        "domain_name": format!("{EX_SID}.pstn.exotel.com")}),
            ),
        )
        .await;
    let sid = made["response"]["data"]["trunk_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = trunkline_store::now_micros() - 600_000_000;
    let row = trunkline_store::ProviderTrunkRow {
        id: id.into(),
        tenant_id: tenant,
        account_id: e.account.clone(),
        trunk_id: None,
        name: "interrupted".into(),
        config: r#"{"provider":"exotel","numbers":[]}"#.into(),
        secrets: "{}".into(),
        status: trunkline_store::Status::Pending,
        provider_trunk_sid: None,
        credential_list_sid: None,
        desired_version: 1,
        synced_version: 0,
        last_error: None,
        synced_at: None,
        created_at: old,
        updated_at: old,
    };
    store.provider_trunks().insert(&row).await.unwrap();
    assert!(store.record_pending_provider_sid(id, &sid).await.unwrap());

    // And a trunk whose row is gone (a delete whose Exotel step was lost).
    let d = e.automated_trunk(EXOPHONE).await;
    let gone_sid = sid_of(&d);
    let pt = d["provider"]["provider_trunk_id"].as_str().unwrap();
    let tenant = store
        .find_provider_account(&e.account)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    assert!(store
        .provider_trunks()
        .mark_deleted(&tenant, pt)
        .await
        .unwrap());
    let theirs = e.their_trunk().await;

    let r = e.server.state.converge_provider_trunks().await;
    assert_eq!(r.trunks.abandoned, 1, "{r:?}");
    assert_eq!(r.trunks.removed, 1, "{r:?}");
    let left: Vec<Value> = e.exotel.trunks();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["trunk_sid"], theirs.as_str());
    assert!(!left.iter().any(|t| t["trunk_sid"] == gone_sid.as_str()));
}
