//! Telnyx objects held as JSON (TX-OAI schemas), with the validation of each field the double
//! accepts and the `{errors: [...]}` answers.

use crate::wire::{iso_millis_now, Reply};
use serde_json::{json, Map, Value};

pub(crate) fn error(
    status: u16,
    code: &str,
    title: &str,
    detail: &str,
    pointer: Option<&str>,
) -> Reply {
    let mut e = json!({"code": code, "title": title, "detail": detail,
        "meta": {"url": format!("https://developers.telnyx.com/docs/overview/errors/{code}")}});
    if let Some(p) = pointer {
        e["source"] = json!({"pointer": p});
    }
    Reply::json(status, json!({"errors": [e]}))
}

/// 422 with the field's JSON pointer (TX-OAI `source.pointer`).
pub(crate) fn invalid(pointer: &str, detail: &str) -> Reply {
    error(422, "10015", "Bad Request", detail, Some(pointer))
}

pub(crate) fn not_found() -> Reply {
    error(
        404,
        "10005",
        "Resource not found",
        "The requested resource or URL could not be found.",
        None,
    )
}

/// Digits, 19 of them, like `"1293384261075731499"`.
pub(crate) fn new_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut s = rng.random_range(1..=9u8).to_string();
    for _ in 0..18 {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

pub(crate) fn stamp(obj: &mut Value, created: bool) {
    let now = iso_millis_now();
    if created {
        obj["created_at"] = json!(now.clone());
    }
    obj["updated_at"] = json!(now);
}

fn str_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Reply> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(
            &format!("/{name}"),
            &format!("{name} must be a string"),
        )),
    }
}

fn one_of(
    body: &Map<String, Value>,
    pointer: &str,
    name: &str,
    allowed: &[&str],
) -> Result<(), Reply> {
    match str_field(body, name)? {
        Some(v) if !allowed.contains(&v) => Err(invalid(
            &format!("{pointer}/{name}"),
            &format!("{name} must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// `user_name`: 4–32 letters and digits with a letter in the first five.
fn check_user_name(u: &str) -> Result<(), Reply> {
    let ok = (4..=32).contains(&u.len())
        && u.chars().all(|c| c.is_ascii_alphanumeric())
        && u.chars().take(5).any(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "/user_name",
            "user_name must be 4 to 32 letters and digits, with a letter in the first 5",
        ))
    }
}

fn check_password(p: &str) -> Result<(), Reply> {
    if (8..=128).contains(&p.chars().count()) {
        Ok(())
    } else {
        Err(invalid("/password", "password must be 8 to 128 characters"))
    }
}

/// The nested objects trunkline uses, checked where TX-OAI enumerates values.
fn check_nested(body: &Map<String, Value>, ovp_exists: &dyn Fn(&str) -> bool) -> Result<(), Reply> {
    if let Some(inbound) = body.get("inbound") {
        let Some(i) = inbound.as_object() else {
            return Err(invalid("/inbound", "inbound must be an object"));
        };
        one_of(
            i,
            "/inbound",
            "ani_number_format",
            &["+E.164", "E.164", "+E.164-national", "E.164-national"],
        )?;
        one_of(
            i,
            "/inbound",
            "dnis_number_format",
            &["+e164", "e164", "national", "sip_username"],
        )?;
    }
    if let Some(outbound) = body.get("outbound") {
        let Some(o) = outbound.as_object() else {
            return Err(invalid("/outbound", "outbound must be an object"));
        };
        one_of(
            o,
            "/outbound",
            "ip_authentication_method",
            &["credential-authentication", "ip-authentication"],
        )?;
        if let Some(id) = str_field(o, "outbound_voice_profile_id")? {
            if !ovp_exists(id) {
                return Err(invalid(
                    "/outbound/outbound_voice_profile_id",
                    "Outbound voice profile not found",
                ));
            }
        }
    }
    one_of(body, "", "transport_protocol", &["UDP", "TCP", "TLS"])?;
    if body
        .get("active")
        .is_some_and(|v| !v.is_boolean() && !v.is_null())
    {
        return Err(invalid("/active", "active must be a boolean"));
    }
    Ok(())
}

/// Copies `body` over `obj`; `inbound` and `outbound` merge field by field.
fn merge(obj: &mut Value, body: &Map<String, Value>) {
    for (k, v) in body {
        match (k.as_str(), obj.get_mut(k)) {
            ("inbound" | "outbound", Some(Value::Object(existing))) => {
                if let Value::Object(new) = v {
                    for (nk, nv) in new {
                        existing.insert(nk.clone(), nv.clone());
                    }
                }
            }
            _ => obj[k] = v.clone(),
        }
    }
}

pub(crate) const CREDENTIAL_FIELDS: &[&str] = &[
    "connection_name",
    "user_name",
    "password",
    "active",
    "inbound",
    "outbound",
    "tags",
    "anchorsite_override",
    "webhook_event_url",
    "sip_uri_calling_preference",
];
pub(crate) const FQDN_FIELDS: &[&str] = &[
    "connection_name",
    "active",
    "transport_protocol",
    "inbound",
    "outbound",
    "tags",
    "anchorsite_override",
    "webhook_event_url",
    "encrypted_media",
];

/// Creates (`existing` None) or patches a credential connection.
pub(crate) fn credential_connection(
    existing: Option<&Value>,
    body: &Map<String, Value>,
    user_taken: &dyn Fn(&str) -> bool,
    ovp_exists: &dyn Fn(&str) -> bool,
) -> Result<Value, Reply> {
    let create = existing.is_none();
    for required in ["connection_name", "user_name", "password"] {
        if create && str_field(body, required)?.is_none_or(str::is_empty) {
            return Err(invalid(
                &format!("/{required}"),
                &format!("{required} is required"),
            ));
        }
    }
    if let Some(u) = str_field(body, "user_name")? {
        check_user_name(u)?;
        if user_taken(u) {
            return Err(invalid("/user_name", "user_name has already been taken"));
        }
    }
    if let Some(p) = str_field(body, "password")? {
        check_password(p)?;
    }
    check_nested(body, ovp_exists)?;
    let mut obj = existing.cloned().unwrap_or_else(|| {
        json!({
            "id": new_id(), "record_type": "credential_connection", "active": true,
            "anchorsite_override": "Latency", "sip_uri_calling_preference": "disabled",
            "inbound": {"ani_number_format": "E.164-national", "dnis_number_format": "e164", "channel_limit": null},
            "outbound": {"outbound_voice_profile_id": null, "channel_limit": null},
            "tags": [], "webhook_event_url": null,
        })
    });
    merge(&mut obj, body);
    stamp(&mut obj, create);
    Ok(obj)
}

pub(crate) fn fqdn_connection(
    existing: Option<&Value>,
    body: &Map<String, Value>,
    ovp_exists: &dyn Fn(&str) -> bool,
) -> Result<Value, Reply> {
    let create = existing.is_none();
    if create && str_field(body, "connection_name")?.is_none_or(str::is_empty) {
        return Err(invalid("/connection_name", "connection_name is required"));
    }
    check_nested(body, ovp_exists)?;
    let mut obj = existing.cloned().unwrap_or_else(|| {
        json!({
            "id": new_id(), "record_type": "fqdn_connection", "active": true, "transport_protocol": "UDP",
            "encrypted_media": null, "anchorsite_override": "Latency",
            "inbound": {"ani_number_format": "E.164-national", "dnis_number_format": "e164"},
            "outbound": {"outbound_voice_profile_id": null, "ip_authentication_method": "ip-authentication"},
            "tags": [], "webhook_event_url": null,
        })
    });
    merge(&mut obj, body);
    stamp(&mut obj, create);
    Ok(obj)
}

pub(crate) fn fqdn(
    existing: Option<&Value>,
    body: &Map<String, Value>,
    connection_exists: &dyn Fn(&str) -> bool,
) -> Result<Value, Reply> {
    let create = existing.is_none();
    if create {
        for required in ["connection_id", "fqdn", "dns_record_type"] {
            if str_field(body, required)?.is_none_or(str::is_empty) {
                return Err(invalid(
                    &format!("/{required}"),
                    &format!("{required} is required"),
                ));
            }
        }
    }
    if let Some(c) = str_field(body, "connection_id")? {
        if !connection_exists(c) {
            return Err(invalid("/connection_id", "FQDN connection not found"));
        }
    }
    one_of(body, "", "dns_record_type", &["a", "srv"])?;
    if body
        .get("port")
        .is_some_and(|p| !p.is_null() && p.as_u64().is_none_or(|n| n == 0 || n > 65535))
    {
        return Err(invalid("/port", "port must be from 1 to 65535"));
    }
    let mut obj = existing
        .cloned()
        .unwrap_or_else(|| json!({"id": new_id(), "record_type": "fqdn", "port": 5060}));
    merge(&mut obj, body);
    if obj["dns_record_type"] == "srv" {
        obj["port"] = Value::Null;
    }
    stamp(&mut obj, create);
    Ok(obj)
}

pub(crate) const OVP_FIELDS: &[&str] = &[
    "name",
    "enabled",
    "traffic_type",
    "service_plan",
    "usage_payment_method",
    "whitelisted_destinations",
    "concurrent_call_limit",
    "daily_spend_limit",
    "daily_spend_limit_enabled",
    "tags",
];

pub(crate) fn outbound_voice_profile(
    existing: Option<&Value>,
    body: &Map<String, Value>,
) -> Result<Value, Reply> {
    // PATCH requires `name` too (TX-OAI UpdateOutboundVoiceProfileRequest).
    if str_field(body, "name")?.is_none_or(str::is_empty) {
        return Err(invalid("/name", "name is required"));
    }
    one_of(body, "", "traffic_type", &["conversational"])?;
    one_of(body, "", "service_plan", &["global"])?;
    if let Some(w) = body.get("whitelisted_destinations") {
        let ok = w.as_array().is_some_and(|a| {
            a.iter().all(|c| {
                c.as_str()
                    .is_some_and(|s| s.len() == 2 && s.chars().all(|ch| ch.is_ascii_uppercase()))
            })
        });
        if !ok {
            return Err(invalid(
                "/whitelisted_destinations",
                "whitelisted_destinations must be ISO 3166-1 alpha-2 codes",
            ));
        }
    }
    let create = existing.is_none();
    let mut obj = existing.cloned().unwrap_or_else(|| {
        json!({
            "id": new_id(), "record_type": "outbound_voice_profile", "enabled": true,
            "traffic_type": "conversational", "service_plan": "global", "usage_payment_method": "rate-deck",
            "whitelisted_destinations": ["US", "CA"], "concurrent_call_limit": null,
            "daily_spend_limit": null, "daily_spend_limit_enabled": false, "tags": [],
        })
    });
    merge(&mut obj, body);
    stamp(&mut obj, create);
    Ok(obj)
}

/// Refuses fields the double does not know: Telnyx would ignore a misspelt one and the value
/// would be lost without a word.
pub(crate) fn known_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), Reply> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(
            &format!("/{k}"),
            &format!("{k} is not a known field"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn credential_connection_rules() {
        let none = |_: &str| false;
        let ok = credential_connection(
            None,
            &body(json!({"connection_name": "c", "user_name": "abcd1234", "password": "12345678"})),
            &none,
            &none,
        );
        assert!(ok.is_ok());
        for (b, pointer) in [
            (
                json!({"connection_name": "c", "user_name": "abc", "password": "12345678"}),
                "/user_name",
            ),
            (
                json!({"connection_name": "c", "user_name": "12345abc", "password": "12345678"}),
                "/user_name",
            ),
            (
                json!({"connection_name": "c", "user_name": "abcd1234", "password": "short"}),
                "/password",
            ),
            (
                json!({"user_name": "abcd1234", "password": "12345678"}),
                "/connection_name",
            ),
        ] {
            let e = credential_connection(None, &body(b), &none, &none).unwrap_err();
            assert_eq!(e.status, 422);
            assert_eq!(e.body.unwrap()["errors"][0]["source"]["pointer"], pointer);
        }
    }
}
