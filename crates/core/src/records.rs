//! Between stored rows and domain values: the public config is JSON, secrets are sealed one
//! by one with the trunk id and field name as associated data.

use crate::sealing::Keyring;
use crate::ServiceError;
use std::collections::BTreeMap;
use trunkline_domain::trunk::PublicConfig;
use trunkline_domain::{Secret, TrunkConfig, TrunkType};
use trunkline_store::OutboundTrunkRow;

pub(crate) fn aad(trunk_id: &str, field: &str) -> String {
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

pub fn outbound_trunk_type(row: &OutboundTrunkRow) -> Result<TrunkType, ServiceError> {
    TrunkType::parse("trunk_type", &row.trunk_type).map_err(|_| {
        ServiceError::internal(format!("trunk {} has unknown type in the database", row.id))
    })
}

pub fn public_config(row: &OutboundTrunkRow) -> Result<PublicConfig, ServiceError> {
    serde_json::from_str(&row.config)
        .map_err(|e| ServiceError::internal(format!("trunk {} config unreadable: {e}", row.id)))
}

/// The full configuration, secrets unsealed (in memory only, for LiveKit and for PATCH).
pub fn open(keyring: &Keyring, row: &OutboundTrunkRow) -> Result<TrunkConfig, ServiceError> {
    let kind = outbound_trunk_type(row)?;
    let public = public_config(row)?;
    let sealed: BTreeMap<String, String> = serde_json::from_str(&row.secrets)
        .map_err(|e| ServiceError::internal(format!("trunk {} secrets unreadable: {e}", row.id)))?;
    let mut opened = BTreeMap::new();
    for (field, value) in &sealed {
        let plain = keyring
            .open(&aad(&row.id, field), value)
            .map_err(|e| ServiceError::internal(format!("trunk {} field {field}: {e}", row.id)))?;
        opened.insert(field.clone(), plain);
    }
    TrunkConfig::from_stored(kind, &public, |f| opened.get(f).cloned().map(Secret::new))
        .map_err(|e| ServiceError::internal(format!("trunk {} stored config invalid: {e}", row.id)))
}

/// The digest password LiveKit uses toward trunkline's SIP bridge for an Exotel trunk:
/// generated per trunk, sealed beside the trunk's own secrets, never shown to anyone.
pub const BRIDGE_PASSWORD: &str = "bridge_password";

/// `secrets_json` with `field` sealed to `value` (added or replaced).
pub fn with_sealed_field(
    keyring: &Keyring,
    trunk_id: &str,
    secrets_json: &str,
    field: &str,
    value: &str,
) -> String {
    let mut sealed: BTreeMap<String, String> =
        serde_json::from_str(secrets_json).unwrap_or_default();
    sealed.insert(field.to_owned(), keyring.seal(&aad(trunk_id, field), value));
    serde_json::to_string(&sealed).expect("map serializes")
}

/// `new_json` where each secret whose value is the one `old_json` sealed keeps its old
/// sealed form (each seal draws a new nonce): an unchanged secret stays byte for byte the
/// same at rest, which is how the audit tells a secret kept from one changed.
pub fn keep_unchanged_sealed(
    keyring: &Keyring,
    old_json: &str,
    new_json: &str,
    aad: impl Fn(&str) -> String,
) -> String {
    let old: BTreeMap<String, String> = serde_json::from_str(old_json).unwrap_or_default();
    let mut new: BTreeMap<String, String> = serde_json::from_str(new_json).unwrap_or_default();
    for (field, sealed) in new.iter_mut() {
        let Some(old_sealed) = old.get(field) else {
            continue;
        };
        let open = |s: &str| keyring.open(&aad(field), s).ok();
        if let (Some(was), Some(now)) = (open(old_sealed), open(sealed)) {
            if was == now {
                sealed.clone_from(old_sealed);
            }
        }
    }
    serde_json::to_string(&new).expect("map serializes")
}

/// `new_json` with `field` copied, still sealed, from `old_json` (same trunk, so the sealed
/// value's associated data still matches), if it had one.
pub fn carry_sealed_field(old_json: &str, new_json: &str, field: &str) -> String {
    let old: BTreeMap<String, String> = serde_json::from_str(old_json).unwrap_or_default();
    let mut new: BTreeMap<String, String> = serde_json::from_str(new_json).unwrap_or_default();
    if let Some(v) = old.get(field) {
        new.insert(field.to_owned(), v.clone());
    }
    serde_json::to_string(&new).expect("map serializes")
}

/// One sealed field of a row, opened; `None` when the row has none.
pub fn open_field(
    keyring: &Keyring,
    trunk_id: &str,
    secrets_json: &str,
    field: &str,
) -> Result<Option<String>, ServiceError> {
    let sealed: BTreeMap<String, String> = serde_json::from_str(secrets_json)
        .map_err(|e| ServiceError::internal(format!("trunk {trunk_id} secrets unreadable: {e}")))?;
    sealed
        .get(field)
        .map(|v| {
            keyring
                .open(&aad(trunk_id, field), v)
                .map_err(|e| ServiceError::internal(format!("trunk {trunk_id} field {field}: {e}")))
        })
        .transpose()
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
    reseal_fields(
        keyring,
        &format!("trunk {trunk_id}"),
        secrets_json,
        |field| aad(trunk_id, field),
    )
}

/// Re-seals every field of a secrets map (`{"field": sealed}`) under the keyring's current
/// key, each with the associated data `aad(field)` it was sealed with. `what` names the row
/// in errors.
pub fn reseal_fields(
    keyring: &Keyring,
    what: &str,
    secrets_json: &str,
    aad: impl Fn(&str) -> String,
) -> Result<String, String> {
    let sealed: BTreeMap<String, String> = serde_json::from_str(secrets_json)
        .map_err(|e| format!("{what}: secrets unreadable: {e}"))?;
    let mut out = BTreeMap::new();
    for (field, value) in sealed {
        let plain = keyring
            .open(&aad(&field), &value)
            .map_err(|e| format!("{what} field {field}: {e}"))?;
        out.insert(field.clone(), keyring.seal(&aad(&field), &plain));
    }
    Ok(serde_json::to_string(&out).expect("map serializes"))
}
