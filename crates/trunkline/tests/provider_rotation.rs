//! `keys rotate-master` re-seals provider account credentials too, and `serve`'s startup
//! check counts them: a provider account's credentials sealed under the previous key open
//! under the new key alone afterwards.

mod support;

use support::run;
use trunkline_core::provider_accounts::credentials_aad;
use trunkline_core::sealing::{Keyring, MasterKey};
use trunkline_store::{NewApiKey, ProviderAccountRow, Store};

const CREDENTIALS: &str = r#"{"provider":"telnyx","api_key":"KEY-rotation-secret-0123"}"#;

#[tokio::test]
async fn rotate_master_reseals_provider_account_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tl.db", dir.path().display());
    let (old, new) = (MasterKey::generate_base64(), MasterKey::generate_base64());
    let old_ring = Keyring::new(MasterKey::from_base64(&old).unwrap(), vec![]);
    let store = Store::open(&url).await.unwrap();
    let tenant = "TN_00000000000000000000000000000001";
    store
        .create_api_key(NewApiKey {
            key_id: "AK_00000000000000000000000000000001",
            new_tenant_id: tenant,
            email: "ops@example.com",
            name: "t",
            key_hash: "0000",
            prefix: "tlk_0000",
        })
        .await
        .unwrap();
    let id = "PA_00000000000000000000000000000001";
    store
        .insert_provider_account(&ProviderAccountRow {
            id: id.into(),
            tenant_id: tenant.into(),
            provider: "telnyx".into(),
            name: "Telnyx".into(),
            account_hint: "…0123".into(),
            credentials: old_ring.seal(&credentials_aad(id), CREDENTIALS),
            created_at: 1,
        })
        .await
        .unwrap();
    store.close().await;

    // The new key alone does not open what is stored: serve-like commands refuse it...
    let env = |current: &str, previous: Option<&str>| {
        let mut v = vec![
            ("DATABASE_URL", url.clone()),
            ("TRUNKLINE_MASTER_KEY", current.to_owned()),
        ];
        if let Some(p) = previous {
            v.push(("TRUNKLINE_MASTER_KEY_PREVIOUS", p.to_owned()));
        }
        v
    };
    // ...and the rotation with both re-seals it.
    let (ok, out, err) = run(
        dir.path(),
        &["keys", "rotate-master"],
        &env(&new, Some(&old)),
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("the credentials of 1 provider accounts"),
        "{out}"
    );

    let store = Store::open(&url).await.unwrap();
    let stored = store.all_provider_credentials().await.unwrap();
    assert_eq!(stored.len(), 1);
    let new_ring = Keyring::new(MasterKey::from_base64(&new).unwrap(), vec![]);
    assert_eq!(
        new_ring.open(&credentials_aad(id), &stored[0].1).unwrap(),
        CREDENTIALS
    );
    assert!(old_ring.open(&credentials_aad(id), &stored[0].1).is_err());
    store.close().await;
    // A second run finds nothing left to re-seal.
    let (ok, out, err) = run(dir.path(), &["keys", "rotate-master"], &env(&new, None));
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("the credentials of 0 provider accounts"),
        "{out}"
    );
}
