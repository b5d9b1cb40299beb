//! Dispatch rules. A rule names trunkline's inbound trunk ids (or none: every inbound trunk
//! of the account); LiveKit gets the LiveKit ids of those trunks. LiveKit applies a rule
//! without trunk ids to every trunk of the project, other accounts' included, so trunkline
//! never sends one: a rule on "every trunk" is sent with the list of the account's trunks,
//! kept current as trunks come and go, and waits (`awaiting_trunk`) while there are none.

use super::{status, Provisioner};
use crate::ServiceError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use trunkline_domain::dispatch::{DispatchRuleConfig, RawDispatchRule, RoomRule};
use trunkline_domain::ids::DispatchRuleId;
use trunkline_domain::ValidationErrors;
use trunkline_livekit::{proto, ErrorKind};
use trunkline_store::Status;
use trunkline_store::{now_micros, DispatchRuleRow, RuleConflict, RuleKey, EVERY_TRUNK};

/// `last_error` of a rule that could not follow a change of the account's inbound trunks.
/// Unlike a refusal by LiveKit, nothing is wrong with the rule itself, so the reconciler
/// retries it.
pub const FOLLOW_FAILED: &str = "LiveKit could not be updated with the account's current inbound trunks; trunkline retries on its next reconcile pass, or PATCH the rule to retry now";

/// A rule waits (`awaiting_trunk`) while it applies to every trunk of an account that has no
/// provisioned inbound trunk, or names a trunk LiveKit does not hold.
pub fn describe(status: Status, livekit_configured: bool) -> &'static str {
    match status {
        Status::AwaitingTrunk => "Stored; LiveKit gets this rule once the inbound trunks it applies to are provisioned (a rule without trunks would apply to every account's calls).",
        Status::Error => "LiveKit refused this rule, or could not be updated when the account's inbound trunks changed; see last_error, then PATCH the rule.",
        other => status::describe(other, livekit_configured),
    }
}

/// The stored configuration, in the snake_case shape a client sends.
pub fn public_json(c: &DispatchRuleConfig) -> Value {
    let rule = match &c.rule {
        RoomRule::Individual {
            room_prefix,
            randomize,
        } => json!({"type": "individual", "room_prefix": room_prefix, "randomize": randomize}),
        RoomRule::Direct { room_name } => json!({"type": "direct", "room_name": room_name}),
        RoomRule::Callee {
            room_prefix,
            randomize,
        } => json!({"type": "callee", "room_prefix": room_prefix, "randomize": randomize}),
    };
    let strings = |v: &[trunkline_domain::E164]| -> Vec<String> {
        v.iter().map(|n| n.as_str().to_owned()).collect()
    };
    json!({
        "rule": rule,
        "pin": c.pin,
        "trunk_ids": c.trunk_ids.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "dialed_numbers": strings(&c.dialed_numbers),
        "caller_numbers": strings(&c.caller_numbers),
        "room_config": {"agents": c.agents.iter().map(|a| json!({"agent_name": a.agent_name, "metadata": a.metadata})).collect::<Vec<_>>()},
        "metadata": c.metadata,
    })
}

pub fn stored_public(row: &DispatchRuleRow) -> Result<Map<String, Value>, ServiceError> {
    match serde_json::from_str(&row.config) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ServiceError::internal(format!(
            "dispatch rule {} config unreadable",
            row.id
        ))),
    }
}

/// The stored rule in the raw shape a client sends (with its name): the base of a PATCH.
pub fn current_raw(row: &DispatchRuleRow) -> Result<Map<String, Value>, ServiceError> {
    let mut m = stored_public(row)?;
    m.insert("name".into(), Value::String(row.name.clone()));
    m.retain(|_, v| !v.is_null());
    Ok(m)
}

pub fn open(row: &DispatchRuleRow) -> Result<DispatchRuleConfig, ServiceError> {
    let raw: RawDispatchRule = serde_json::from_value(Value::Object(current_raw(row)?))
        .map_err(|e| ServiceError::internal(format!("dispatch rule {}: {e}", row.id)))?;
    raw.validate_stored().map(|(_, c)| c).map_err(|e| {
        ServiceError::internal(format!(
            "dispatch rule {} stored config invalid: {e}",
            row.id
        ))
    })
}

/// At most this many (trunk, caller, dialed number) combinations per rule.
pub const MAX_KEYS: usize = 1000;

/// Every combination the rule covers, as LiveKit's conflict check counts them.
pub fn keys(c: &DispatchRuleConfig) -> Result<Vec<RuleKey>, ServiceError> {
    let or_any = |v: Vec<String>, any: &str| {
        if v.is_empty() {
            vec![any.to_owned()]
        } else {
            v
        }
    };
    let trunks = or_any(
        c.trunk_ids.iter().map(|t| t.as_str().to_owned()).collect(),
        EVERY_TRUNK,
    );
    let callers = or_any(
        c.caller_numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
        "",
    );
    let dialed = or_any(
        c.dialed_numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
        "",
    );
    let n = trunks.len() * callers.len() * dialed.len();
    if n > MAX_KEYS {
        let mut e = ValidationErrors::default();
        e.push(
            "dialed_numbers",
            format!("trunk_ids × caller_numbers × dialed_numbers must make at most {MAX_KEYS} combinations; got {n}"),
        );
        return Err(e.into());
    }
    let pin = c.pin.clone().unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    for t in &trunks {
        for caller in &callers {
            for d in &dialed {
                out.push(RuleKey {
                    trunk_id: t.clone(),
                    caller: caller.clone(),
                    dialed: d.clone(),
                    pin: pin.clone(),
                });
            }
        }
    }
    Ok(out)
}

pub fn conflict(c: RuleConflict, c_trunks: &[String]) -> ServiceError {
    match c {
        RuleConflict::Duplicate {
            rule_id, rule_name, ..
        } => ServiceError::Conflict(format!(
            "Your dispatch rule {rule_id} (\"{rule_name}\") already covers the same trunk, caller_numbers, dialed_numbers and pin (a rule without trunk_ids covers every inbound trunk of the account): change the filters or the pin, or change that rule instead"
        )),
        RuleConflict::NoSuchTrunk { trunk_id } => {
            let i = c_trunks.iter().position(|t| *t == trunk_id).unwrap_or(0);
            ServiceError::field(
                format!("trunk_ids[{i}]"),
                format!("{trunk_id} is not an inbound trunk of this account (create one with POST /sip/inbound-trunks)"),
            )
        }
    }
}

/// LiveKit's message says "trunk"; this is a rule.
fn livekit_refusal(e: trunkline_livekit::LiveKitError) -> ServiceError {
    match ServiceError::from(e) {
        ServiceError::BadRequest(message) => ServiceError::BadRequest(message.replacen(
            "LiveKit rejected the trunk",
            "LiveKit rejected the dispatch rule",
            1,
        )),
        other => other,
    }
}

/// The attribute marking a LiveKit rule as ours (rules have no metadata of their own to
/// spare: LiveKit passes `metadata` on to the call's participant).
pub const OWNER_ATTRIBUTE: &str = "trunkline_rule_id";

pub fn owner(info: &proto::SipDispatchRuleInfo) -> Option<String> {
    info.attributes.get(OWNER_ATTRIBUTE).cloned()
}

pub fn livekit_rule(
    rule_id: &str,
    name: &str,
    c: &DispatchRuleConfig,
    livekit_trunk_ids: Vec<String>,
) -> proto::SipDispatchRuleInfo {
    use proto::sip_dispatch_rule::Rule;
    let pin = c.pin.clone().unwrap_or_default();
    let rule = match &c.rule {
        RoomRule::Individual {
            room_prefix,
            randomize,
        } => Rule::DispatchRuleIndividual(proto::SipDispatchRuleIndividual {
            room_prefix: room_prefix.clone(),
            pin,
            no_randomness: !randomize,
        }),
        RoomRule::Direct { room_name } => Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
            room_name: room_name.clone(),
            pin,
        }),
        RoomRule::Callee {
            room_prefix,
            randomize,
        } => Rule::DispatchRuleCallee(proto::SipDispatchRuleCallee {
            room_prefix: room_prefix.clone(),
            pin,
            randomize: *randomize,
        }),
    };
    let strings = |v: &[trunkline_domain::E164]| v.iter().map(|n| n.as_str().to_owned()).collect();
    let agents: Vec<proto::RoomAgentDispatch> = c
        .agents
        .iter()
        .map(|a| proto::RoomAgentDispatch {
            agent_name: a.agent_name.clone(),
            metadata: a.metadata.clone(),
            ..Default::default()
        })
        .collect();
    proto::SipDispatchRuleInfo {
        rule: Some(proto::SipDispatchRule { rule: Some(rule) }),
        trunk_ids: livekit_trunk_ids,
        numbers: strings(&c.dialed_numbers),
        inbound_numbers: strings(&c.caller_numbers),
        name: name.to_owned(),
        metadata: c.metadata.clone(),
        attributes: HashMap::from([(OWNER_ATTRIBUTE.to_owned(), rule_id.to_owned())]),
        room_config: (!agents.is_empty()).then(|| proto::RoomConfiguration {
            agents,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What LiveKit should hold for a rule right now.
pub(super) enum Target {
    /// The rule, with these LiveKit trunk ids (never empty).
    Rule(Box<proto::SipDispatchRuleInfo>),
    /// Nothing yet: no provisioned trunk to name.
    Nothing,
}

impl Provisioner {
    /// The LiveKit trunk ids a rule applies to: the named trunks', or every provisioned
    /// inbound trunk of the account. Empty when any named trunk is not in LiveKit.
    async fn livekit_trunks(
        &self,
        tenant_id: &str,
        c: &DispatchRuleConfig,
    ) -> Result<Vec<String>, ServiceError> {
        let trunks = self.store.inbound_trunks().list(tenant_id).await?;
        let lk_of: HashMap<&str, Option<&str>> = trunks
            .iter()
            .map(|t| (t.id.as_str(), t.livekit_trunk_id.as_deref()))
            .collect();
        if c.trunk_ids.is_empty() {
            return Ok(trunks
                .iter()
                .filter(|t| t.status == Status::Provisioned)
                .filter_map(|t| t.livekit_trunk_id.clone())
                .collect());
        }
        let mut out = Vec::new();
        for t in &c.trunk_ids {
            match lk_of.get(t.as_str()).copied().flatten() {
                Some(lk) => out.push(lk.to_owned()),
                None => return Ok(Vec::new()),
            }
        }
        Ok(out)
    }

    pub(super) async fn target(
        &self,
        tenant_id: &str,
        rule_id: &str,
        name: &str,
        c: &DispatchRuleConfig,
    ) -> Result<Target, ServiceError> {
        let lk_trunks = self.livekit_trunks(tenant_id, c).await?;
        Ok(if lk_trunks.is_empty() {
            Target::Nothing
        } else {
            Target::Rule(Box::new(livekit_rule(
                rule_id,
                name,
                &crate::rooms::rule_for_livekit(tenant_id, c),
                lk_trunks,
            )))
        })
    }

    /// Makes LiveKit hold `target` for a rule currently held as `current` (a LiveKit id or
    /// none). Returns the LiveKit id it is held under afterwards.
    async fn push_rule(
        &self,
        current: Option<&str>,
        target: Target,
    ) -> Result<Option<String>, trunkline_livekit::LiveKitError> {
        let lk = self.livekit.as_ref().expect("only called with LiveKit");
        match (current, target) {
            (None, Target::Nothing) => Ok(None),
            (Some(id), Target::Nothing) => match lk.delete_dispatch_rule(id).await {
                Ok(()) => Ok(None),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            (None, Target::Rule(info)) => Ok(Some(
                lk.create_dispatch_rule(*info).await?.sip_dispatch_rule_id,
            )),
            (Some(id), Target::Rule(info)) => {
                match lk.replace_dispatch_rule(id, (*info).clone()).await {
                    Ok(r) => Ok(Some(r.sip_dispatch_rule_id)),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(Some(
                        lk.create_dispatch_rule(*info).await?.sip_dispatch_rule_id,
                    )),
                    Err(e) => Err(e),
                }
            }
        }
    }

    pub async fn create_rule(
        &self,
        tenant_id: &str,
        name: &str,
        config: &DispatchRuleConfig,
    ) -> Result<String, ServiceError> {
        let keys = keys(config)?;
        let trunk_ids: Vec<String> = config.trunk_ids.iter().map(|t| t.to_string()).collect();
        let id = DispatchRuleId::generate().to_string();
        let now = now_micros();
        let row = DispatchRuleRow {
            id: id.clone(),
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            config: public_json(config).to_string(),
            status: if self.livekit.is_some() {
                Status::Pending
            } else {
                Status::Unprovisioned
            }
            .to_owned(),
            livekit_rule_id: None,
            desired_version: 1,
            synced_version: 0,
            last_error: None,
            synced_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_dispatch_rule(&row, &trunk_ids, &keys)
            .await?
            .map_err(|c| conflict(c, &trunk_ids))?;
        if self.livekit.is_none() {
            return Ok(id);
        }
        let target = match self.target(tenant_id, &id, name, config).await {
            Ok(t) => t,
            Err(e) => {
                let _ = self
                    .store
                    .dispatch_rules()
                    .abandon_pending(tenant_id, &id)
                    .await;
                return Err(e);
            }
        };
        match self.push_rule(None, target).await {
            Ok(lk_id) => {
                let st = if lk_id.is_some() {
                    Status::Provisioned
                } else {
                    Status::AwaitingTrunk
                };
                match self
                    .store
                    .dispatch_rules()
                    .confirm(&id, lk_id.as_deref(), st)
                    .await
                {
                    Ok(true) => Ok(id),
                    outcome => {
                        if let (Some(lk), Some(lk_id)) = (&self.livekit, &lk_id) {
                            let _ = lk.delete_dispatch_rule(lk_id).await;
                        }
                        let _ = self
                            .store
                            .dispatch_rules()
                            .abandon_pending(tenant_id, &id)
                            .await;
                        Err(match outcome {
                            Err(e) => e.into(),
                            Ok(_) => ServiceError::Unavailable(
                                "LiveKit took too long and the create was abandoned; try again"
                                    .into(),
                            ),
                        })
                    }
                }
            }
            Err(e) => {
                if e.outcome_unknown() {
                    if let Some(lk) = &self.livekit {
                        if let Ok(all) = lk.list_dispatch_rules().await {
                            for r in all.iter().filter(|r| owner(r).as_deref() == Some(&id)) {
                                let _ = lk.delete_dispatch_rule(&r.sip_dispatch_rule_id).await;
                            }
                        }
                    }
                }
                let _ = self
                    .store
                    .dispatch_rules()
                    .abandon_pending(tenant_id, &id)
                    .await;
                Err(livekit_refusal(e))
            }
        }
    }

    /// New keys reserved first (a conflict changes nothing), then LiveKit, then the row.
    pub async fn update_rule(
        &self,
        row: &DispatchRuleRow,
        name: &str,
        config: &DispatchRuleConfig,
    ) -> Result<(), ServiceError> {
        let old_keys = keys(&open(row)?)?;
        let new_keys = keys(config)?;
        let trunk_ids: Vec<String> = config.trunk_ids.iter().map(|t| t.to_string()).collect();
        self.store
            .reserve_rule_keys(&row.tenant_id, &row.id, &trunk_ids, &new_keys)
            .await?
            .map_err(|c| conflict(c, &trunk_ids))?;
        let pushed = if self.livekit.is_some() {
            let result = match self.target(&row.tenant_id, &row.id, name, config).await {
                Ok(target) => self
                    .push_rule(row.livekit_rule_id.as_deref(), target)
                    .await
                    .map_err(livekit_refusal),
                Err(e) => Err(e),
            };
            match result {
                Ok(lk_id) => Some(lk_id),
                Err(e) => {
                    self.store
                        .settle_rule_keys(&row.tenant_id, &row.id, &old_keys)
                        .await?;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let public = public_json(config).to_string();
        let saved = self
            .store
            .dispatch_rules()
            .update_desired(&row.id, row.desired_version, name, &public, None)
            .await;
        if pushed.is_some() && !matches!(saved, Ok(true)) {
            let _ = self.store.dispatch_rules().mark_unsynced(&row.id).await;
        }
        if !saved? {
            return Err(ServiceError::Conflict(
                "the dispatch rule was changed by another request at the same time; fetch it and try again".into(),
            ));
        }
        self.store
            .settle_rule_keys(&row.tenant_id, &row.id, &new_keys)
            .await?;
        if let Some(lk_id) = pushed {
            let st = if lk_id.is_some() {
                Status::Provisioned
            } else {
                Status::AwaitingTrunk
            };
            self.store
                .dispatch_rules()
                .mark_synced(&row.id, row.desired_version + 1, lk_id.as_deref(), st)
                .await?;
        }
        Ok(())
    }

    pub async fn delete_rule(&self, row: &DispatchRuleRow) -> Result<bool, ServiceError> {
        if let Some(lk_id) = &row.livekit_rule_id {
            match &self.livekit {
                Some(lk) => match lk.delete_dispatch_rule(lk_id).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                },
                None => tracing::warn!(
                    rule_id = %row.id,
                    livekit_rule_id = %lk_id,
                    "LiveKit is not configured; its copy of this deleted dispatch rule remains there"
                ),
            }
        }
        Ok(self
            .store
            .dispatch_rules()
            .mark_deleted(&row.tenant_id, &row.id)
            .await?)
    }

    /// After the account's inbound trunks changed: pushes every rule that applies to all of
    /// them again, with the current list. Failures are recorded on the rule (`error`, with
    /// `last_error`), not returned: the trunk change itself succeeded.
    pub(super) async fn resync_every_trunk_rules(&self, tenant_id: &str) {
        if self.livekit.is_none() {
            return;
        }
        let rules = match self.store.every_trunk_rules(tenant_id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not read dispatch rules to follow a trunk change");
                return;
            }
        };
        for row in rules {
            let result = async {
                let c = open(&row)?;
                let target = self.target(tenant_id, &row.id, &row.name, &c).await?;
                let lk_id = self
                    .push_rule(row.livekit_rule_id.as_deref(), target)
                    .await?;
                let st = if lk_id.is_some() {
                    Status::Provisioned
                } else {
                    Status::AwaitingTrunk
                };
                self.store
                    .dispatch_rules()
                    .mark_synced(&row.id, row.desired_version, lk_id.as_deref(), st)
                    .await?;
                Ok::<_, ServiceError>(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(rule_id = %row.id, error = %e, "dispatch rule did not follow the account's trunks");
                let _ = self
                    .store
                    .dispatch_rules()
                    .set_status(&row.id, None, Status::Error, Some(FOLLOW_FAILED))
                    .await;
            }
        }
    }
}
