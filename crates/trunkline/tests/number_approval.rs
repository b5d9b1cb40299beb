//! `TRUNKLINE_NUMBER_APPROVAL=required`, as an operator runs it: an account's inbound trunk
//! waits, with no LiveKit side, until the operator approves its number with `trunkline
//! approvals approve`; a number approved for one account cannot be approved for another; a
//! revoked approval takes the trunk out of LiveKit again.

mod support;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::*;

async fn trunk_status(url: &str, key: &str, id: &str) -> Value {
    let r = http()
        .get(format!("{url}/sip/inbound-trunks/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["data"].clone()
}

async fn wait_for_status(url: &str, key: &str, id: &str, want: &str) -> Value {
    let start = Instant::now();
    loop {
        let t = trunk_status(url, key, id).await;
        if t["provisioning"]["status"] == want {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "trunk never became {want}: {t}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_inbound(url: &str, key: &str, number: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{url}/sip/inbound-trunks"))
        .bearer_auth(key)
        .json(&json!({"name": format!("line {number}"), "numbers": [number]}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_claimed_number_reaches_livekit_only_once_the_operator_approves_it() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("TRUNKLINE_NUMBER_APPROVAL", "required".to_owned()),
        ("TRUNKLINE_RECONCILE_INTERVAL", "0.2".to_owned()),
    ];
    let mut serve_envs = envs.to_vec();
    serve_envs.push(("TRUNKLINE_DEMO", "true".to_owned()));
    let server = serve(dir.path(), &serve_envs);
    let alice = create_key(dir.path(), "alice@acme.test", &envs);
    let mallory = create_key(dir.path(), "mallory@evil.test", &envs);

    let (st, created) = create_inbound(&server.url, &alice, "+14155550180").await;
    assert_eq!(st, 200, "{created}");
    let trunk = created["data"]["trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["data"]["provisioning"]["status"], "awaiting_approval",
        "{created}"
    );
    assert!(created["data"]["livekit_trunk_id"].is_null(), "{created}");
    assert!(
        created["data"]["provisioning"]["detail"]
            .as_str()
            .unwrap()
            .contains("trunkline approvals approve"),
        "{created}"
    );
    let (st, other) = create_inbound(&server.url, &mallory, "+14155550181").await;
    assert_eq!(st, 200, "{other}");
    let mallory_trunk = other["data"]["trunk_id"].as_str().unwrap().to_owned();

    // The operator sees both claims.
    let (ok, out, err) = run(dir.path(), &["approvals", "list"], &envs);
    assert!(ok, "{err}");
    assert!(
        out.contains("+14155550180") && out.contains("alice@acme.test"),
        "{out}"
    );
    assert!(
        out.contains("+14155550181") && out.contains("mallory@evil.test"),
        "{out}"
    );
    assert!(err.contains("2 number(s) await approval"), "{err}");

    // Several reconciler passes later, nothing is provisioned without approval.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let t = trunk_status(&server.url, &alice, &trunk).await;
    assert_eq!(t["provisioning"]["status"], "awaiting_approval", "{t}");

    let (ok, out, err) = run(
        dir.path(),
        &["approvals", "approve", "alice@acme.test", "+14155550180"],
        &envs,
    );
    assert!(ok, "{err}");
    assert!(out.contains("approved +14155550180"), "{out}");
    let t = wait_for_status(&server.url, &alice, &trunk, "provisioned").await;
    assert!(t["livekit_trunk_id"].as_str().is_some(), "{t}");
    let t = trunk_status(&server.url, &mallory, &mallory_trunk).await;
    assert_eq!(t["provisioning"]["status"], "awaiting_approval", "{t}");

    // One account's approved number cannot be approved for another.
    let (code, _, err) = run_status(
        dir.path(),
        &["approvals", "approve", "mallory@evil.test", "+14155550180"],
        &envs,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("approved for another account"), "{err}");
    // Mistakes in the command are usage errors naming what is wrong.
    let (code, _, err) = run_status(
        dir.path(),
        &["approvals", "approve", "alice@acme.test", "4155550180x"],
        &envs,
    );
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("e.g. +14155550100"), "{err}");
    let (code, _, err) = run_status(
        dir.path(),
        &["approvals", "approve", "nobody@acme.test", "+14155550182"],
        &envs,
    );
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("nobody@acme.test"), "{err}");

    // Revoked: the trunk leaves LiveKit and waits again.
    let (ok, out, err) = run(dir.path(), &["approvals", "revoke", "+14155550180"], &envs);
    assert!(ok, "{err}");
    assert!(out.contains("revoked +14155550180"), "{out}");
    let t = wait_for_status(&server.url, &alice, &trunk, "awaiting_approval").await;
    assert!(t["livekit_trunk_id"].is_null(), "{t}");
    server.stop();
}

#[test]
fn a_wrong_number_approval_setting_names_the_variable_and_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let err = serve_refused(
        dir.path(),
        &[("TRUNKLINE_NUMBER_APPROVAL", "yes please".to_owned())],
    );
    assert!(err.contains("TRUNKLINE_NUMBER_APPROVAL"), "{err}");
    assert!(err.contains("required"), "{err}");
}
