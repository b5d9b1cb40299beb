//! Every input rule, through the HTTP API: a 400 whose message and `data.errors` name the
//! field and the rule, and nothing stored.

mod support;
use serde_json::{json, Value};
use support::*;

fn with_config(kind: &str, config: Value) -> Value {
    json!({ "trunk_name": "t", "trunk_type": kind, "trunk_config": config })
}

fn twilio(overrides: Value) -> Value {
    let mut config = seed_twilio()["trunk_config"].clone();
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            config.as_object_mut().unwrap().remove(k);
        } else {
            config[k] = v.clone();
        }
    }
    with_config("twilio", config)
}

fn error_fields(body: &Value) -> Vec<String> {
    body["data"]["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn each_invalid_body_is_a_400_naming_the_field() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let long_name = "x".repeat(101);
    // (body, fields that must be named)
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["trunk_name", "trunk_type", "trunk_config"]),
        (
            json!({"trunk_name": "   ", "trunk_type": "twilio", "trunk_config": seed_twilio()["trunk_config"]}),
            vec!["trunk_name"],
        ),
        (
            json!({"trunk_name": long_name, "trunk_type": "twilio", "trunk_config": seed_twilio()["trunk_config"]}),
            vec!["trunk_name"],
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "vonage", "trunk_config": {}}),
            vec!["trunk_type"],
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "Twilio", "trunk_config": {}}),
            vec!["trunk_type"],
        ),
        (
            json!({"trunk_name": 5, "trunk_type": "twilio", "trunk_config": {}}),
            vec!["trunk_name"],
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "twilio", "trunk_config": "x"}),
            vec!["trunk_config"],
        ),
        (
            json!({"trunk_name": "t", "trunk_type": "twilio", "trunk_config": seed_twilio()["trunk_config"], "extra": 1}),
            vec!["extra"],
        ),
        (
            twilio(json!({"address": null})),
            vec!["trunk_config.address"],
        ),
        (
            twilio(json!({"address": "sip:user@example.pstn.twilio.com"})),
            vec!["trunk_config.address"],
        ),
        (
            twilio(json!({"address": "example.pstn.twilio.com;transport=tcp"})),
            vec!["trunk_config.address"],
        ),
        (
            twilio(json!({"address": "example.pstn.twilio.com/x"})),
            vec!["trunk_config.address"],
        ),
        (
            twilio(json!({"address": "exa mple.com"})),
            vec!["trunk_config.address"],
        ),
        (
            twilio(json!({"address": "example.com:70000"})),
            vec!["trunk_config.address"],
        ),
        (twilio(json!({"numbers": []})), vec!["trunk_config.numbers"]),
        (
            twilio(json!({"numbers": null})),
            vec!["trunk_config.numbers"],
        ),
        (
            twilio(json!({"numbers": ["5550100000"]})),
            vec!["trunk_config.numbers[0]"],
        ),
        (
            twilio(json!({"numbers": ["+15550100000", "+1 555 0100"]})),
            vec!["trunk_config.numbers[1]"],
        ),
        (
            twilio(json!({"numbers": ["+0123"]})),
            vec!["trunk_config.numbers[0]"],
        ),
        (
            twilio(json!({"numbers": ["+1234567890123456"]})),
            vec!["trunk_config.numbers[0]"],
        ),
        (
            twilio(json!({"numbers": [15550100000u64]})),
            vec!["trunk_config.numbers[0]"],
        ),
        (
            twilio(json!({"numbers": "+15550100000"})),
            vec!["trunk_config.numbers"],
        ),
        (
            twilio(json!({"username": null, "password": null})),
            vec!["trunk_config.username", "trunk_config.password"],
        ),
        (
            twilio(json!({"password": null})),
            vec!["trunk_config.password"],
        ),
        (
            twilio(json!({"username": ""})),
            vec!["trunk_config.username"],
        ),
        (
            twilio(json!({"password": "x".repeat(129)})),
            vec!["trunk_config.password"],
        ),
        (
            twilio(json!({"transport": "sctp"})),
            vec!["trunk_config.transport"],
        ),
        (
            twilio(json!({"media_encryption": "yes"})),
            vec!["trunk_config.media_encryption"],
        ),
        (
            twilio(json!({"exotel_number": "+918044319240"})),
            vec!["trunk_config.exotel_number"],
        ),
        (
            with_config("exotel", seed_twilio()["trunk_config"].clone()),
            vec!["trunk_config.address"],
        ),
        (
            with_config("exotel", json!({})),
            vec!["trunk_config.exotel_number"],
        ),
        (
            with_config("exotel", json!({"exotel_number": "8044319240"})),
            vec!["trunk_config.exotel_number"],
        ),
        (
            with_config(
                "exotel",
                json!({"exotel_number": "+918044319240", "sip_port": 0}),
            ),
            vec!["trunk_config.sip_port"],
        ),
        (
            with_config(
                "exotel",
                json!({"exotel_number": "+918044319240", "sip_port": 65536}),
            ),
            vec!["trunk_config.sip_port"],
        ),
        (
            with_config(
                "exotel",
                json!({"exotel_number": "+918044319240", "sip_port": "5070"}),
            ),
            vec!["trunk_config.sip_port"],
        ),
        (
            with_config(
                "exotel",
                json!({"exotel_number": "+918044319240", "sip_host": "bad host"}),
            ),
            vec!["trunk_config.sip_host"],
        ),
        (
            with_config(
                "exotel",
                json!({"exotel_number": "+918044319240", "sip_domain": "-x.com"}),
            ),
            vec!["trunk_config.sip_domain"],
        ),
        (
            with_config(
                "exotel",
                json!({"exotel_number": "+918044319240", "auth_username": "u"}),
            ),
            vec!["trunk_config.auth_password"],
        ),
        (
            with_config(
                "telnyx",
                json!({"address": "sip.telnyx.com", "numbers": [], "username": "u"}),
            ),
            vec!["trunk_config.numbers", "trunk_config.password"],
        ),
    ];
    for (body, want) in cases {
        let (status, json) = server.post("/sip/create-outbound-trunk", &key, &body).await;
        assert_eq!(status, 400, "{body} -> {json}");
        assert_eq!(json["success"], false);
        let got = error_fields(&json);
        for field in &want {
            assert!(
                got.iter().any(|g| g == field),
                "{body}: expected {field} in {got:?} ({json})"
            );
            assert!(
                json["message"].as_str().unwrap().contains(field),
                "message must name {field}: {json}"
            );
        }
    }
    assert!(
        server.list_ids(&key).await.is_empty(),
        "a rejected request stored something"
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_never_500() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let huge = format!("{{\"trunk_name\": \"{}\"}}", "x".repeat(100_000));
    for (body, status) in [
        ("", 400),
        ("{", 400),
        ("not json", 400),
        ("[]", 400),
        ("null", 400),
        ("{\"trunk_name\": \"t\"} trailing", 400),
        ("{\"trunk_name\": \"\\ud800\"}", 400),
        (huge.as_str(), 413),
    ] {
        let (got, json) = server
            .send("POST", "/sip/create-outbound-trunk", Some(&key), Some(body))
            .await;
        assert_eq!(got, status, "{body:.40} -> {json}");
        assert_eq!(json["success"], false);
    }
    // A non-JSON content type is refused with a message saying what to send.
    let resp = server
        .http
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(seed_twilio().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let json: Value = resp.json().await.unwrap();
    assert!(json["message"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    assert!(server.list_ids(&key).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn normalization_is_visible_in_the_details() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let body = twilio(json!({
        "address": "SIP:Example.PSTN.twilio.com:5060",
        "numbers": ["+15550100000", "+15550100001", "+15550100000"],
        "transport": "tls",
        "media_encryption": "required"
    }));
    let id = server.create(&key, &body).await;
    let (status, json) = server.get(&format!("/sip/trunks/{id}"), &key).await;
    assert_eq!(status, 200, "{json}");
    let cfg = &json["data"]["trunk_config"];
    assert_eq!(cfg["address"], "example.pstn.twilio.com:5060");
    assert_eq!(cfg["numbers"], json!(["+15550100000", "+15550100001"]));
    assert_eq!(cfg["transport"], "tls");
    assert_eq!(cfg["media_encryption"], "required");

    let ex = with_config(
        "exotel",
        json!({"exotel_number": "08044319240", "sip_port": 5070}),
    );
    let id = server.create(&key, &ex).await;
    let (_, json) = server.get(&format!("/sip/trunks/{id}"), &key).await;
    assert_eq!(
        json["data"]["trunk_config"]["exotel_number"],
        "+918044319240"
    );
    assert_eq!(json["data"]["trunk_config"]["sip_port"], 5070);
    server.stop().await;
}

#[tokio::test]
async fn telnyx_and_sip_trunks_take_the_twilio_shape_with_optional_credentials() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    for kind in ["telnyx", "sip"] {
        let body = with_config(
            kind,
            json!({"address": "sip.example.net", "numbers": ["+442071838750"]}),
        );
        let id = server.create(&key, &body).await;
        let (_, json) = server.get(&format!("/sip/trunks/{id}"), &key).await;
        assert_eq!(json["data"]["trunk_type"], kind);
        assert_eq!(json["data"]["trunk_config"]["password_set"], false);
    }
    server.stop().await;
}

#[tokio::test]
async fn trunks_cannot_target_the_operators_own_network() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    for address in [
        "127.0.0.1",
        "10.0.0.5:5060",
        "169.254.169.254",
        "[::1]:5060",
        "localhost",
        "sip:192.168.1.10",
    ] {
        let (status, json) = server
            .post(
                "/sip/create-outbound-trunk",
                &key,
                &twilio(json!({"address": address})),
            )
            .await;
        assert_eq!(status, 400, "{address}: {json}");
        assert_eq!(
            error_fields(&json),
            vec!["trunk_config.address"],
            "{address}"
        );
    }
    let ex = with_config(
        "exotel",
        json!({"exotel_number": "+918044319240", "sip_host": "172.16.5.4"}),
    );
    let (status, json) = server.post("/sip/create-outbound-trunk", &key, &ex).await;
    assert_eq!(
        (status, error_fields(&json)),
        (400, vec!["trunk_config.sip_host".to_owned()])
    );

    let id = server.create(&key, &seed_twilio()).await;
    let patch = json!({"trunk_config": {"address": "10.0.0.1"}});
    let (status, _) = server
        .send(
            "PATCH",
            &format!("/sip/trunks/{id}"),
            Some(&key),
            Some(&patch.to_string()),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(server.list_ids(&key).await, vec![id]);
    server.stop().await;
}
