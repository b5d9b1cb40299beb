//! Provider accounts against the provider doubles: credentials checked with the provider
//! before anything is stored, sealed and never shown, refusals naming the provider's code
//! and message, numbers with the trunks that use them, tenants kept apart. SQLite by default,
//! PostgreSQL with TRUNKLINE_TEST_POSTGRES.

mod support;

use serde_json::{json, Value};
use support::provider_fixture::*;

#[tokio::test]
async fn a_twilio_account_is_checked_with_twilio_sealed_and_never_shown() {
    let e = env().await;
    let (status, json) = e
        .server
        .post("/provider-accounts", &e.key, &twilio_body())
        .await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    let id = d["provider_account_id"].as_str().unwrap();
    assert!(id.starts_with("PA_") && id.len() == 35, "{id}");
    assert_eq!(d["provider"], "twilio");
    assert_eq!(d["name"], "Twilio main");
    assert_eq!(d["account"], "AC…cdef");
    assert_eq!(d["auth_method"], "auth_token");
    assert!(d.get("auth_token").is_none() && d.get("account_sid").is_none());
    assert_no_secret("create response", &json.to_string());
    // The check was one authenticated read of the account itself.
    let asked: Vec<_> = e.providers.twilio.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "GET");
    assert_eq!(asked[0].path, format!("/2010-04-01/Accounts/{TW_SID}.json"));
    assert_eq!(asked[0].status, 200);

    let (status, list) = e.server.get("/provider-accounts", &e.key).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["provider_account_id"], id);
    let (status, shown) = e
        .server
        .get(&format!("/provider-accounts/{id}"), &e.key)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["account"], "AC…cdef");
    assert_no_secret("list", &list.to_string());
    assert_no_secret("show", &shown.to_string());

    // At rest the credentials are sealed.
    if let Some(file) = e.db.sqlite_file() {
        e.server.store.close().await;
        let mut bytes = std::fs::read(&file).unwrap();
        for side in ["-wal", "-shm"] {
            if let Ok(more) = std::fs::read(format!("{}{side}", file.display())) {
                bytes.extend(more);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        assert_no_secret("the database file", &text);
    }
}

#[tokio::test]
async fn exotel_and_telnyx_accounts_are_checked_with_their_providers() {
    let e = env().await;
    let ex = account(&e.server, &e.key, &exotel_body()).await;
    let tx = account(&e.server, &e.key, &telnyx_body()).await;
    assert_ne!(ex, tx);
    let ex_asked = e.providers.exotel.requests();
    assert_eq!(ex_asked.len(), 1, "{ex_asked:?}");
    assert_eq!(ex_asked[0].status, 200);
    let tx_asked = e.providers.telnyx.requests();
    assert_eq!(tx_asked.len(), 1, "{tx_asked:?}");
    assert_eq!(
        (tx_asked[0].path.as_str(), tx_asked[0].status),
        ("/v2/credential_connections", 200)
    );
    let (_, list) = e.server.get("/provider-accounts", &e.key).await;
    let providers: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["exotel", "telnyx"]);
    assert_no_secret("list", &list.to_string());
}

#[tokio::test]
async fn refused_credentials_are_a_400_naming_the_provider_and_its_code_and_nothing_is_stored() {
    let e = env().await;
    let cases = [
        (
            json!({"provider": "twilio", "name": "t", "account_sid": TW_SID, "auth_token": "wrong-token-123456"}),
            "Twilio",
            "20003",
        ),
        (
            json!({"provider": "telnyx", "name": "t", "api_key": "KEYwrongwrongwrong"}),
            "Telnyx",
            "10009",
        ),
        (
            json!({"provider": "exotel", "name": "t", "account_sid": EX_SID, "api_key": EX_KEY,
                   "api_token": "wrong-exotel-token", "subdomain": "api.exotel.com"}),
            "Exotel",
            "",
        ),
    ];
    for (body, provider, code) in cases {
        let (status, json) = e.server.post("/provider-accounts", &e.key, &body).await;
        assert_eq!(status, 400, "{json}");
        let message = json["message"].as_str().unwrap();
        assert!(message.contains(provider), "{message}");
        assert!(message.contains(code), "{message}");
        assert!(message.contains("not stored"), "{message}");
        for field in ["auth_token", "api_key", "api_token"] {
            if let Some(secret) = body[field].as_str() {
                assert!(!json.to_string().contains(secret), "{json}");
            }
        }
    }
    let (_, list) = e.server.get("/provider-accounts", &e.key).await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn bad_input_is_a_400_naming_each_field_and_asks_no_provider() {
    let e = env().await;
    let cases: [(Value, &[&str]); 4] = [
        (json!({"name": "x"}), &["provider"]),
        (
            json!({"provider": "twilio", "name": "x", "account_sid": "AC12", "auth_token": "t"}),
            &["account_sid"],
        ),
        (
            json!({"provider": "twilio", "name": "x", "account_sid": TW_SID}),
            &["auth_token"],
        ),
        (
            json!({"provider": "exotel", "name": "x", "account_sid": EX_SID, "api_key": "k",
                   "api_token": "t", "subdomain": "evil.example.com", "auth_token": "t"}),
            &["auth_token", "subdomain"],
        ),
    ];
    for (body, fields) in cases {
        let (status, json) = e.server.post("/provider-accounts", &e.key, &body).await;
        assert_eq!(status, 400, "{json}");
        let named: Vec<&str> = json["data"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{json}");
    }
    assert!(e.providers.twilio.requests().is_empty());
    assert!(e.providers.exotel.requests().is_empty());
}

#[tokio::test]
async fn a_provider_outage_is_a_503_and_nothing_is_stored() {
    let e = env().await;
    e.providers.twilio.outage().await;
    let (status, json) = e
        .server
        .post("/provider-accounts", &e.key, &twilio_body())
        .await;
    assert_eq!(status, 503, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("Twilio"),
        "{json}"
    );
    e.providers.twilio.resume().await;
    e.providers
        .telnyx
        .push_fault(provider_doubles::Fault::Status(500));
    let (status, json) = e
        .server
        .post("/provider-accounts", &e.key, &telnyx_body())
        .await;
    assert_eq!(status, 503, "{json}");
    let (_, list) = e.server.get("/provider-accounts", &e.key).await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn numbers_are_listed_with_the_trunks_that_use_them() {
    let e = env().await;
    let pn = e.providers.twilio.add_number("+15550100000");
    e.providers.twilio.add_number("+15550100099");
    let id = account(&e.server, &e.key, &twilio_body()).await;
    let trunk = e.server.create(&e.key, &support::seed_twilio()).await;
    let (status, json) = e
        .server
        .get(&format!("/provider-accounts/{id}/numbers"), &e.key)
        .await;
    assert_eq!(status, 200, "{json}");
    let numbers = json["data"].as_array().unwrap();
    assert_eq!(numbers.len(), 2, "{json}");
    let used = numbers
        .iter()
        .find(|n| n["phone_number"] == "+15550100000")
        .unwrap();
    assert_eq!(used["provider_number_id"], pn.as_str());
    assert_eq!(used["trunk_id"], trunk.as_str());
    let free = numbers
        .iter()
        .find(|n| n["phone_number"] == "+15550100099")
        .unwrap();
    assert_eq!(free["trunk_id"], Value::Null);

    let ex = account(&e.server, &e.key, &exotel_body()).await;
    e.providers.exotel.add_exophone("+918044319240");
    let ex_trunk = e.server.create(&e.key, &support::seed_exotel()).await;
    let (status, json) = e
        .server
        .get(&format!("/provider-accounts/{ex}/numbers"), &e.key)
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"][0]["phone_number"], "+918044319240");
    assert_eq!(json["data"][0]["trunk_id"], ex_trunk.as_str());

    let tx = account(&e.server, &e.key, &telnyx_body()).await;
    let tx_id = e.providers.telnyx.add_number("+13125550100");
    let (status, json) = e
        .server
        .get(&format!("/provider-accounts/{tx}/numbers"), &e.key)
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["data"][0]["provider_number_id"], tx_id.as_str());
    assert_eq!(json["data"][0]["trunk_id"], Value::Null);
}

#[tokio::test]
async fn another_tenant_sees_nothing_and_a_delete_forgets_the_account() {
    let e = env().await;
    let id = account(&e.server, &e.key, &twilio_body()).await;
    let other = e.server.tenant("b@example.com").await;
    for (method, path) in [
        ("GET", format!("/provider-accounts/{id}")),
        ("GET", format!("/provider-accounts/{id}/numbers")),
        ("GET", format!("/provider-accounts/{id}/events")),
        ("DELETE", format!("/provider-accounts/{id}")),
    ] {
        let (status, json) = e.server.send(method, &path, Some(&other), None).await;
        assert_eq!(status, 404, "{method} {path}: {json}");
    }
    let (_, list) = e.server.get("/provider-accounts", &other).await;
    assert_eq!(list["data"], json!([]));

    let (status, json) = e
        .server
        .send(
            "DELETE",
            &format!("/provider-accounts/{id}"),
            Some(&e.key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let (status, _) = e
        .server
        .get(&format!("/provider-accounts/{id}"), &e.key)
        .await;
    assert_eq!(status, 404);
    let (status, _) = e
        .server
        .send(
            "DELETE",
            &format!("/provider-accounts/{id}"),
            Some(&e.key),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = e.server.get("/provider-accounts", &e.key).await;
    assert_eq!(list["data"], json!([]));
}
