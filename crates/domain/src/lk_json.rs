//! The JSON files of LiveKit's `lk` CLI (seed 002: `lk sip inbound create trunk.json`,
//! `lk sip dispatch create dispatch.json`), read into trunkline's own raw inputs so users can
//! paste what they already have. Like LiveKit's protojson, field names are accepted in
//! camelCase and snake_case; durations are protojson strings (`"30s"`); enums are names or
//! numbers. Fields trunkline does not support are refused by name rather than dropped.

use crate::dispatch::{RawAgent, RawDispatchRule, RawRoomConfig, RawRule};
use crate::errors::FieldError;
use crate::inbound::RawInboundTrunk;
use serde::Deserialize;

/// `{"trunk": {…}}` as `lk sip inbound create` takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LkInboundTrunkFile {
    pub trunk: LkInboundTrunk,
}

/// No `Debug`: it holds the password in clear.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LkInboundTrunk {
    pub name: Option<String>,
    pub numbers: Option<Vec<String>>,
    #[serde(alias = "allowedAddresses")]
    pub allowed_addresses: Option<Vec<String>>,
    #[serde(alias = "allowedNumbers")]
    pub allowed_numbers: Option<Vec<String>>,
    #[serde(alias = "authUsername")]
    pub auth_username: Option<String>,
    #[serde(alias = "authPassword")]
    pub auth_password: Option<String>,
    #[serde(alias = "krispEnabled")]
    pub krisp_enabled: Option<bool>,
    #[serde(alias = "ringingTimeout")]
    pub ringing_timeout: Option<String>,
    #[serde(alias = "maxCallDuration")]
    pub max_call_duration: Option<String>,
    #[serde(alias = "mediaEncryption")]
    pub media_encryption: Option<serde_json::Value>,
}

/// A protojson `google.protobuf.Duration` (`"30s"`, `"1.5s"`) in whole seconds, rounded up.
pub fn duration_secs(field: &str, raw: &str) -> Result<u64, FieldError> {
    let err = || {
        FieldError::new(
            field,
            format!("must be a duration in seconds such as \"30s\"; got {raw:?}"),
        )
    };
    let number = raw.strip_suffix('s').ok_or_else(err)?;
    let secs: f64 = number.parse().map_err(|_| err())?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(err());
    }
    Ok(secs.ceil() as u64)
}

/// `SIP_MEDIA_ENCRYPT_ALLOW`, `1`, or trunkline's own `allowed`.
fn media_encryption(field: &str, raw: &serde_json::Value) -> Result<String, FieldError> {
    let name = match raw {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(0) => "disabled",
            Some(1) => "allowed",
            Some(2) => "required",
            _ => "",
        },
        _ => "",
    };
    Ok(match name {
        "SIP_MEDIA_ENCRYPT_DISABLE" | "disabled" => "disabled",
        "SIP_MEDIA_ENCRYPT_ALLOW" | "allowed" => "allowed",
        "SIP_MEDIA_ENCRYPT_REQUIRE" | "required" => "required",
        _ => {
            return Err(FieldError::new(
                field,
                "must be SIP_MEDIA_ENCRYPT_DISABLE, SIP_MEDIA_ENCRYPT_ALLOW or SIP_MEDIA_ENCRYPT_REQUIRE",
            ))
        }
    }
    .to_owned())
}

impl LkInboundTrunk {
    pub fn into_raw(self) -> Result<RawInboundTrunk, FieldError> {
        Ok(RawInboundTrunk {
            name: self.name,
            numbers: self.numbers,
            allowed_addresses: self.allowed_addresses,
            allowed_numbers: self.allowed_numbers,
            auth_username: self.auth_username.filter(|s| !s.is_empty()),
            auth_password: self.auth_password.filter(|s| !s.is_empty()),
            krisp_enabled: self.krisp_enabled,
            ringing_timeout: self
                .ringing_timeout
                .map(|d| duration_secs("trunk.ringingTimeout", &d))
                .transpose()?,
            max_call_duration: self
                .max_call_duration
                .map(|d| duration_secs("trunk.maxCallDuration", &d))
                .transpose()?,
            media_encryption: self
                .media_encryption
                .map(|m| media_encryption("trunk.mediaEncryption", &m))
                .transpose()?,
        })
    }
}

/// `{"dispatch_rule": {…}}` as `lk sip dispatch create` takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LkDispatchRuleFile {
    #[serde(alias = "dispatchRule")]
    pub dispatch_rule: LkDispatchRule,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LkDispatchRule {
    pub rule: Option<LkRule>,
    pub name: Option<String>,
    pub metadata: Option<String>,
    #[serde(alias = "trunkIds")]
    pub trunk_ids: Option<Vec<String>>,
    /// LiveKit's `numbers`: the numbers dialed (callee).
    pub numbers: Option<Vec<String>>,
    /// LiveKit's `inbound_numbers`: the numbers calling (caller).
    #[serde(alias = "inboundNumbers")]
    pub inbound_numbers: Option<Vec<String>>,
    #[serde(alias = "roomConfig")]
    pub room_config: Option<LkRoomConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LkRule {
    #[serde(alias = "dispatchRuleIndividual")]
    pub dispatch_rule_individual: Option<LkRoomRule>,
    #[serde(alias = "dispatchRuleDirect")]
    pub dispatch_rule_direct: Option<LkRoomRule>,
    #[serde(alias = "dispatchRuleCallee")]
    pub dispatch_rule_callee: Option<LkRoomRule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LkRoomRule {
    #[serde(alias = "roomPrefix")]
    pub room_prefix: Option<String>,
    #[serde(alias = "roomName")]
    pub room_name: Option<String>,
    pub pin: Option<String>,
    #[serde(alias = "noRandomness")]
    pub no_randomness: Option<bool>,
    pub randomize: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LkRoomConfig {
    pub agents: Option<Vec<LkAgent>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LkAgent {
    #[serde(alias = "agentName")]
    pub agent_name: Option<String>,
    pub metadata: Option<String>,
}

impl LkDispatchRule {
    pub fn into_raw(self) -> Result<RawDispatchRule, FieldError> {
        let (rule, pin) = match self.rule {
            None => (None, None),
            Some(r) => {
                let kinds = [
                    ("individual", r.dispatch_rule_individual),
                    ("direct", r.dispatch_rule_direct),
                    ("callee", r.dispatch_rule_callee),
                ];
                let mut given = kinds.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
                let first = given.next();
                if given.next().is_some() {
                    return Err(FieldError::new(
                        "dispatch_rule.rule",
                        "must hold exactly one of dispatchRuleIndividual, dispatchRuleDirect, dispatchRuleCallee",
                    ));
                }
                match first {
                    None => (None, None),
                    Some((kind, r)) => {
                        // LiveKit's individual rule randomizes unless told not to; the callee rule
                        // only when asked.
                        let randomize = match kind {
                            "individual" => r.no_randomness.map(|n| !n),
                            _ => r.randomize,
                        };
                        let raw = RawRule {
                            kind: Some(kind.to_owned()),
                            room_prefix: r.room_prefix,
                            room_name: r.room_name,
                            randomize,
                        };
                        (Some(raw), r.pin.filter(|p| !p.is_empty()))
                    }
                }
            }
        };
        Ok(RawDispatchRule {
            name: self.name,
            rule,
            pin,
            trunk_ids: self.trunk_ids,
            dialed_numbers: self.numbers,
            caller_numbers: self.inbound_numbers,
            room_config: self.room_config.map(|c| RawRoomConfig {
                agents: c.agents.map(|a| {
                    a.into_iter()
                        .map(|a| RawAgent {
                            agent_name: a.agent_name,
                            metadata: a.metadata,
                        })
                        .collect()
                }),
            }),
            metadata: self.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_table() {
        for (raw, want) in [
            ("30s", Some(30)),
            ("1.5s", Some(2)),
            ("0s", Some(0)),
            ("30", None),
            ("s", None),
            ("-1s", None),
            ("NaNs", None),
        ] {
            assert_eq!(duration_secs("d", raw).ok(), want, "{raw}");
        }
    }

    #[test]
    fn media_encryption_names_and_numbers() {
        use serde_json::json;
        assert_eq!(
            media_encryption("m", &json!("SIP_MEDIA_ENCRYPT_ALLOW")).unwrap(),
            "allowed"
        );
        assert_eq!(media_encryption("m", &json!(2)).unwrap(), "required");
        assert_eq!(
            media_encryption("m", &json!("required")).unwrap(),
            "required"
        );
        assert!(media_encryption("m", &json!("on")).is_err());
        assert!(media_encryption("m", &json!(7)).is_err());
    }
}
