//! Dispatch rules. A rule names trunkline's inbound trunk ids (or none: every inbound trunk
//! of the account); LiveKit gets the LiveKit ids of those trunks. LiveKit applies a rule
//! without trunk ids to every trunk of the project, other accounts' included, so trunkline
//! never sends one: a rule on "every trunk" is sent with the list of the account's trunks,
//! kept current as trunks come and go, and waits (`awaiting_trunk`) while there are none.
//!
//! This file holds a rule as stored and as LiveKit holds it, its keys and the 409s a
//! conflict gives; its provisioning plug-in is `kinds/rules.rs`.

use super::status;
use crate::ServiceError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use trunkline_domain::dispatch::{DispatchRuleConfig, RawDispatchRule, RoomRule};
use trunkline_domain::ValidationErrors;
use trunkline_livekit::proto;
use trunkline_store::Status;
use trunkline_store::{DispatchRuleRow, RuleConflict, RuleKey, EVERY_TRUNK};

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
        Status::Provisioned => "LiveKit holds this rule as configured.",
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
