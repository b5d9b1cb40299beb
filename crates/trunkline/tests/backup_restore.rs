//! `trunkline backup` and `trunkline restore`: a backup holds no secret in clear; it restores
//! only into an empty database; a service started on the restored database (with a LiveKit
//! that has nothing) provisions LiveKit to what the first service had provisioned, and the
//! tenants' keys still work. With TRUNKLINE_TEST_POSTGRES the restore goes to PostgreSQL.

mod support;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use support::*;

const LK_KEY: &str = "APIbackup";
const LK_SECRET: &str = "backup-test-secret-0123456789abcdef";
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const INBOUND_PASSWORD: &str = "inbound-s3cret-Pa55";

/// A value with every object's keys in order, so equal values print the same.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: std::collections::BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// What LiveKit holds, without what LiveKit itself assigns (ids, times): the part trunkline
/// provisions, secrets included.
fn livekit_state(lk: &LiveKitDouble) -> Vec<String> {
    let strip = |v: Value, drop: &[&str]| {
        let mut v = canonical(v);
        if let Some(m) = v.as_object_mut() {
            for d in drop {
                m.remove(*d);
            }
        }
        v.to_string()
    };
    let times = ["createdAt", "updatedAt"];
    let mut out: Vec<String> = lk
        .outbound_trunks()
        .iter()
        .map(|t| {
            strip(
                serde_json::to_value(t).unwrap(),
                &[&["sipTrunkId"], &times[..]].concat(),
            )
        })
        .chain(lk.inbound_trunks().iter().map(|t| {
            strip(
                serde_json::to_value(t).unwrap(),
                &[&["sipTrunkId"], &times[..]].concat(),
            )
        }))
        .chain(lk.dispatch_rules().iter().map(|r| {
            strip(
                serde_json::to_value(r).unwrap(),
                &[&["sipDispatchRuleId", "trunkIds"], &times[..]].concat(),
            )
        }))
        .collect();
    out.sort();
    out
}

fn livekit_env(lk: &LiveKitDouble) -> Vec<(&'static str, String)> {
    vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_MASTER_KEY", MASTER_KEY.to_owned()),
        ("TRUNKLINE_RECONCILE_INTERVAL", "0.2".to_owned()),
    ]
}

/// The restore's database: PostgreSQL with TRUNKLINE_TEST_POSTGRES (a fresh database, dropped
/// by the returned guard's caller), else an SQLite file of its own directory.
fn target_database(dir: &std::path::Path) -> (Option<(String, String)>, String) {
    match std::env::var("TRUNKLINE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    {
        Some(admin) => {
            let name = format!("tl_test_restore_{}", std::process::id());
            psql(&admin, &format!("CREATE DATABASE {name}"));
            let base = admin.rsplit_once('/').unwrap().0;
            (
                Some((admin.clone(), name.clone())),
                format!("{base}/{name}"),
            )
        }
        None => (None, format!("sqlite://{}/restored.db", dir.display())),
    }
}

fn psql(admin: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([admin, "-qc", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "{sql}: {out:?}");
}

async fn send(method: reqwest::Method, url: String, key: &str, body: Value) -> Value {
    let resp = http()
        .request(method, url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let json: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{json}");
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_service_provisions_livekit_to_the_same_state() {
    let source_lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let source = tempfile::tempdir().unwrap();
    let env = livekit_env(&source_lk);
    let server = serve(source.path(), &env);
    let key = create_key(source.path(), "ops@acme.test", &env);
    let url = &server.url;
    send(
        reqwest::Method::POST,
        format!("{url}/sip/create-outbound-trunk"),
        &key,
        seed_twilio(),
    )
    .await;
    let inbound = send(
        reqwest::Method::POST,
        format!("{url}/sip/inbound-trunks"),
        &key,
        json!({"name": "line", "numbers": ["+15550100400"], "auth_username": "carrier",
               "auth_password": INBOUND_PASSWORD}),
    )
    .await;
    let inbound_id = inbound["data"]["trunk_id"].as_str().unwrap();
    send(
        reqwest::Method::POST,
        format!("{url}/sip/dispatch-rules"),
        &key,
        json!({"name": "r", "trunk_ids": [inbound_id], "rule": {"type": "individual", "room_prefix": "call-"}}),
    )
    .await;
    let before = livekit_state(&source_lk);
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(
        before.iter().any(|s| s.contains(INBOUND_PASSWORD)),
        "LiveKit got the password"
    );
    let exported = send(
        reqwest::Method::GET,
        format!("{url}/config/export"),
        &key,
        json!(null),
    )
    .await;

    let (ok, backup, err) = run(source.path(), &["backup"], &env);
    assert!(ok, "{err}");
    server.stop();
    assert!(!backup.contains(INBOUND_PASSWORD) && !backup.contains("your_auth_token_here"));
    assert!(!backup.contains(&key), "the API key itself is never stored");
    let file = source.path().join("backup.json");
    std::fs::write(&file, &backup).unwrap();

    let target = tempfile::tempdir().unwrap();
    let (pg, database_url) = target_database(target.path());
    let target_lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let mut env = livekit_env(&target_lk);
    env.push(("DATABASE_URL", database_url));
    let file_arg = file.to_str().unwrap();
    let (ok, _, err) = run(target.path(), &["restore", file_arg], &env);
    assert!(ok, "{err}");
    // Only into an empty database.
    let (code, _, refused) = run_status(target.path(), &["restore", file_arg], &env);
    assert_ne!(code, Some(0));
    assert!(
        refused.contains("not empty") && refused.contains("tenants"),
        "{refused}"
    );
    // Not with another master key.
    let other = tempfile::tempdir().unwrap();
    let mut wrong_key = env.clone();
    wrong_key.retain(|(k, _)| *k != "TRUNKLINE_MASTER_KEY" && *k != "DATABASE_URL");
    wrong_key.push((
        "TRUNKLINE_MASTER_KEY",
        "BwECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    ));
    let (code, _, refused) = run_status(other.path(), &["restore", file_arg], &wrong_key);
    assert_ne!(code, Some(0));
    assert!(refused.contains("master key"), "{refused}");

    assert!(target_lk.outbound_trunks().is_empty());
    let restored = serve(target.path(), &env);
    let mut after = Vec::new();
    for _ in 0..200 {
        after = livekit_state(&target_lk);
        if after == before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(after, before);
    // The tenant's key works, and its configuration is the one it exported.
    let again = send(
        reqwest::Method::GET,
        format!("{}/config/export", restored.url),
        &key,
        json!(null),
    )
    .await;
    for kind in [
        "outbound_trunks",
        "inbound_trunks",
        "dispatch_rules",
        "assistants",
    ] {
        assert_eq!(again["data"][kind], exported["data"][kind], "{kind}");
    }
    assert_eq!(
        again["data"]["config_version"],
        exported["data"]["config_version"]
    );
    restored.stop();
    if let Some((admin, name)) = pg {
        psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
    }
    source_lk.shutdown().await;
    target_lk.shutdown().await;
}
