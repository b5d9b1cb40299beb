//! Dispatch rules: which room an inbound call lands in and which agent joins it.
//!
//! LiveKit names its two number filters `numbers` (the number dialed) and `inbound_numbers`
//! (the number calling), and users swap them. trunkline calls them `dialed_numbers` and
//! `caller_numbers`.

use crate::errors::ValidationErrors;
use crate::ids::TrunkId;
use crate::number::quote;
use crate::text;
use crate::trunk::validate_numbers;
use crate::E164;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRule {
    /// A new room per call: `room_prefix` + a random suffix (unless `randomize` is off).
    Individual {
        room_prefix: String,
        randomize: bool,
    },
    /// Every call into one room.
    Direct { room_name: String },
    /// A room per dialed number: `room_prefix` + the number (+ a random suffix if asked).
    Callee {
        room_prefix: String,
        randomize: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDispatch {
    pub agent_name: String,
    pub metadata: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRuleConfig {
    pub rule: RoomRule,
    pub pin: Option<String>,
    /// trunkline inbound trunk ids; empty means every inbound trunk of the tenant.
    pub trunk_ids: Vec<TrunkId>,
    pub dialed_numbers: Vec<E164>,
    pub caller_numbers: Vec<E164>,
    pub agents: Vec<AgentDispatch>,
    pub metadata: String,
}

#[derive(Clone, Default, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// `individual`, `direct` or `callee`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub room_prefix: Option<String>,
    pub room_name: Option<String>,
    pub randomize: Option<bool>,
}

#[derive(Clone, Default, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub agent_name: Option<String>,
    pub metadata: Option<String>,
}

#[derive(Clone, Default, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawRoomConfig {
    pub agents: Option<Vec<RawAgent>>,
}

#[derive(Clone, Default, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawDispatchRule {
    pub name: Option<String>,
    pub rule: Option<RawRule>,
    pub pin: Option<String>,
    pub trunk_ids: Option<Vec<String>>,
    pub dialed_numbers: Option<Vec<String>>,
    pub caller_numbers: Option<Vec<String>>,
    pub room_config: Option<RawRoomConfig>,
    pub metadata: Option<String>,
}

const MAX_AGENTS: usize = 8;
const MAX_METADATA: usize = 16 * 1024;

/// Room names and prefixes: LiveKit accepts most strings, but a room name travels in URLs,
/// tokens and logs; letters, digits, `-`, `_` and `.` keep it safe everywhere.
fn room_part(
    errors: &mut ValidationErrors,
    field: &str,
    raw: &str,
    min: usize,
    rooms: CallRooms,
) -> Option<String> {
    let ok = (min..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        errors.push(
            field,
            format!(
                "must be {min} to 64 letters, digits, '-', '_' or '.'; got {}",
                quote(raw)
            ),
        );
        return None;
    }
    if rooms == CallRooms::Reserved && reserved_for_calls(raw) {
        errors.push(
            field,
            format!(
                "must not start with \"{CALL_ROOM_PREFIX}\" (nor be \"CL\", which LiveKit joins to the caller with '_'): trunkline names its outbound call rooms so; got {}",
                quote(raw)
            ),
        );
        return None;
    }
    Some(raw.to_owned())
}

/// The prefix of trunkline's outbound call rooms (the call id).
pub const CALL_ROOM_PREFIX: &str = "CL_";

/// Whether a room name or prefix could produce a room named like an outbound call's. An
/// individual rule's rooms are `prefix_…`, so the bare prefix `CL` is reserved too.
fn reserved_for_calls(raw: &str) -> bool {
    let upper = raw.to_ascii_uppercase();
    upper.starts_with(CALL_ROOM_PREFIX) || upper == "CL"
}

fn agent_name(errors: &mut ValidationErrors, field: &str, raw: &str) -> Option<String> {
    let ok = (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Some(raw.to_owned())
    } else {
        errors.push(field, format!("must be 1 to 128 letters, digits, '-', '_' or '.' (the name your agent registers with); got {}", quote(raw)));
        None
    }
}

/// Whether room names that trunkline's call rooms use (`CL_…`) are refused.
#[derive(Clone, Copy, PartialEq)]
enum CallRooms {
    Reserved,
    /// A rule stored before the reservation existed keeps its room: re-reading it must not
    /// fail, and a change that does not touch its room must not either.
    Grandfathered,
}

impl RawDispatchRule {
    /// Checks a rule a client sends.
    pub fn validate(&self) -> Result<(String, DispatchRuleConfig), ValidationErrors> {
        self.validate_as(CallRooms::Reserved)
    }

    /// Checks a stored rule, or a change that keeps a stored rule's room: every rule of
    /// [`RawDispatchRule::validate`] except the `CL_` reservation, which came after some
    /// rules were stored.
    pub fn validate_stored(&self) -> Result<(String, DispatchRuleConfig), ValidationErrors> {
        self.validate_as(CallRooms::Grandfathered)
    }

    fn validate_as(
        &self,
        rooms: CallRooms,
    ) -> Result<(String, DispatchRuleConfig), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = text::required_name(&mut errors, "name", self.name.as_deref(), 100);
        let rule = match &self.rule {
            None => {
                errors.push("rule", "is required: {\"type\": \"individual\", \"room_prefix\": \"call-\"}, {\"type\": \"direct\", \"room_name\": …} or {\"type\": \"callee\", \"room_prefix\": …}");
                None
            }
            Some(r) => validate_rule(&mut errors, r, rooms),
        };
        let pin = match &self.pin {
            None => None,
            Some(p) if (4..=12).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.clone())
            }
            Some(_) => {
                errors.push(
                    "pin",
                    "must be 4 to 12 digits (callers enter it on the keypad)",
                );
                None
            }
        };
        let mut trunk_ids = Vec::new();
        for (i, t) in self.trunk_ids.iter().flatten().enumerate() {
            match TrunkId::parse(t) {
                Some(id) if !trunk_ids.contains(&id) => trunk_ids.push(id),
                Some(_) => {}
                None => errors.push(
                    format!("trunk_ids[{i}]"),
                    format!(
                        "must be a trunkline inbound trunk id (ST_…); got {}",
                        quote(t)
                    ),
                ),
            }
        }
        let numbers =
            |errors: &mut ValidationErrors, field: &str, raw: &Option<Vec<String>>| match raw {
                Some(n) if !n.is_empty() => validate_numbers(errors, field, n),
                _ => Vec::new(),
            };
        let dialed_numbers = numbers(&mut errors, "dialed_numbers", &self.dialed_numbers);
        let caller_numbers = numbers(&mut errors, "caller_numbers", &self.caller_numbers);
        let raw_agents = self
            .room_config
            .as_ref()
            .and_then(|c| c.agents.clone())
            .unwrap_or_default();
        if raw_agents.len() > MAX_AGENTS {
            errors.push(
                "room_config.agents",
                format!("must list at most {MAX_AGENTS} agents"),
            );
        }
        let mut agents = Vec::new();
        for (i, a) in raw_agents.iter().take(MAX_AGENTS).enumerate() {
            let field = format!("room_config.agents[{i}]");
            let name = match &a.agent_name {
                Some(n) => agent_name(&mut errors, &format!("{field}.agent_name"), n),
                None => {
                    errors.push(format!("{field}.agent_name"), "is required");
                    None
                }
            };
            let metadata = a.metadata.clone().unwrap_or_default();
            if metadata.len() > MAX_METADATA {
                errors.push(
                    format!("{field}.metadata"),
                    format!("must be at most {MAX_METADATA} bytes"),
                );
            }
            if let Some(agent_name) = name {
                agents.push(AgentDispatch {
                    agent_name,
                    metadata,
                });
            }
        }
        let metadata = self.metadata.clone().unwrap_or_default();
        if metadata.len() > MAX_METADATA {
            errors.push("metadata", format!("must be at most {MAX_METADATA} bytes"));
        }
        errors.into_result(|| {
            (
                name.expect("checked"),
                DispatchRuleConfig {
                    rule: rule.expect("checked"),
                    pin,
                    trunk_ids,
                    dialed_numbers,
                    caller_numbers,
                    agents,
                    metadata,
                },
            )
        })
    }
}

fn validate_rule(errors: &mut ValidationErrors, r: &RawRule, rooms: CallRooms) -> Option<RoomRule> {
    match r.kind.as_deref() {
        Some("individual") | Some("callee") => {
            if r.room_name.is_some() {
                errors.push(
                    "rule.room_name",
                    "is only for \"direct\" rules; use room_prefix",
                );
            }
            let prefix = room_part(
                errors,
                "rule.room_prefix",
                r.room_prefix.as_deref().unwrap_or(""),
                0,
                rooms,
            )?;
            Some(if r.kind.as_deref() == Some("individual") {
                RoomRule::Individual {
                    room_prefix: prefix,
                    randomize: r.randomize.unwrap_or(true),
                }
            } else {
                RoomRule::Callee {
                    room_prefix: prefix,
                    randomize: r.randomize.unwrap_or(false),
                }
            })
        }
        Some("direct") => {
            if r.room_prefix.is_some() || r.randomize.is_some() {
                errors.push("rule", "a \"direct\" rule takes room_name only");
            }
            match &r.room_name {
                Some(n) => room_part(errors, "rule.room_name", n, 1, rooms)
                    .map(|room_name| RoomRule::Direct { room_name }),
                None => {
                    errors.push("rule.room_name", "is required for a \"direct\" rule");
                    None
                }
            }
        }
        Some(other) => {
            errors.push(
                "rule.type",
                format!(
                    "must be one of \"individual\", \"direct\", \"callee\"; got {}",
                    quote(other)
                ),
            );
            None
        }
        None => {
            errors.push(
                "rule.type",
                "is required: \"individual\", \"direct\" or \"callee\"",
            );
            None
        }
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
