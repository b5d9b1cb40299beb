//! `lk`'s JSON files (seed 002) translated where the API does not take them itself.
//!
//! - Creates of inbound trunks and dispatch rules: the API reads `{"trunk": …}` and
//!   `{"dispatch_rule": …}` as they are, so they are sent untouched.
//! - Outbound trunks: `{"trunk": …}` of `lk sip outbound create` (LiveKit's
//!   `SIPOutboundTrunkInfo` in protojson) becomes a `trunk_type` `sip` trunk: `name` →
//!   `trunk_name`; `address`, `numbers` → `trunk_config`; `authUsername`/`authPassword` →
//!   `username`/`password`; `transport` and `mediaEncryption` enum names → trunkline's.
//! - Updates: PATCH takes trunkline's fields only, so an `lk` file is translated into the
//!   fields it names (a field left out keeps its value), through the domain's own readers of
//!   those files.
//!
//! A file in the API's own shape passes untouched: the server validates it.

use serde_json::{json, Map, Value};
use trunkline_domain::dispatch::RawDispatchRule;
use trunkline_domain::inbound::RawInboundTrunk;
use trunkline_domain::lk_json::{LkDispatchRuleFile, LkInboundTrunkFile};
use trunkline_domain::FieldError;

pub type Translate = fn(Value) -> Result<Value, FieldError>;

pub fn as_is(v: Value) -> Result<Value, FieldError> {
    Ok(v)
}

pub fn outbound_create(v: Value) -> Result<Value, FieldError> {
    let Some(LkOutbound { name, config }) = lk_outbound(&v)? else {
        return Ok(v);
    };
    let mut body = Map::new();
    if let Some(name) = name {
        body.insert("trunk_name".into(), name);
    }
    body.insert("trunk_type".into(), json!("sip"));
    body.insert("trunk_config".into(), Value::Object(config));
    Ok(Value::Object(body))
}

pub fn outbound_update(v: Value) -> Result<Value, FieldError> {
    let Some(LkOutbound { name, config }) = lk_outbound(&v)? else {
        return Ok(v);
    };
    let mut body = Map::new();
    if let Some(name) = name {
        body.insert("trunk_name".into(), name);
    }
    if !config.is_empty() {
        body.insert("trunk_config".into(), Value::Object(config));
    }
    Ok(Value::Object(body))
}

/// An `lk` outbound trunk file in trunkline's fields.
struct LkOutbound {
    /// `trunk_name`.
    name: Option<Value>,
    /// `trunk_config`.
    config: Map<String, Value>,
}

/// An `lk` outbound trunk file read; `None` for any other shape.
fn lk_outbound(v: &Value) -> Result<Option<LkOutbound>, FieldError> {
    let Some(file) = v.as_object().filter(|o| o.contains_key("trunk")) else {
        return Ok(None);
    };
    if let Some(other) = file.keys().find(|k| *k != "trunk") {
        return Err(FieldError::new(
            other.as_str(),
            "an lk outbound trunk file holds only \"trunk\"",
        ));
    }
    let Some(trunk) = file["trunk"].as_object() else {
        return Err(FieldError::new(
            "trunk",
            "must be an object: LiveKit's outbound trunk (name, address, numbers, …)",
        ));
    };
    let mut name = None;
    let mut config = Map::new();
    for (key, value) in trunk {
        let (to, value) = match key.as_str() {
            "name" => {
                name = Some(value.clone());
                continue;
            }
            "address" | "numbers" => (key.as_str(), value.clone()),
            // protojson writes unset strings as "": an empty credential is no credential.
            "authUsername" | "auth_username" | "authPassword" | "auth_password"
                if value.as_str() == Some("") =>
            {
                continue
            }
            "authUsername" | "auth_username" => ("username", value.clone()),
            "authPassword" | "auth_password" => ("password", value.clone()),
            "transport" => ("transport", transport(value)),
            "mediaEncryption" | "media_encryption" => ("media_encryption", encryption(value)),
            "metadata" => {
                return Err(FieldError::new(
                    format!("trunk.{key}"),
                    "trunkline writes the LiveKit trunk's metadata itself (it names trunkline's trunk id); leave it out",
                ))
            }
            _ => {
                return Err(FieldError::new(
                    format!("trunk.{key}"),
                    "not a field trunkline's outbound trunks take: they take name, address, numbers, transport, authUsername, authPassword and mediaEncryption",
                ))
            }
        };
        config.insert(to.to_owned(), value);
    }
    Ok(Some(LkOutbound { name, config }))
}

/// LiveKit's `SIPTransport` (name or number) as trunkline's; anything else is left for the
/// server to refuse with its rule.
fn transport(v: &Value) -> Value {
    let name = match (v.as_str(), v.as_u64()) {
        (Some("SIP_TRANSPORT_AUTO"), _) | (_, Some(0)) => "auto",
        (Some("SIP_TRANSPORT_UDP"), _) | (_, Some(1)) => "udp",
        (Some("SIP_TRANSPORT_TCP"), _) | (_, Some(2)) => "tcp",
        (Some("SIP_TRANSPORT_TLS"), _) | (_, Some(3)) => "tls",
        _ => return v.clone(),
    };
    json!(name)
}

/// LiveKit's `SIPMediaEncryption` (name or number) as trunkline's.
fn encryption(v: &Value) -> Value {
    let name = match (v.as_str(), v.as_u64()) {
        (Some("SIP_MEDIA_ENCRYPT_DISABLE"), _) | (_, Some(0)) => "disabled",
        (Some("SIP_MEDIA_ENCRYPT_ALLOW"), _) | (_, Some(1)) => "allowed",
        (Some("SIP_MEDIA_ENCRYPT_REQUIRE"), _) | (_, Some(2)) => "required",
        _ => return v.clone(),
    };
    json!(name)
}

/// Reads an `lk` file with the domain's types, naming a refused field by its JSON path.
fn read<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut message = e.inner().to_string();
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        FieldError::new(e.path().to_string(), message)
    })
}

/// Inserts each field that is set.
fn put<T: serde::Serialize>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), json!(v));
    }
}

pub fn inbound_update(v: Value) -> Result<Value, FieldError> {
    if !v.as_object().is_some_and(|o| o.contains_key("trunk")) {
        return Ok(v);
    }
    let file: LkInboundTrunkFile = read(v)?;
    let RawInboundTrunk {
        name,
        numbers,
        allowed_addresses,
        allowed_numbers,
        auth_username,
        auth_password,
        krisp_enabled,
        ringing_timeout,
        max_call_duration,
        media_encryption,
    } = file.trunk.into_raw()?;
    let mut m = Map::new();
    put(&mut m, "name", name);
    put(&mut m, "numbers", numbers);
    put(&mut m, "allowed_addresses", allowed_addresses);
    put(&mut m, "allowed_numbers", allowed_numbers);
    put(&mut m, "auth_username", auth_username);
    put(&mut m, "auth_password", auth_password);
    put(&mut m, "krisp_enabled", krisp_enabled);
    put(&mut m, "ringing_timeout", ringing_timeout);
    put(&mut m, "max_call_duration", max_call_duration);
    put(&mut m, "media_encryption", media_encryption);
    Ok(Value::Object(m))
}

pub fn dispatch_update(v: Value) -> Result<Value, FieldError> {
    let lk = v
        .as_object()
        .is_some_and(|o| o.contains_key("dispatch_rule") || o.contains_key("dispatchRule"));
    if !lk {
        return Ok(v);
    }
    let file: LkDispatchRuleFile = read(v)?;
    let RawDispatchRule {
        name,
        rule,
        pin,
        trunk_ids,
        dialed_numbers,
        caller_numbers,
        room_config,
        metadata,
    } = file.dispatch_rule.into_raw()?;
    let mut m = Map::new();
    put(&mut m, "name", name);
    if let Some(r) = rule {
        let mut rule = Map::new();
        put(&mut rule, "type", r.kind);
        put(&mut rule, "room_prefix", r.room_prefix);
        put(&mut rule, "room_name", r.room_name);
        put(&mut rule, "randomize", r.randomize);
        m.insert("rule".into(), Value::Object(rule));
    }
    put(&mut m, "pin", pin);
    put(&mut m, "trunk_ids", trunk_ids);
    put(&mut m, "dialed_numbers", dialed_numbers);
    put(&mut m, "caller_numbers", caller_numbers);
    if let Some(c) = room_config {
        let agents = c.agents.map(|agents| {
            agents
                .into_iter()
                .map(|a| {
                    let mut agent = Map::new();
                    put(&mut agent, "agent_name", a.agent_name);
                    put(&mut agent, "metadata", a.metadata);
                    Value::Object(agent)
                })
                .collect::<Vec<_>>()
        });
        let mut config = Map::new();
        put(&mut config, "agents", agents);
        m.insert("room_config".into(), Value::Object(config));
    }
    put(&mut m, "metadata", metadata);
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_lk_outbound_trunk_becomes_a_sip_trunk() {
        let lk = json!({"trunk": {
            "name": "My outbound trunk", "address": "example.pstn.twilio.com",
            "numbers": ["+15105550100"], "authUsername": "user", "authPassword": "pw",
            "transport": "SIP_TRANSPORT_TCP", "mediaEncryption": 1
        }});
        assert_eq!(
            outbound_create(lk.clone()).unwrap(),
            json!({"trunk_name": "My outbound trunk", "trunk_type": "sip", "trunk_config": {
                "address": "example.pstn.twilio.com", "numbers": ["+15105550100"],
                "username": "user", "password": "pw", "transport": "tcp",
                "media_encryption": "allowed"}})
        );
        let mut patch = outbound_create(lk).unwrap();
        patch.as_object_mut().unwrap().remove("trunk_type");
        assert_eq!(
            outbound_update(
                json!({"trunk": {"name": "My outbound trunk", "address": "example.pstn.twilio.com",
                "numbers": ["+15105550100"], "auth_username": "user", "auth_password": "pw",
                "transport": 2, "media_encryption": "SIP_MEDIA_ENCRYPT_ALLOW"}})
            )
            .unwrap(),
            patch
        );
    }

    #[test]
    fn empty_lk_credentials_are_left_out_and_unknown_enums_left_to_the_server() {
        let out =
            outbound_update(json!({"trunk": {"authUsername": "", "transport": "SCTP"}})).unwrap();
        assert_eq!(out, json!({"trunk_config": {"transport": "SCTP"}}));
    }

    #[test]
    fn lk_fields_trunkline_does_not_take_are_named() {
        for (file, field) in [
            (json!({"trunk": {"headers": {}}}), "trunk.headers"),
            (json!({"trunk": {"metadata": "x"}}), "trunk.metadata"),
            (json!({"trunk": {}, "extra": 1}), "extra"),
            (json!({"trunk": []}), "trunk"),
        ] {
            assert_eq!(outbound_create(file).unwrap_err().field, field);
        }
    }

    #[test]
    fn the_apis_own_shape_passes_untouched() {
        let api = json!({"trunk_name": "x", "trunk_type": "twilio", "trunk_config": {}});
        assert_eq!(outbound_create(api.clone()).unwrap(), api);
        let patch = json!({"numbers": ["+15550100000"]});
        assert_eq!(inbound_update(patch.clone()).unwrap(), patch);
        assert_eq!(dispatch_update(patch.clone()).unwrap(), patch);
    }

    #[test]
    fn lk_inbound_and_dispatch_files_become_patches() {
        let inbound = inbound_update(json!({"trunk": {
            "numbers": ["+13074606119"], "krispEnabled": true, "ringingTimeout": "30s"}}))
        .unwrap();
        assert_eq!(
            inbound,
            json!({"numbers": ["+13074606119"], "krisp_enabled": true, "ringing_timeout": 30})
        );
        let rule = dispatch_update(json!({"dispatch_rule": {
            "rule": {"dispatchRuleIndividual": {"roomPrefix": "call-"}},
            "name": "Twilio Individual Room Dispatch", "numbers": ["+13074606119"],
            "roomConfig": {"agents": [{"agentName": "voice-agent", "metadata": "m"}]}}}))
        .unwrap();
        assert_eq!(
            rule,
            json!({"name": "Twilio Individual Room Dispatch",
                   "rule": {"type": "individual", "room_prefix": "call-"},
                   "dialed_numbers": ["+13074606119"],
                   "room_config": {"agents": [{"agent_name": "voice-agent", "metadata": "m"}]}})
        );
        let e = inbound_update(json!({"trunk": {"headers": {}}})).unwrap_err();
        assert_eq!(e.field, "trunk.headers");
        assert!(e.message.contains("unknown field `headers`"), "{e}");
        let e = inbound_update(json!({"trunk": {"ringingTimeout": "soon"}})).unwrap_err();
        assert_eq!(e.field, "trunk.ringingTimeout");
    }
}
