//! Inbound trunks as stored and as LiveKit holds them: the non-secret configuration as JSON,
//! the password sealed; the (number, caller) pairs LiveKit's conflict check counts, and the
//! 409s a conflict gives. Their provisioning plug-in is `kinds/inbound.rs`.

use crate::sealing::Keyring;
use crate::ServiceError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use trunkline_domain::inbound::{InboundTrunkConfig, RawInboundTrunk};
use trunkline_domain::{MediaEncryption, ValidationErrors};
use trunkline_livekit::proto;
use trunkline_store::{ClaimConflict, InboundTrunkRow, NumberClaim, RuleRef};

pub(crate) fn aad(trunk_id: &str, field: &str) -> String {
    format!("inbound_trunk:{trunk_id}:{field}")
}

/// The stored (public) configuration: the client's snake_case fields, normalized, without
/// the password.
pub fn public_json(c: &InboundTrunkConfig) -> Value {
    json!({
        "numbers": c.numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        "allowed_addresses": c.allowed_addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "allowed_numbers": c.allowed_numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        "auth_username": c.auth_username,
        "krisp_enabled": c.krisp_enabled,
        "ringing_timeout": c.ringing_timeout_secs,
        "max_call_duration": c.max_call_duration_secs,
        "media_encryption": c.media_encryption.as_str(),
    })
}

/// The stored JSON of a configuration, and its sealed secrets.
pub fn seal(keyring: &Keyring, trunk_id: &str, c: &InboundTrunkConfig) -> (String, String) {
    let sealed: BTreeMap<&str, String> = c
        .auth_password
        .iter()
        .map(|p| {
            (
                "auth_password",
                keyring.seal(&aad(trunk_id, "auth_password"), p.expose()),
            )
        })
        .collect();
    (
        public_json(c).to_string(),
        serde_json::to_string(&sealed).expect("map serializes"),
    )
}

/// Re-seals a row's secrets under the keyring's current key (master-key rotation).
pub fn reseal(keyring: &Keyring, trunk_id: &str, secrets_json: &str) -> Result<String, String> {
    crate::records::reseal_fields(
        keyring,
        &format!("inbound trunk {trunk_id}"),
        secrets_json,
        |field| aad(trunk_id, field),
    )
}

pub fn stored_public(row: &InboundTrunkRow) -> Result<Map<String, Value>, ServiceError> {
    match serde_json::from_str(&row.config) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ServiceError::internal(format!(
            "inbound trunk {} config unreadable",
            row.id
        ))),
    }
}

/// Whether the row holds a sealed password (without opening it).
pub fn has_password(row: &InboundTrunkRow) -> bool {
    serde_json::from_str::<BTreeMap<String, String>>(&row.secrets)
        .is_ok_and(|m| m.contains_key("auth_password"))
}

/// The stored configuration in the raw shape a client sends, the password unsealed (in
/// memory only): the base a PATCH is applied to.
pub fn current_raw(
    keyring: &Keyring,
    row: &InboundTrunkRow,
) -> Result<Map<String, Value>, ServiceError> {
    let mut m = stored_public(row)?;
    let sealed: BTreeMap<String, String> = serde_json::from_str(&row.secrets).map_err(|e| {
        ServiceError::internal(format!("inbound trunk {} secrets unreadable: {e}", row.id))
    })?;
    if let Some(v) = sealed.get("auth_password") {
        let plain = keyring
            .open(&aad(&row.id, "auth_password"), v)
            .map_err(|e| ServiceError::internal(format!("inbound trunk {}: {e}", row.id)))?;
        m.insert("auth_password".into(), Value::String(plain));
    }
    m.insert("name".into(), Value::String(row.name.clone()));
    // Nulls read back as absent, as a client leaving the field out.
    m.retain(|_, v| !v.is_null());
    Ok(m)
}

/// The full configuration of a stored row.
pub fn open(keyring: &Keyring, row: &InboundTrunkRow) -> Result<InboundTrunkConfig, ServiceError> {
    let raw: RawInboundTrunk = serde_json::from_value(Value::Object(current_raw(keyring, row)?))
        .map_err(|e| ServiceError::internal(format!("inbound trunk {}: {e}", row.id)))?;
    raw.validate().map(|(_, c)| c).map_err(|e| {
        ServiceError::internal(format!(
            "inbound trunk {} stored config invalid: {e}",
            row.id
        ))
    })
}

/// The (number, caller) pairs a trunk answers for, as LiveKit's conflict check sees them.
pub fn claims(c: &InboundTrunkConfig) -> Vec<NumberClaim> {
    let or_any = |v: Vec<String>| if v.is_empty() { vec![String::new()] } else { v };
    let numbers = or_any(c.numbers.iter().map(|n| n.as_str().to_owned()).collect());
    let callers = or_any(
        c.allowed_numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
    );
    let mut out = Vec::with_capacity(numbers.len() * callers.len());
    for n in &numbers {
        for caller in &callers {
            out.push(NumberClaim {
                number: n.clone(),
                caller: caller.clone(),
            });
        }
    }
    out
}

/// At most this many (number, caller) pairs per trunk: each is a row and a check.
pub const MAX_CLAIMS: usize = 1000;

/// Refuses a configuration with more pairs than [`MAX_CLAIMS`], naming the field.
pub fn check_size(c: &InboundTrunkConfig) -> Result<(), ServiceError> {
    let n = c.numbers.len().max(1) * c.allowed_numbers.len().max(1);
    if n > MAX_CLAIMS {
        let mut e = ValidationErrors::default();
        e.push(
            "allowed_numbers",
            format!("numbers × allowed_numbers must make at most {MAX_CLAIMS} pairs; got {n}"),
        );
        return Err(e.into());
    }
    Ok(())
}

/// A 409 for a refused claim. Another account's trunk is never named, nor whether it exists
/// beyond the fact that the number is taken.
pub fn conflict(c: ClaimConflict) -> ServiceError {
    ServiceError::Conflict(match c {
        ClaimConflict::OtherTenant { claim } if claim.number.is_empty() => {
            "Another account already has an inbound trunk without numbers that accepts the same callers, and LiveKit allows only one such trunk per project: list the numbers this trunk serves (numbers), or restrict its callers (allowed_numbers)".to_owned()
        }
        ClaimConflict::OtherTenant { claim } => format!(
            "The number {} is in use by another account and cannot be added to this trunk",
            claim.number
        ),
        ClaimConflict::SameTenant {
            trunk_id,
            trunk_name,
            claim,
        } => {
            let which = if claim.number.is_empty() {
                "is, like this one, an inbound trunk without numbers".to_owned()
            } else {
                format!("already serves the number {}", claim.number)
            };
            let callers = if claim.caller.is_empty() {
                "and neither trunk sets allowed_numbers".to_owned()
            } else {
                format!("for callers including {}", claim.caller)
            };
            format!(
                "Your inbound trunk {trunk_id} (\"{trunk_name}\") {which} {callers}, so LiveKit could not tell which trunk a call belongs to: give the trunks different allowed_numbers (the callers each accepts), or change that trunk instead"
            )
        }
    })
}

pub fn in_use(r: RuleRef) -> ServiceError {
    ServiceError::Conflict(format!(
        "This inbound trunk is used by dispatch rule {} (\"{}\"): remove it from that rule's trunk_ids, or delete the rule, first",
        r.rule_id, r.rule_name
    ))
}

fn encryption(m: MediaEncryption) -> proto::SipMediaEncryption {
    match m {
        MediaEncryption::Disabled => proto::SipMediaEncryption::SipMediaEncryptDisable,
        MediaEncryption::Allowed => proto::SipMediaEncryption::SipMediaEncryptAllow,
        MediaEncryption::Required => proto::SipMediaEncryption::SipMediaEncryptRequire,
    }
}

/// LiveKit's copy of a trunk; its metadata names our id, like an outbound trunk's.
#[allow(deprecated)] // media_encryption: set beside `media` for LiveKit servers that predate it
pub fn livekit_trunk(
    trunk_id: &str,
    name: &str,
    c: &InboundTrunkConfig,
) -> proto::SipInboundTrunkInfo {
    let strings = |v: &[trunkline_domain::E164]| v.iter().map(|n| n.as_str().to_owned()).collect();
    let mut info = proto::SipInboundTrunkInfo {
        name: name.to_owned(),
        metadata: super::livekit_info::metadata(trunk_id),
        numbers: strings(&c.numbers),
        allowed_addresses: c.allowed_addresses.iter().map(|a| a.to_string()).collect(),
        allowed_numbers: strings(&c.allowed_numbers),
        auth_username: c.auth_username.clone().unwrap_or_default(),
        auth_password: c
            .auth_password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default(),
        krisp_enabled: c.krisp_enabled,
        ringing_timeout: c.ringing_timeout_secs.map(|_| Default::default()),
        max_call_duration: c.max_call_duration_secs.map(|_| Default::default()),
        media_encryption: encryption(c.media_encryption) as i32,
        media: Some(proto::SipMediaConfig {
            encryption: Some(encryption(c.media_encryption) as i32),
            ..Default::default()
        }),
        ..Default::default()
    };
    // protobuf Durations; the type is livekit-protocol's own, so fill in the fields.
    if let (Some(d), Some(s)) = (info.ringing_timeout.as_mut(), c.ringing_timeout_secs) {
        d.seconds = s as i64;
    }
    if let (Some(d), Some(s)) = (info.max_call_duration.as_mut(), c.max_call_duration_secs) {
        d.seconds = s as i64;
    }
    info
}

/// The trunkline id a LiveKit inbound trunk's metadata names, if it is one of ours.
pub fn owner(info: &proto::SipInboundTrunkInfo) -> Option<String> {
    let v: Value = serde_json::from_str(&info.metadata).ok()?;
    v.get("trunkline_trunk_id")?.as_str().map(str::to_owned)
}
