//! Secrets never leave: not in a response, not in a log line, not at rest in clear.

mod support;
use serde_json::json;
use support::log_capture::Captured;
use support::*;

const PASSWORD: &str = "s3cr3t-Tw1l10-T0k3n-do-not-leak";
const EXOTEL_PASSWORD: &str = "exotel-pass-do-not-leak-42";

// One test in this binary: it owns the global log subscriber, at TRACE, so every line any
// layer writes (sqlx, hyper, reqwest, ours) is captured and searched.
#[tokio::test]
async fn secrets_appear_in_no_response_no_log_and_not_in_clear_at_rest() {
    let captured = Captured::install();

    let Env {
        lk,
        _db: db,
        server,
        key,
    } = env().await;
    let mut bodies = Vec::new();

    let mut twilio = seed_twilio();
    twilio["trunk_config"]["password"] = json!(PASSWORD);
    let (s, b) = server
        .post("/sip/create-outbound-trunk", &key, &twilio)
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["data"]["trunk_id"].as_str().unwrap().to_owned();
    bodies.push(b);
    let exotel = json!({"trunk_name": "e", "trunk_type": "exotel",
        "trunk_config": {"exotel_number": "+918044319240", "auth_username": "u", "auth_password": EXOTEL_PASSWORD}});
    bodies.push(
        server
            .post("/sip/create-outbound-trunk", &key, &exotel)
            .await
            .1,
    );
    bodies.push(server.get("/sip/list", &key).await.1);
    bodies.push(server.get(&format!("/sip/trunks/{id}"), &key).await.1);
    // Error paths: a rejected password, LiveKit refusing, an invalid body carrying the secret.
    let mut bad = twilio.clone();
    bad["trunk_config"]["password"] = json!(format!("{PASSWORD}\n"));
    bodies.push(
        server
            .post("/sip/create-outbound-trunk", &key, &bad)
            .await
            .1,
    );
    lk.fail_next("invalid_argument", "trunk rejected");
    bodies.push(
        server
            .post("/sip/create-outbound-trunk", &key, &twilio)
            .await
            .1,
    );
    let patch = json!({"trunk_config": {"password": format!("{PASSWORD}-2")}});
    bodies.push(
        server
            .send(
                "PATCH",
                &format!("/sip/trunks/{id}"),
                Some(&key),
                Some(&patch.to_string()),
            )
            .await
            .1,
    );
    // The API key itself, sent wrong.
    bodies.push(server.get("/sip/list", &format!("{key}x")).await.1);

    // LiveKit did receive the password: the secret is sealed, not lost.
    let lk_trunk = lk
        .outbound_trunks()
        .into_iter()
        .find(|t| t.auth_password.starts_with(PASSWORD))
        .expect("provisioned");
    assert_eq!(lk_trunk.auth_password, format!("{PASSWORD}-2"));

    for b in &bodies {
        let text = b.to_string();
        assert!(
            !text.contains(PASSWORD) && !text.contains(EXOTEL_PASSWORD),
            "response leaked a secret: {text}"
        );
    }
    let logs = captured.text();
    assert!(logs.contains("trunk created"), "the log capture works");
    for secret in [PASSWORD, EXOTEL_PASSWORD, &key, LK_SECRET] {
        assert!(!logs.contains(secret), "a log line carries a secret");
    }
    server.stop().await;

    if let Some(file) = db.sqlite_file() {
        let mut at_rest = std::fs::read(&file).unwrap();
        at_rest.extend(std::fs::read(file.with_extension("db-wal")).unwrap_or_default());
        let hay = String::from_utf8_lossy(&at_rest);
        assert!(
            hay.contains("example.pstn.twilio.com"),
            "the file holds the trunks"
        );
        assert!(
            !hay.contains(PASSWORD) && !hay.contains(EXOTEL_PASSWORD) && !hay.contains(&key),
            "a secret is stored in clear"
        );
    }
}
