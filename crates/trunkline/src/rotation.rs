//! `trunkline keys rotate-master`, and the startup check that every sealed secret can be
//! opened.
//!
//! Nothing here may make a secret unreadable, whatever is interrupted where: the next key is
//! on disk before any value depends on it, old keys are kept (a `serve` still running on the
//! old key may seal new values with it until restarted), each re-seal is conditional on the
//! value it replaces (a PATCH saved meanwhile is not undone), and a second run resumes or
//! finishes the first.

use crate::config::{open_store, DbArgs};
use crate::master_key;
use std::collections::BTreeSet;
use trunkline_api::records;
use trunkline_api::sealing::{Keyring, MasterKey};
use trunkline_store::Store;

/// Refuses to serve when some stored secret is sealed under a key this process lacks: every
/// PATCH and reconcile of that trunk would fail later, so say so now.
pub async fn check_keys(store: &Store, keyring: &Keyring) -> Result<(), String> {
    let records = store.all_trunk_secrets().await.map_err(|e| e.to_string())?;
    let unknown: BTreeSet<String> = records
        .iter()
        .flat_map(|r| records::sealed_key_ids(&r.secrets))
        .filter(|kid| !keyring.knows(kid))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "stored trunk secrets are sealed with master key {} which is not configured (this process has {}). \
         Set TRUNKLINE_MASTER_KEY (or TRUNKLINE_MASTER_KEY_PREVIOUS) to it, or restore the master.key file it came from",
        unknown.into_iter().collect::<Vec<_>>().join(", "),
        keyring.current_id()
    ))
}

/// Re-seals every value not yet under the current key. Returns how many trunks changed.
async fn reseal_all(store: &Store, keyring: &Keyring) -> Result<usize, String> {
    let mut changed = 0;
    for _attempt in 0..10 {
        let records = store.all_trunk_secrets().await.map_err(|e| e.to_string())?;
        let stale: Vec<_> = records
            .into_iter()
            .filter(|r| {
                records::sealed_key_ids(&r.secrets)
                    .iter()
                    .any(|k| k != keyring.current_id())
            })
            .collect();
        if stale.is_empty() {
            return Ok(changed);
        }
        for r in stale {
            let resealed = records::reseal(keyring, &r.id, &r.secrets)?;
            if store
                .replace_trunk_secrets(&r.id, &r.secrets, &resealed)
                .await
                .map_err(|e| e.to_string())?
            {
                changed += 1;
            } // else: changed meanwhile; the next round reads it again
        }
    }
    Err("secrets kept changing while re-sealing; run rotate-master again".into())
}

pub async fn rotate_master(db: DbArgs) -> Result<(), String> {
    let store = open_store(&db).await?;
    if db
        .master_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty())
    {
        let keyring = master_key::load(&db)?;
        let n = reseal_all(&store, &keyring).await?;
        println!(
            "Re-sealed the secrets of {n} trunks under master key {}.",
            keyring.current_id()
        );
        println!(
            "Keep the old key in TRUNKLINE_MASTER_KEY_PREVIOUS until every `trunkline serve` runs with the new key, \
             then run rotate-master once more: when it re-seals 0 trunks, the old key is no longer needed."
        );
        return Ok(());
    }
    let files =
        master_key::files(&db).ok_or("set TRUNKLINE_MASTER_KEY (PostgreSQL has no key file)")?;
    let known = master_key::load(&db)?; // creates master.key on a fresh install
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
        "Re-sealed the secrets of {n} trunks under the new master key {} ({}).",
        keyring.current_id(),
        files.current.display()
    );
    println!(
        "Restart `trunkline serve` to seal with it. Old keys stay in {} so nothing sealed by a running server is lost.",
        files.previous.display()
    );
    Ok(())
}
