//! Between stored rows and domain values: the public config is JSON, secrets are sealed one
//! by one with the trunk id and field name as associated data.

use crate::error::ApiError;
use crate::sealing::Keyring;
use std::collections::BTreeMap;
use trunkline_domain::trunk::PublicConfig;
use trunkline_domain::{Secret, TrunkConfig, TrunkType};
use trunkline_store::TrunkRow;

fn aad(trunk_id: &str, field: &str) -> String {
    format!("trunk:{trunk_id}:{field}")
}

/// The stored JSON of a configuration's public part, and its sealed secrets.
pub fn seal(keyring: &Keyring, trunk_id: &str, config: &TrunkConfig) -> (String, String) {
    let public = serde_json::to_string(&config.public()).expect("public config serializes");
    let sealed: BTreeMap<&str, String> = config
        .secrets()
        .into_iter()
        .map(|(field, secret)| (field, keyring.seal(&aad(trunk_id, field), secret.expose())))
        .collect();
    (
        public,
        serde_json::to_string(&sealed).expect("map serializes"),
    )
}

pub fn trunk_type(row: &TrunkRow) -> Result<TrunkType, ApiError> {
    TrunkType::parse("trunk_type", &row.trunk_type).map_err(|_| {
        ApiError::internal(format!("trunk {} has unknown type in the database", row.id))
    })
}

pub fn public_config(row: &TrunkRow) -> Result<PublicConfig, ApiError> {
    serde_json::from_str(&row.config)
        .map_err(|e| ApiError::internal(format!("trunk {} config unreadable: {e}", row.id)))
}

/// The full configuration, secrets unsealed (in memory only, for LiveKit and for PATCH).
pub fn open(keyring: &Keyring, row: &TrunkRow) -> Result<TrunkConfig, ApiError> {
    let kind = trunk_type(row)?;
    let public = public_config(row)?;
    let sealed: BTreeMap<String, String> = serde_json::from_str(&row.secrets)
        .map_err(|e| ApiError::internal(format!("trunk {} secrets unreadable: {e}", row.id)))?;
    let mut opened = BTreeMap::new();
    for (field, value) in &sealed {
        let plain = keyring
            .open(&aad(&row.id, field), value)
            .map_err(|e| ApiError::internal(format!("trunk {} field {field}: {e}", row.id)))?;
        opened.insert(field.clone(), plain);
    }
    TrunkConfig::from_stored(kind, &public, |f| opened.get(f).cloned().map(Secret::new))
        .map_err(|e| ApiError::internal(format!("trunk {} stored config invalid: {e}", row.id)))
}

/// The ids of the master keys a row's secrets are sealed with.
pub fn sealed_key_ids(secrets_json: &str) -> Vec<String> {
    let sealed: BTreeMap<String, String> = serde_json::from_str(secrets_json).unwrap_or_default();
    sealed
        .values()
        .filter_map(|v| Keyring::key_id_of(v).map(str::to_owned))
        .collect()
}

/// Re-seals every secret of a row under the keyring's current key.
pub fn reseal(keyring: &Keyring, trunk_id: &str, secrets_json: &str) -> Result<String, String> {
    let sealed: BTreeMap<String, String> = serde_json::from_str(secrets_json)
        .map_err(|e| format!("trunk {trunk_id}: secrets unreadable: {e}"))?;
    let mut out = BTreeMap::new();
    for (field, value) in sealed {
        let plain = keyring
            .open(&aad(trunk_id, &field), &value)
            .map_err(|e| format!("trunk {trunk_id} field {field}: {e}"))?;
        out.insert(field.clone(), keyring.seal(&aad(trunk_id, &field), &plain));
    }
    Ok(serde_json::to_string(&out).expect("map serializes"))
}
