//! `trunkline backup > FILE` and `trunkline restore FILE`: every tenant's configuration, its
//! secrets still sealed under the master key, and its restore into an empty database. The
//! master key is not in the backup: keep `master.key` (or TRUNKLINE_MASTER_KEY) with it.

use crate::database::{open_existing_store, open_store};
use crate::failure::Failure;
use crate::master_key;
use crate::settings::DbArgs;
use serde_json::Value;
use trunkline_core::sealing::Keyring;

pub async fn backup(db: DbArgs) -> Result<(), Failure> {
    let store = open_existing_store(&db).await?;
    let doc = store
        .backup()
        .await
        .map_err(|e| format!("cannot read the database: {e}"))?;
    store.close().await;
    let mut text = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    text.push(b'\n');
    crate::client::write_stdout(&text);
    Ok(())
}

/// Refuses a backup whose sealed trunk secrets the configured master key cannot open: the
/// restored service could use none of them.
fn check_key(keyring: &Keyring, doc: &Value) -> Result<(), Failure> {
    for row in doc["tables"]["trunks"].as_array().into_iter().flatten() {
        let (Some(id), Some(secrets)) = (row["id"].as_str(), row["secrets"].as_str()) else {
            continue;
        };
        trunkline_core::records::reseal(keyring, id, secrets).map_err(|e| {
            Failure::Runtime(format!(
                "the master key does not open this backup's secrets ({e}): restore with the \
                 master key of the service that took it (its master.key beside the new \
                 database, or TRUNKLINE_MASTER_KEY)"
            ))
        })?;
    }
    Ok(())
}

pub async fn restore(db: DbArgs, file: std::path::PathBuf) -> Result<(), Failure> {
    let text = std::fs::read(&file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| {
        Failure::Usage(format!(
            "{} is not a trunkline backup (not JSON: {e})",
            file.display()
        ))
    })?;
    let keyring = master_key::load_existing(&db)?;
    check_key(&keyring, &doc)?;
    let store = open_store(&db).await?;
    let restored = store.restore(&doc).await;
    store.close().await;
    let rows = restored.map_err(|e| Failure::Runtime(format!("restore refused: {e}")))?;
    eprintln!(
        "restored {rows} rows from {}; start `trunkline serve` on this database: its reconciler provisions LiveKit from them",
        file.display()
    );
    Ok(())
}
