//! Inbound trunks: stored like outbound trunks (non-secret configuration as JSON, the
//! password sealed), provisioned the same way (row first as `pending`, then LiveKit, then
//! confirm), with LiveKit's number-conflict rule checked in the database first.

use super::Provisioner;
use crate::sealing::Keyring;
use crate::ServiceError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use trunkline_domain::inbound::{InboundTrunkConfig, RawInboundTrunk};
use trunkline_domain::{MediaEncryption, TrunkId, ValidationErrors};
use trunkline_livekit::{proto, ErrorKind};
use trunkline_store::Status;
use trunkline_store::{now_micros, ClaimConflict, InboundTrunkRow, NumberClaim, RuleRef};

fn aad(trunk_id: &str, field: &str) -> String {
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

/// A create as it was left.
pub struct CreatedInbound {
    pub id: String,
}

fn too_slow() -> ServiceError {
    ServiceError::Unavailable(
        "LiveKit took too long and the request was abandoned; try again".into(),
    )
}

impl Provisioner {
    /// Stores a new inbound trunk (with its number claims) as `pending`, creates it in
    /// LiveKit, then confirms it. Without LiveKit it is stored as `unprovisioned`.
    pub async fn create_inbound(
        &self,
        tenant_id: &str,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> Result<CreatedInbound, ServiceError> {
        check_size(config)?;
        let id = TrunkId::generate().to_string();
        let (public, secrets) = seal(&self.keyring, &id, config);
        let now = now_micros();
        let awaiting_approval = !self.unapproved_numbers(tenant_id, config).await?.is_empty();
        let initial = if awaiting_approval {
            Status::AwaitingApproval
        } else if self.livekit.is_some() {
            Status::Pending
        } else {
            Status::Unprovisioned
        };
        let row = InboundTrunkRow {
            id: id.clone(),
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            config: public,
            secrets,
            status: initial.to_owned(),
            livekit_trunk_id: None,
            desired_version: 1,
            synced_version: 0,
            last_error: None,
            synced_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_inbound_trunk(&row, &claims(config))
            .await?
            .map_err(conflict)?;
        let Some(lk) = self.livekit.as_ref().filter(|_| !awaiting_approval) else {
            return Ok(CreatedInbound { id });
        };
        match lk
            .create_inbound_trunk(livekit_trunk(&id, name, config))
            .await
        {
            Ok(info) => match self
                .store
                .inbound_trunks()
                .confirm(&id, Some(&info.sip_trunk_id), Status::Provisioned)
                .await
            {
                Ok(true) => {
                    self.resync_every_trunk_rules(tenant_id).await;
                    Ok(CreatedInbound { id })
                }
                outcome => {
                    let _ = lk.delete_trunk(&info.sip_trunk_id).await;
                    let _ = self
                        .store
                        .inbound_trunks()
                        .abandon_pending(tenant_id, &id)
                        .await;
                    Err(match outcome {
                        Err(e) => e.into(),
                        Ok(_) => too_slow(),
                    })
                }
            },
            Err(e) => {
                if e.outcome_unknown() {
                    // LiveKit may hold the trunk after all: remove whatever names this id, so
                    // the number is not left claimed there by a trunk nobody knows about.
                    if let Ok(all) = lk.list_inbound_trunks().await {
                        for t in all.iter().filter(|t| owner(t).as_deref() == Some(&id)) {
                            let _ = lk.delete_trunk(&t.sip_trunk_id).await;
                        }
                    }
                }
                if let Err(err) = self
                    .store
                    .inbound_trunks()
                    .abandon_pending(tenant_id, &id)
                    .await
                {
                    tracing::warn!(trunk_id = %id, error = %err, "could not retire a failed inbound trunk create");
                }
                Err(e.into())
            }
        }
    }

    /// Applies a new configuration: the new numbers are claimed first (a conflict changes
    /// nothing), then LiveKit, then the row; the claims the trunk no longer needs are freed.
    /// If LiveKit fails, the claims go back to what they were and nothing else changed.
    pub async fn update_inbound(
        &self,
        row: &InboundTrunkRow,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> Result<(), ServiceError> {
        check_size(config)?;
        let old_claims = claims(&open(&self.keyring, row)?);
        let new_claims = claims(config);
        self.store
            .reserve_inbound_claims(&row.tenant_id, &row.id, &new_claims)
            .await?
            .map_err(conflict)?;
        let (public, secrets) = seal(&self.keyring, &row.id, config);
        if !self
            .unapproved_numbers(&row.tenant_id, config)
            .await?
            .is_empty()
        {
            return self
                .update_awaiting_approval(row, name, &public, &secrets, &new_claims)
                .await;
        }
        let pushed = match &self.livekit {
            Some(lk) => {
                let info = livekit_trunk(&row.id, name, config);
                let result = match &row.livekit_trunk_id {
                    Some(lk_id) => match lk.replace_inbound_trunk(lk_id, info.clone()).await {
                        Err(e) if e.kind() == ErrorKind::NotFound => {
                            lk.create_inbound_trunk(info).await
                        }
                        other => other,
                    },
                    None => lk.create_inbound_trunk(info).await,
                };
                match result {
                    Ok(info) => Some(info.sip_trunk_id),
                    Err(e) => {
                        self.store
                            .settle_inbound_claims(&row.tenant_id, &row.id, &old_claims)
                            .await?;
                        return Err(e.into());
                    }
                }
            }
            None => None,
        };
        let saved = self
            .store
            .inbound_trunks()
            .update_desired(&row.id, row.desired_version, name, &public, Some(&secrets))
            .await;
        if pushed.is_some() && !matches!(saved, Ok(true)) {
            let _ = self.store.inbound_trunks().mark_unsynced(&row.id).await;
        }
        if !saved? {
            return Err(ServiceError::Conflict(
                "the inbound trunk was changed by another request at the same time; fetch it and try again".into(),
            ));
        }
        self.store
            .settle_inbound_claims(&row.tenant_id, &row.id, &new_claims)
            .await?;
        if let Some(lk_id) = pushed {
            self.store
                .inbound_trunks()
                .mark_synced(
                    &row.id,
                    row.desired_version + 1,
                    Some(&lk_id),
                    Status::Provisioned,
                )
                .await?;
            if row.livekit_trunk_id.as_deref() != Some(lk_id.as_str()) {
                // Recreated under a new LiveKit id: rules listing the old one must follow.
                self.resync_every_trunk_rules(&row.tenant_id).await;
            }
        }
        Ok(())
    }

    /// Stores a configuration serving a number not approved for the tenant: it waits, and
    /// LiveKit must hold nothing for it meanwhile (its copy, if any, is removed now; if that
    /// fails the reconciler removes it on its next pass).
    async fn update_awaiting_approval(
        &self,
        row: &InboundTrunkRow,
        name: &str,
        public: &str,
        secrets: &str,
        new_claims: &[NumberClaim],
    ) -> Result<(), ServiceError> {
        let saved = self
            .store
            .inbound_trunks()
            .update_desired(&row.id, row.desired_version, name, public, Some(secrets))
            .await?;
        if !saved {
            return Err(ServiceError::Conflict(
                "the inbound trunk was changed by another request at the same time; fetch it and try again".into(),
            ));
        }
        self.store
            .settle_inbound_claims(&row.tenant_id, &row.id, new_claims)
            .await?;
        let removed = match (&self.livekit, &row.livekit_trunk_id) {
            (Some(lk), Some(lk_id)) => match lk.delete_trunk(lk_id).await {
                Ok(()) => true,
                Err(e) if e.kind() == ErrorKind::NotFound => true,
                Err(e) => {
                    tracing::warn!(trunk_id = %row.id, error = %e, "could not remove the LiveKit copy of an inbound trunk awaiting approval; the reconciler will");
                    false
                }
            },
            _ => true,
        };
        if removed {
            self.store
                .inbound_trunks()
                .mark_synced(
                    &row.id,
                    row.desired_version + 1,
                    None,
                    Status::AwaitingApproval,
                )
                .await?;
            if row.livekit_trunk_id.is_some() {
                self.resync_every_trunk_rules(&row.tenant_id).await;
            }
        }
        Ok(())
    }

    /// Removes the LiveKit trunk, then ours (and its number claims). A trunk a dispatch rule
    /// names is refused; LiveKit down changes nothing.
    pub async fn delete_inbound(&self, row: &InboundTrunkRow) -> Result<bool, ServiceError> {
        if let Some(r) = self.store.rule_naming_trunk(&row.id).await? {
            return Err(in_use(r));
        }
        if let Some(lk_id) = &row.livekit_trunk_id {
            match &self.livekit {
                Some(lk) => match lk.delete_trunk(lk_id).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                },
                None => tracing::warn!(
                    trunk_id = %row.id,
                    livekit_trunk_id = %lk_id,
                    "LiveKit is not configured; its copy of this deleted inbound trunk remains there"
                ),
            }
        }
        match self
            .store
            .mark_inbound_deleted(&row.tenant_id, &row.id)
            .await?
        {
            Ok(done) => {
                if done {
                    self.resync_every_trunk_rules(&row.tenant_id).await;
                }
                Ok(done)
            }
            Err(r) => {
                // A rule naming the trunk landed between the check and the delete: LiveKit's
                // copy is gone, so say so on the row and refuse.
                let _ = self.store.inbound_trunks().mark_unsynced(&row.id).await;
                Err(in_use(r))
            }
        }
    }
}
