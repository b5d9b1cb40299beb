//! The binary as a new user meets it: `serve` → `keys create` → curl-like requests,
//! revocation while serving, master-key handling and rotation.

mod support;
use support::*;

#[tokio::test]
async fn keys_create_prints_the_key_alone_on_the_last_line_and_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("TRUNKLINE_AUTH_CACHE_MS", "0".into())]);
    assert!(
        dir.path().join("trunkline-data/trunkline.db").exists(),
        "default SQLite file"
    );
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    assert!(key.starts_with("tlk_") && !key.contains(' '), "{key}");
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
    let server = serve(dir.path(), &[]);
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    let http = http();
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
    let server = serve(dir.path(), &[]);
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    let http = http();
    let id = create_trunk(&http, &server.url, &key).await;
    server.stop();
    // What a crash after writing the next key (and perhaps re-sealing) leaves behind.
    let next = dir.path().join("trunkline-data/master.key.next");
    let next_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    std::fs::write(&next, next_key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
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
    let http = http();
    let mut body = seed_twilio();
    body["trunk_config"]["address"] = "10.0.0.5:5060".into();
    let mut key = None;
    for (allow, want) in [("false", 400), ("true", 200)] {
        let server = serve(
            dir.path(),
            &[("TRUNKLINE_ALLOW_PRIVATE_TARGETS", allow.into())],
        );
        let key = key.get_or_insert_with(|| create_key(dir.path(), "lab@acme.test", &[]));
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

/// POSTs `body` (if any) and answers `data`, asserting a 200.
async fn post_data(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut req = http.post(format!("{url}{path}")).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{path}: {json}");
    json["data"].clone()
}

#[tokio::test]
async fn rotate_master_reseals_inbound_trunk_and_webhook_secrets() {
    use trunkline_core::calls::webhooks_out::secret_aad;
    use trunkline_core::sealing::{Keyring, MasterKey};
    const INBOUND_PASSWORD: &str = "inbound-rotation-Pa55";

    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    let http = http();
    // No outbound trunk: only the sealed values added with inbound trunks and calls exist,
    // so both the re-seal and the startup check below are about them alone.
    let inbound = post_data(
        &http,
        &server.url,
        &key,
        "/sip/inbound-trunks",
        Some(
            serde_json::json!({"name": "Carrier", "numbers": ["+15550100000"],
            "auth_username": "carrier", "auth_password": INBOUND_PASSWORD}),
        ),
    )
    .await["trunk_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = post_data(
        &http,
        &server.url,
        &key,
        "/assistants",
        Some(
            serde_json::json!({"name": "Sales", "agent_name": "outbound-caller",
            "end_call_webhook_url": "https://hooks.example.com/end"}),
        ),
    )
    .await["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // A secret rotation keeps the first secret as `previous_sealed`: both must survive.
    let second = post_data(&http, &server.url, &key, "/webhooks/secret", None).await
        ["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    server.stop();

    let data = dir.path().join("trunkline-data");
    let old_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let (ok, out, err) = run(dir.path(), &["keys", "rotate-master"], &[]);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 trunks, 1 inbound trunks and 1 webhook signing secrets"),
        "{out}"
    );
    // The previous key removed: only the new one remains anywhere.
    std::fs::remove_file(data.join("master.key.previous")).unwrap();
    let new_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert_ne!(new_key, old_key);

    // Every value opens with the new key alone, and is the one the API handed out.
    let store =
        trunkline_store::Store::open(&format!("sqlite://{}", data.join("trunkline.db").display()))
            .await
            .unwrap();
    let keyring = Keyring::new(MasterKey::from_base64(new_key.trim()).unwrap(), vec![]);
    let secrets = store.all_webhook_secrets().await.unwrap();
    assert_eq!(secrets.len(), 1);
    let aad = secret_aad(&secrets[0].tenant_id);
    assert_eq!(keyring.open(&aad, &secrets[0].sealed).unwrap(), second);
    let previous = secrets[0].previous_sealed.as_deref().expect("kept");
    assert_eq!(keyring.open(&aad, previous).unwrap(), first);
    let row = store
        .inbound_trunks()
        .live(&inbound)
        .await
        .unwrap()
        .unwrap();
    let raw = trunkline_core::provisioning::inbound::current_raw(&keyring, &row).unwrap();
    assert_eq!(raw["auth_password"], INBOUND_PASSWORD);
    store.close().await;

    // The server starts on the new key alone, and a PATCH (which opens the password) works.
    let server = serve(dir.path(), &[]);
    let resp = http
        .patch(format!("{}/sip/inbound-trunks/{inbound}", server.url))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "Carrier renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.stop();

    // Given only the old key, the server refuses to start: the inbound trunk's and the
    // webhook secrets need the new one.
    let err = serve_refused(
        dir.path(),
        &[("TRUNKLINE_MASTER_KEY", old_key.trim().to_owned())],
    );
    assert!(err.contains("is not configured"), "{err}");
}
