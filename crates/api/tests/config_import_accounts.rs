//! Provider accounts in a configuration document: exported as markers; imported into the
//! tenant that has them, nothing changes; into another tenant, the import names the
//! credentials it lacks, then creates the account (checked with the Twilio double) when the
//! document holds them, once; credentials the provider refuses leave nothing behind.

mod support;
use serde_json::{json, Value};
use support::provider_fixture::*;

async fn export(e: &Env, key: &str) -> Value {
    let (st, j) = e.server.get("/config/export", key).await;
    assert_eq!(st, 200, "{j}");
    j["data"].clone()
}

async fn import(e: &Env, key: &str, doc: &Value, dry: bool) -> (u16, Value) {
    let path = format!("/config/import?dry_run={dry}");
    e.server
        .send("POST", &path, Some(key), Some(&doc.to_string()))
        .await
}

async fn accounts(e: &Env, key: &str) -> Vec<Value> {
    let (st, j) = e.server.get("/provider-accounts", key).await;
    assert_eq!(st, 200, "{j}");
    j["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn provider_accounts_import_with_their_credentials_or_name_them() {
    let e = env().await;
    let pa = account(&e.server, &e.key, &twilio_body()).await;
    let doc = export(&e, &e.key).await;
    let listed = &doc["provider_accounts"][0];
    assert_eq!(listed["id"], pa.as_str());
    assert_eq!(listed["credentials"], json!({"kept": true}));
    assert_no_secret("the export", &doc.to_string());

    // Its own tenant: the account is there, nothing to do.
    let (st, j) = import(&e, &e.key, &doc, false).await;
    assert_eq!(st, 200, "{j}");
    assert_eq!(j["data"]["plan"], json!([]), "{j}");
    assert_eq!(j["data"]["skipped_provider_accounts"], json!([pa]));

    // Another tenant: the credentials are named, by the dry run and by the import.
    let other = e.server.tenant("b@example.com").await;
    let (st, j) = import(&e, &other, &doc, true).await;
    assert_eq!(st, 200, "{j}");
    assert_eq!(
        j["data"]["missing_secrets"],
        json!([{"object_kind": "provider_account", "source_id": pa, "field": "credentials"}])
    );
    assert_eq!(j["data"]["plan"][0]["action"], "create");
    assert_eq!(
        j["data"]["plan"][0]["fields"],
        json!(["provider", "name", "credentials"])
    );
    let (st, j) = import(&e, &other, &doc, false).await;
    assert_eq!(st, 400, "{j}");
    assert_eq!(
        j["data"]["errors"][0]["field"],
        format!("provider_accounts[{pa}].credentials")
    );
    assert!(accounts(&e, &other).await.is_empty());

    // Credentials Twilio refuses: the provider's answer, nothing made.
    let mut with = doc.clone();
    with["provider_accounts"][0]["credentials"] =
        json!({"account_sid": TW_SID, "auth_token": "wrong-token-0123456789abcdef"});
    let (st, j) = import(&e, &other, &with, false).await;
    assert_eq!(st, 400, "{j}");
    assert!(!j.to_string().contains("wrong-token"), "{j}");
    assert!(accounts(&e, &other).await.is_empty());

    // The right ones: the account is made, once.
    with["provider_accounts"][0]["credentials"]["auth_token"] = json!(TW_TOKEN);
    let (st, j) = import(&e, &other, &with, false).await;
    assert_eq!(st, 200, "{j}");
    assert_no_secret("the import's answer", &j.to_string());
    assert_eq!(j["data"]["copy"], true);
    assert_eq!(j["data"]["skipped_provider_accounts"], json!([]));
    let made = accounts(&e, &other).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["name"], "Twilio main");
    assert_eq!(made[0]["auth_method"], "auth_token");
    assert_ne!(made[0]["provider_account_id"], pa.as_str());
    let (st, j) = import(&e, &other, &with, false).await;
    assert_eq!(st, 200, "{j}");
    assert_eq!(j["data"]["plan"], json!([]), "{j}");
    assert_eq!(accounts(&e, &other).await.len(), 1);
    // Nothing of the first tenant changed.
    assert_eq!(accounts(&e, &e.key).await.len(), 1);
}
