//! The binary as a new user meets it: `keys create` → `serve` → curl-like requests, revocation
//! while serving, master-key handling and rotation.

mod support;
use support::*;

#[tokio::test]
async fn keys_create_prints_the_key_alone_on_the_last_line_and_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    assert!(key.starts_with("tlk_") && !key.contains(' '), "{key}");
    assert!(
        dir.path().join("trunkline-data/trunkline.db").exists(),
        "default SQLite file"
    );
    let server = serve(dir.path(), &[("TRUNKLINE_AUTH_CACHE_MS", "0".into())]);
    let key_file = dir.path().join("trunkline-data/master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(server
        .log
        .lock()
        .unwrap()
        .contains("generated a master key"));
    let http = http();
    let resp = http
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .bearer_auth(&key)
        .json(&seed_twilio())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // `keys list` shows a prefix, never the key; works while the server runs.
    let (ok, list, _) = run(dir.path(), &["keys", "list"], &[]);
    assert!(ok);
    assert!(
        list.contains("ops@acme.test") && list.contains(&key[..12]) && !list.contains(&key),
        "{list}"
    );
    let key_id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (ok, _, err) = run(dir.path(), &["keys", "revoke", &key_id], &[]);
    assert!(ok, "{err}");
    let resp = http
        .get(format!("{}/sip/list", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a revoked key is refused");
    let (ok, _, err) = run(dir.path(), &["keys", "revoke", &key_id], &[]);
    assert!(!ok && err.contains("no active API key"), "{err}");

    let log = server.stop();
    assert!(!log.contains(&key), "the API key reached the log");
    assert!(
        !log.contains("your_auth_token_here"),
        "a trunk password reached the log"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    type Env = Vec<(&'static str, String)>;
    let cases: Vec<(&[&str], Env, &str)> = vec![
        (
            &["keys", "create", "--name", "x", "--email", "not-an-email"],
            vec![],
            "--email",
        ),
        (
            &["keys", "create", "--name", " ", "--email", "a@b.co"],
            vec![],
            "--name",
        ),
        (
            &["keys", "list"],
            vec![("DATABASE_URL", "mysql://x".into())],
            "sqlite:",
        ),
        (
            &["serve"],
            vec![(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/test".into(),
            )],
            "TRUNKLINE_MASTER_KEY is required with PostgreSQL",
        ),
        (
            &["serve"],
            vec![("LIVEKIT_URL", "http://127.0.0.1:1".into())],
            "LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
        ),
        (
            &["serve"],
            vec![("TRUNKLINE_MASTER_KEY", "c2hvcnQ=".into())],
            "32 bytes",
        ),
    ];
    for (args, envs, needle) in cases {
        let (ok, _, err) = run(dir.path(), args, &envs);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

async fn create_trunk(http: &reqwest::Client, url: &str, key: &str) -> String {
    let resp = http
        .post(format!("{url}/sip/create-outbound-trunk"))
        .bearer_auth(key)
        .json(&seed_twilio())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let json: serde_json::Value = resp.json().await.unwrap();
    json["data"]["trunk_id"].as_str().unwrap().to_owned()
}

async fn patch_status(http: &reqwest::Client, url: &str, key: &str, id: &str) -> u16 {
    http.patch(format!("{url}/sip/trunks/{id}"))
        .bearer_auth(key)
        .json(&serde_json::json!({"trunk_name": "renamed"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn rotate_master_while_serving_loses_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    let http = http();
    let server = serve(dir.path(), &[]);
    let before_rotation = create_trunk(&http, &server.url, &key).await;

    let key_file = dir.path().join("trunkline-data/master.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let (ok, out, err) = run(dir.path(), &["keys", "rotate-master"], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("Re-sealed the secrets of 1 trunks"), "{out}");
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key);
    assert!(!dir.path().join("trunkline-data/master.key.next").exists());

    // The server still runs on the old key and seals with it.
    let during_rotation = create_trunk(&http, &server.url, &key).await;
    server.stop();

    // Restarted on the key files, it opens both: nothing was lost.
    let server = serve(dir.path(), &[]);
    assert_eq!(
        patch_status(&http, &server.url, &key, &before_rotation).await,
        200
    );
    assert_eq!(
        patch_status(&http, &server.url, &key, &during_rotation).await,
        200
    );
    server.stop();

    // A second rotation re-seals the straggler; running it twice is harmless.
    let (ok, out, _) = run(dir.path(), &["keys", "rotate-master"], &[]);
    assert!(ok && out.contains("of 2 trunks"), "{out}");

    // Given only the old key, the server refuses to start and names the key it lacks.
    let (ok, _, err) = run(
        dir.path(),
        &["serve"],
        &[("TRUNKLINE_MASTER_KEY", old_key.trim().to_owned())],
    );
    assert!(!ok);
    assert!(err.contains("is not configured"), "{err}");
}

#[tokio::test]
async fn an_interrupted_rotation_is_resumed_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    let http = http();
    let server = serve(dir.path(), &[]);
    let id = create_trunk(&http, &server.url, &key).await;
    server.stop();
    // What a crash after writing the next key (and perhaps re-sealing) leaves behind.
    let next = dir.path().join("trunkline-data/master.key.next");
    let next_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    std::fs::write(&next, next_key).unwrap();
    let (ok, _, err) = run(dir.path(), &["keys", "rotate-master"], &[]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("trunkline-data/master.key"))
            .unwrap()
            .trim(),
        next_key
    );
    let server = serve(dir.path(), &[]);
    assert_eq!(patch_status(&http, &server.url, &key, &id).await, 200);
    server.stop();
}

#[tokio::test]
async fn private_targets_are_refused_unless_the_operator_allows_them() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "lab@acme.test", &[]);
    let http = http();
    let mut body = seed_twilio();
    body["trunk_config"]["address"] = "10.0.0.5:5060".into();
    for (allow, want) in [("false", 400), ("true", 200)] {
        let server = serve(
            dir.path(),
            &[("TRUNKLINE_ALLOW_PRIVATE_TARGETS", allow.into())],
        );
        let resp = http
            .post(format!("{}/sip/create-outbound-trunk", server.url))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "allow={allow}");
        server.stop();
    }
}
