//! `trunkline keys rotate-master`, and the startup check that every sealed secret can be
//! opened: trunk and inbound trunk secrets, provider account credentials, and each tenant's
//! webhook signing secrets (the current one and the one a secret rotation keeps for its
//! overlap).
//!
//! Nothing here may make a secret unreadable, whatever is interrupted where: the next key is
//! on disk before any value depends on it, old keys are kept (a `serve` still running on the
//! old key may seal new values with it until restarted), each re-seal is conditional on the
//! value it replaces (a PATCH saved meanwhile is not undone), and a second run resumes or
//! finishes the first.

use crate::database::open_existing_store;
use crate::master_key;
use crate::settings::DbArgs;
#[cfg(feature = "api")]
use std::collections::BTreeSet;
use trunkline_core::calls::webhooks_out::secret_aad;
use trunkline_core::provisioning::inbound;
use trunkline_core::records;
use trunkline_core::sealing::{Keyring, MasterKey};
use trunkline_store::{Store, WebhookSecretRecord};

/// The ids of the keys a tenant's webhook secrets are sealed with.
fn webhook_key_ids(w: &WebhookSecretRecord) -> Vec<String> {
    std::iter::once(&w.sealed)
        .chain(&w.previous_sealed)
        .filter_map(|v| Keyring::key_id_of(v).map(str::to_owned))
        .collect()
}

/// The ids of the keys every sealed value in the database is sealed with: trunk and inbound
/// trunk secrets, and the webhook signing secrets (current and previous).
#[cfg(feature = "api")]
async fn stored_key_ids(store: &Store) -> Result<BTreeSet<String>, String> {
    let e = |e: trunkline_store::StoreError| e.to_string();
    let mut ids = BTreeSet::new();
    for r in store.outbound_trunks().all_secrets().await.map_err(e)? {
        ids.extend(records::sealed_key_ids(&r.secrets));
    }
    for r in store.inbound_trunks().all_secrets().await.map_err(e)? {
        ids.extend(records::sealed_key_ids(&r.secrets));
    }
    for r in store.provider_trunks().all_secrets().await.map_err(e)? {
        ids.extend(records::sealed_key_ids(&r.secrets));
    }
    for w in store.all_webhook_secrets().await.map_err(e)? {
        ids.extend(webhook_key_ids(&w));
    }
    for (_, sealed) in store.all_provider_credentials().await.map_err(e)? {
        ids.extend(Keyring::key_id_of(&sealed).map(str::to_owned));
    }
    Ok(ids)
}

/// Refuses to serve when some stored secret is sealed under a key this process lacks: every
/// PATCH and reconcile of that trunk, or webhook signed with that secret, would fail later,
/// so say so now.
#[cfg(feature = "api")]
pub async fn check_keys(store: &Store, keyring: &Keyring) -> Result<(), String> {
    let unknown: Vec<String> = stored_key_ids(store)
        .await?
        .into_iter()
        .filter(|kid| !keyring.knows(kid))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "stored secrets (trunk passwords, webhook signing secrets) are sealed with master key {} which is not configured (this process has {}). \
         Set TRUNKLINE_MASTER_KEY (or TRUNKLINE_MASTER_KEY_PREVIOUS) to it, or restore the master.key file it came from",
        unknown.join(", "),
        keyring.current_id()
    ))
}

/// How many rows of each kind a rotation re-sealed.
#[derive(Debug, Default)]
struct Resealed {
    trunks: usize,
    inbound_trunks: usize,
    webhook_secrets: usize,
    provider_accounts: usize,
}

impl std::fmt::Display for Resealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the secrets of {} trunks, {} inbound trunks and {} webhook signing secrets, and the credentials of {} provider accounts",
            self.trunks, self.inbound_trunks, self.webhook_secrets, self.provider_accounts
        )
    }
}

/// One round over every sealed value: re-seals those not under the current key, each write
/// conditional on the value read. Returns whether any was found stale (a lost race leaves it
/// for the next round).
async fn reseal_round(
    store: &Store,
    keyring: &Keyring,
    done: &mut Resealed,
) -> Result<bool, String> {
    let e = |e: trunkline_store::StoreError| e.to_string();
    let stale = |ids: Vec<String>| ids.iter().any(|k| k != keyring.current_id());
    let mut found = false;
    for r in store.outbound_trunks().all_secrets().await.map_err(e)? {
        if stale(records::sealed_key_ids(&r.secrets)) {
            found = true;
            let resealed = records::reseal(keyring, &r.id, &r.secrets)?;
            if store
                .outbound_trunks()
                .replace_secrets(&r.id, &r.secrets, &resealed)
                .await
                .map_err(e)?
            {
                done.trunks += 1;
            }
        }
    }
    for r in store.inbound_trunks().all_secrets().await.map_err(e)? {
        if stale(records::sealed_key_ids(&r.secrets)) {
            found = true;
            let resealed = inbound::reseal(keyring, &r.id, &r.secrets)?;
            if store
                .inbound_trunks()
                .replace_secrets(&r.id, &r.secrets, &resealed)
                .await
                .map_err(e)?
            {
                done.inbound_trunks += 1;
            }
        }
    }
    for r in store.provider_trunks().all_secrets().await.map_err(e)? {
        // Sealed the way trunk secrets are (per field, the row id in the associated data).
        if stale(records::sealed_key_ids(&r.secrets)) {
            found = true;
            let resealed = records::reseal(keyring, &r.id, &r.secrets)?;
            if store
                .provider_trunks()
                .replace_secrets(&r.id, &r.secrets, &resealed)
                .await
                .map_err(e)?
            {
                done.trunks += 1;
            }
        }
    }
    for w in store.all_webhook_secrets().await.map_err(e)? {
        if stale(webhook_key_ids(&w)) {
            found = true;
            let aad = secret_aad(&w.tenant_id);
            let reseal = |sealed: &str| {
                keyring
                    .open(&aad, sealed)
                    .map(|plain| keyring.seal(&aad, &plain))
                    .map_err(|err| format!("webhook secret of tenant {}: {err}", w.tenant_id))
            };
            let sealed = reseal(&w.sealed)?;
            let previous = w.previous_sealed.as_deref().map(reseal).transpose()?;
            if store
                .replace_webhook_secrets(&w, &sealed, previous.as_deref())
                .await
                .map_err(e)?
            {
                done.webhook_secrets += 1;
            }
        }
    }
    for (id, sealed) in store.all_provider_credentials().await.map_err(e)? {
        if stale(
            Keyring::key_id_of(&sealed)
                .map(str::to_owned)
                .into_iter()
                .collect(),
        ) {
            found = true;
            let aad = trunkline_core::provider_accounts::credentials_aad(&id);
            let resealed = keyring
                .open(&aad, &sealed)
                .map(|plain| keyring.seal(&aad, &plain))
                .map_err(|err| format!("credentials of provider account {id}: {err}"))?;
            if store
                .replace_provider_credentials(&id, &sealed, &resealed)
                .await
                .map_err(e)?
            {
                done.provider_accounts += 1;
            }
        }
    }
    Ok(found)
}

/// Re-seals every value not yet under the current key.
async fn reseal_all(store: &Store, keyring: &Keyring) -> Result<Resealed, String> {
    let mut done = Resealed::default();
    for _attempt in 0..10 {
        if !reseal_round(store, keyring, &mut done).await? {
            return Ok(done);
        }
    }
    Err("secrets kept changing while re-sealing; run rotate-master again".into())
}

pub async fn rotate_master(db: DbArgs) -> Result<(), String> {
    let store = open_existing_store(&db).await?;
    if db
        .master_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty())
    {
        let keyring = master_key::load_existing(&db)?;
        let n = reseal_all(&store, &keyring).await?;
        println!("Re-sealed {n} under master key {}.", keyring.current_id());
        println!(
            "Keep the old key in TRUNKLINE_MASTER_KEY_PREVIOUS until every `trunkline serve` runs with the new key, \
             then run rotate-master once more: when it re-seals nothing (0 of each), the old key is no longer needed."
        );
        return Ok(());
    }
    let files =
        master_key::files(&db).ok_or("set TRUNKLINE_MASTER_KEY (PostgreSQL has no key file)")?;
    let known = master_key::load_existing(&db)?;
    let current = std::fs::read_to_string(&files.current)
        .map_err(|e| format!("cannot read {}: {e}", files.current.display()))?;
    // Resume an interrupted rotation rather than start a second one over it.
    let next = match std::fs::read_to_string(&files.next) {
        Ok(existing) => existing.trim().to_owned(),
        Err(_) => {
            let fresh = MasterKey::generate_base64();
            master_key::write_key(&files.next, &fresh)?;
            fresh
        }
    };
    let next_key =
        MasterKey::from_base64(&next).map_err(|e| format!("{}: {e}", files.next.display()))?;
    let keyring = known.rotated_to(next_key);
    let n = reseal_all(&store, &keyring).await?;
    // Keep the old key: a server still running with it may seal values until restarted.
    master_key::remember_previous(&files.previous, current.trim())?;
    std::fs::rename(&files.next, &files.current)
        .map_err(|e| format!("cannot replace {}: {e}", files.current.display()))?;
    println!(
        "Re-sealed {n} under the new master key {} ({}).",
        keyring.current_id(),
        files.current.display()
    );
    println!(
        "Restart `trunkline serve` to seal with it. Old keys stay in {} so nothing sealed by a running server is lost.",
        files.previous.display()
    );
    Ok(())
}
