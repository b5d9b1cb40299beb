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

#[tokio::test]
async fn rotate_master_reseals_and_the_server_still_opens_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    let server = serve(dir.path(), &[]);
    let http = http();
    let created: serde_json::Value = http
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .bearer_auth(&key)
        .json(&seed_twilio())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["trunk_id"].as_str().unwrap().to_owned();
    server.stop();

    let key_file = dir.path().join("trunkline-data/master.key");
    let before = std::fs::read_to_string(&key_file).unwrap();
    let (ok, out, err) = run(dir.path(), &["keys", "rotate-master"], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("Re-sealed the secrets of 1 trunks"), "{out}");
    let after = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(before, after);
    assert!(!dir.path().join("trunkline-data/master.key.next").exists());

    // The old key alone can no longer open the secret; the server, on the new file, can.
    let server = serve(dir.path(), &[]);
    let resp = http
        .patch(format!("{}/sip/trunks/{id}", server.url))
        .bearer_auth(&key)
        .json(&serde_json::json!({"trunk_name": "after rotation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    server.stop();
    let server = serve(
        dir.path(),
        &[("TRUNKLINE_MASTER_KEY", before.trim().to_owned())],
    );
    let resp = http
        .patch(format!("{}/sip/trunks/{id}", server.url))
        .bearer_auth(&key)
        .json(&serde_json::json!({"trunk_name": "old key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        500,
        "the secret is sealed under the new key only"
    );
    let log = server.stop();
    assert!(
        log.contains("not configured"),
        "the log says which key is missing: {log}"
    );
}
