//! What master-key rotation relies on, on each database: every sealed webhook secret can be
//! listed, a re-sealed value replaces it only if it is still the value read (a secret rotated
//! meanwhile is not undone), and an inbound trunk's secrets re-seal under a new key.

mod support;
use serde_json::json;
use support::*;
use trunkline_core::calls::webhooks_out::secret_aad;
use trunkline_core::provisioning::inbound;
use trunkline_core::sealing::{Keyring, MasterKey};

const NEXT_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn keyring() -> Keyring {
    Keyring::new(MasterKey::from_base64(MASTER_KEY).unwrap(), vec![])
}

#[tokio::test]
async fn webhook_secrets_are_replaced_only_if_unchanged_since_read() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, json) = server.post("/webhooks/secret", &key, &json!({})).await;
    assert_eq!(status, 200, "{json}");
    let first = json["data"]["webhook_secret"].as_str().unwrap().to_owned();

    let listed = server.store.all_webhook_secrets().await.unwrap();
    assert_eq!(listed.len(), 1);
    let read = listed[0].clone();
    assert_eq!(read.previous_sealed, None);
    let aad = secret_aad(&read.tenant_id);
    assert_eq!(keyring().open(&aad, &read.sealed).unwrap(), first);

    let next = keyring().rotated_to(MasterKey::from_base64(NEXT_KEY).unwrap());
    let resealed = next.seal(&aad, &first);
    let mut stale = read.clone();
    stale.sealed = next.seal(&aad, "not what is stored");
    assert!(!server
        .store
        .replace_webhook_secrets(&stale, &resealed, None)
        .await
        .unwrap());
    assert!(server
        .store
        .replace_webhook_secrets(&read, &resealed, None)
        .await
        .unwrap());

    // A secret rotation lands after the read: the old record no longer matches, so the
    // rotation's new secret is kept.
    let read = server.store.all_webhook_secrets().await.unwrap().remove(0);
    let (status, json) = server.post("/webhooks/secret", &key, &json!({})).await;
    assert_eq!(status, 200, "{json}");
    let second = json["data"]["webhook_secret"].as_str().unwrap().to_owned();
    assert!(!server
        .store
        .replace_webhook_secrets(&read, &resealed, None)
        .await
        .unwrap());
    let now = server.store.all_webhook_secrets().await.unwrap().remove(0);
    assert_eq!(next.open(&aad, &now.sealed).unwrap(), second);
    let previous = now.previous_sealed.clone().expect("the replaced secret");
    assert_eq!(next.open(&aad, &previous).unwrap(), first);

    // With the current record, both values are replaced, and open under the new key alone.
    let only_next = Keyring::new(MasterKey::from_base64(NEXT_KEY).unwrap(), vec![]);
    let sealed = next.seal(&aad, &second);
    let prev = next.seal(&aad, &first);
    assert!(server
        .store
        .replace_webhook_secrets(&now, &sealed, Some(&prev))
        .await
        .unwrap());
    let after = server.store.all_webhook_secrets().await.unwrap().remove(0);
    assert_eq!(only_next.open(&aad, &after.sealed).unwrap(), second);
    assert_eq!(
        only_next
            .open(&aad, after.previous_sealed.as_deref().unwrap())
            .unwrap(),
        first
    );
    server.stop().await;
}

#[tokio::test]
async fn inbound_trunk_secrets_reseal_under_a_new_key() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, json) = server
        .post(
            "/sip/inbound-trunks",
            &key,
            &json!({"name": "c", "numbers": ["+15550100000"],
                    "auth_username": "u", "auth_password": "reseal-me-Pa55"}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let id = json["data"]["trunk_id"].as_str().unwrap();
    let record = server
        .store
        .inbound_trunks()
        .all_secrets()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    let next = keyring().rotated_to(MasterKey::from_base64(NEXT_KEY).unwrap());
    let resealed = inbound::reseal(&next, id, &record.secrets).unwrap();
    assert!(server
        .store
        .inbound_trunks()
        .replace_secrets(id, &record.secrets, &resealed)
        .await
        .unwrap());
    assert!(
        !server
            .store
            .inbound_trunks()
            .replace_secrets(id, &record.secrets, &resealed)
            .await
            .unwrap(),
        "conditional on the value read"
    );
    let only_next = Keyring::new(MasterKey::from_base64(NEXT_KEY).unwrap(), vec![]);
    let row = server
        .store
        .inbound_trunks()
        .live(id)
        .await
        .unwrap()
        .unwrap();
    let raw = inbound::current_raw(&only_next, &row).unwrap();
    assert_eq!(raw["auth_password"], "reseal-me-Pa55");
    assert!(
        inbound::current_raw(&keyring(), &row).is_err(),
        "the old key alone no longer opens it"
    );
    server.stop().await;
}
