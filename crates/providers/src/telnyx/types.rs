//! Telnyx v2 objects (TX-OAI `spec3.yml`; telnyx-python `types/`). Every object carries
//! `record_type`; ids are opaque strings (mostly int64 digits).

use crate::ids::{id_string, opt_id_string};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `inbound` settings shared by credential and FQDN connections (the subset trunkline sets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    /// `+E.164`, `E.164`, `+E.164-national`, `E.164-national` (Telnyx's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani_number_format: Option<String>,
    /// `+e164`, `e164` (default), `national`, `sip_username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis_number_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_subdomain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_limit: Option<u32>,
}

/// `outbound` settings (the subset trunkline sets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    #[serde(
        default,
        deserialize_with = "opt_id_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub outbound_voice_profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_limit: Option<u32>,
    /// `credential-authentication` or `ip-authentication` (FQDN/IP connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_authentication_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CredentialConnection {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub record_type: String,
    pub connection_name: String,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub user_name: Option<String>,
    /// Telnyx echoes the password back; it stays a [`Secret`].
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub inbound: Option<Inbound>,
    #[serde(default)]
    pub outbound: Option<Outbound>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Create (`connection_name`, `user_name`, `password` required) and PATCH (any subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CredentialConnectionParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_name: Option<String>,
    /// 4–32 letters and digits, with a letter in the first five.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// 8–128 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Inbound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Outbound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FqdnConnection {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub record_type: String,
    pub connection_name: String,
    #[serde(default)]
    pub active: Option<bool>,
    /// `UDP` (default), `TCP` or `TLS`.
    #[serde(default)]
    pub transport_protocol: Option<String>,
    #[serde(default)]
    pub inbound: Option<Inbound>,
    #[serde(default)]
    pub outbound: Option<Outbound>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Create (`connection_name` required) and PATCH.
///
/// Uncertain: copies of LiveKit's Telnyx guide send `user_name`/`password` here, but TX-OAI's
/// Create/UpdateFqdnConnectionRequest schemas do not list them. Trunkline sends none: an
/// FQDN connection carries inbound calls to LiveKit, and outbound digest auth lives on a
/// credential connection, which the spec does define with credentials.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FqdnConnectionParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Inbound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Outbound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A target host of an FQDN connection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Fqdn {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub record_type: String,
    #[serde(deserialize_with = "id_string")]
    pub connection_id: String,
    pub fqdn: String,
    #[serde(default)]
    pub port: Option<u16>,
    /// `a` (with a port) or `srv` (without).
    #[serde(default)]
    pub dns_record_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FqdnParams {
    pub connection_id: String,
    pub fqdn: String,
    pub dns_record_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OutboundVoiceProfile {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub record_type: String,
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub traffic_type: Option<String>,
    #[serde(default)]
    pub service_plan: Option<String>,
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default)]
    pub whitelisted_destinations: Vec<String>,
    #[serde(default)]
    pub concurrent_call_limit: Option<u32>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Create (`name` required) and PATCH (which also requires `name`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutboundVoiceProfileParams {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whitelisted_destinations: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_call_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PhoneNumber {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub record_type: String,
    /// E.164.
    pub phone_number: String,
    #[serde(default, deserialize_with = "opt_id_string")]
    pub connection_id: Option<String>,
    #[serde(default)]
    pub connection_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_body_skips_absent_fields_and_sends_the_password() {
        let p = CredentialConnectionParams {
            connection_name: Some("trunkline ST_1".into()),
            user_name: Some("tl0123abcd".into()),
            password: Some(Secret::new("s3cret-pass")),
            outbound: Some(Outbound {
                outbound_voice_profile_id: Some("1293384261075731499".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"connection_name": "trunkline ST_1", "user_name": "tl0123abcd", "password": "s3cret-pass",
                   "outbound": {"outbound_voice_profile_id": "1293384261075731499"}})
        );
        assert!(!format!("{p:?}").contains("s3cret-pass"));
    }

    #[test]
    fn numeric_ids_are_read_as_strings() {
        let n: PhoneNumber = serde_json::from_value(
            json!({"id": 1293384261075731499u64, "record_type": "phone_number",
            "phone_number": "+13125550100", "connection_id": "1234", "connection_name": "c"}),
        )
        .unwrap();
        assert_eq!(n.id, "1293384261075731499");
        assert_eq!(n.connection_id.as_deref(), Some("1234"));
        let n: PhoneNumber =
            serde_json::from_value(json!({"id": "1", "record_type": "phone_number",
            "phone_number": "+13125550100", "connection_id": null}))
            .unwrap();
        assert_eq!(n.connection_id, None);
    }
}
