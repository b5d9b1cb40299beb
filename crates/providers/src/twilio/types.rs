//! Twilio's objects as it returns them (JSON, snake_case) and the parameters trunkline sends
//! (form-encoded, PascalCase; booleans as `true`/`false`). Fields follow twilio-oai's
//! `twilio_trunking_v1.json` and `twilio_api_v2010.json`; optional ones default, so that a
//! field Twilio adds or leaves null never breaks a read.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `GET /2010-04-01/Accounts/{Sid}.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Account {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// `active`, `suspended` or `closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// `Trial` or `Full`.
    #[serde(default, rename = "type")]
    pub account_type: Option<String>,
}

/// An Elastic SIP Trunk (`TK…`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Trunk {
    pub sid: String,
    pub account_sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// `<name>.pstn.twilio.com`: the termination URI LiveKit dials out to.
    #[serde(default)]
    pub domain_name: Option<String>,
    #[serde(default)]
    pub disaster_recovery_url: Option<String>,
    #[serde(default)]
    pub disaster_recovery_method: Option<String>,
    #[serde(default)]
    pub secure: bool,
    #[serde(default)]
    pub cnam_lookup_enabled: bool,
    #[serde(default)]
    pub transfer_mode: Option<String>,
    #[serde(default)]
    pub transfer_caller_id: Option<String>,
    /// `""` (no termination traffic), `CREDENTIAL_LIST`, `IP_ACL`, or both comma-joined.
    #[serde(default)]
    pub auth_type: Option<String>,
    #[serde(default)]
    pub auth_type_set: Vec<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// Create and update fields of a trunk. None is required; an absent field is not sent, so an
/// update changes only what is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrunkParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disaster_recovery_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disaster_recovery_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnam_lookup_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_caller_id: Option<String>,
}

/// Where Twilio sends a trunk's inbound calls (`OU…`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OriginationUrl {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub trunk_sid: String,
    pub weight: u32,
    pub priority: u32,
    pub enabled: bool,
    pub sip_url: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// Create: all five are required by the spec and by twilio-python's `create()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginationUrlParams {
    /// 1–65535; higher takes more of the load.
    pub weight: u32,
    /// 0–65535; lowest is tried first.
    pub priority: u32,
    pub enabled: bool,
    pub friendly_name: String,
    /// A `sip:` URI (`sips:` is not supported).
    pub sip_url: String,
}

/// Update: any subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginationUrlUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_url: Option<String>,
}

/// A credential list or IP access control list associated with a trunk; its `sid` is the
/// associated list's (`CL…` / `AL…`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrunkAssociation {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub trunk_sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// A phone number, as IncomingPhoneNumbers and a trunk's PhoneNumbers return it (`PN…`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PhoneNumber {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    /// E.164.
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// The trunk the number is associated with, if any.
    #[serde(default)]
    pub trunk_sid: Option<String>,
    /// Set when the number is on Programmable Voice (webhooks) rather than a trunk.
    #[serde(default)]
    pub voice_url: Option<String>,
    #[serde(default)]
    pub voice_application_sid: Option<String>,
    #[serde(default)]
    pub capabilities: Option<serde_json::Value>,
}

/// A 2010 SIP credential list (`CL…`), account-wide.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CredentialList {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub friendly_name: String,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// A username in a credential list (`CR…`). Twilio never returns the password.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Credential {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub credential_list_sid: String,
    pub username: String,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FriendlyNameParam<'a> {
    pub friendly_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CredentialParams<'a> {
    pub username: &'a str,
    pub password: &'a Secret,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PasswordParam<'a> {
    pub password: &'a Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_encode_pascal_case_and_skip_absent_fields() {
        let p = TrunkParams {
            friendly_name: Some("trunkline ST_1".into()),
            domain_name: Some("tl-abc.pstn.twilio.com".into()),
            secure: Some(false),
            ..Default::default()
        };
        assert_eq!(
            serde_urlencoded::to_string(&p).unwrap(),
            "FriendlyName=trunkline+ST_1&DomainName=tl-abc.pstn.twilio.com&Secure=false"
        );
        let o = OriginationUrlParams {
            weight: 1,
            priority: 1,
            enabled: true,
            friendly_name: "lk".into(),
            sip_url: "sip:x.sip.livekit.cloud".into(),
        };
        assert_eq!(
            serde_urlencoded::to_string(&o).unwrap(),
            "Weight=1&Priority=1&Enabled=true&FriendlyName=lk&SipUrl=sip%3Ax.sip.livekit.cloud"
        );
        let c = CredentialParams {
            username: "u",
            password: &Secret::new("Pa55word1234"),
        };
        assert_eq!(
            serde_urlencoded::to_string(&c).unwrap(),
            "Username=u&Password=Pa55word1234"
        );
    }

    #[test]
    fn reads_the_spec_example_shape() {
        let trunk: Trunk = serde_json::from_value(serde_json::json!({
            "sid": "TK11111111111111111111111111111111",
            "account_sid": "AC11111111111111111111111111111111",
            "friendly_name": "friendly_name",
            "domain_name": "test.pstn.twilio.com",
            "disaster_recovery_method": "POST",
            "disaster_recovery_url": "http://disaster-recovery.com",
            "secure": false,
            "recording": {"mode": "do-not-record", "trim": "do-not-trim"},
            "transfer_mode": "disable-all",
            "transfer_caller_id": "from-transferee",
            "cnam_lookup_enabled": false,
            "auth_type": "",
            "symmetric_rtp_enabled": false,
            "auth_type_set": [],
            "date_created": "2015-01-02T11:23:45Z",
            "date_updated": "2015-01-02T11:23:45Z",
            "url": "https://trunking.twilio.com/v1/Trunks/TK11111111111111111111111111111111",
            "links": {}
        }))
        .unwrap();
        assert_eq!(trunk.domain_name.as_deref(), Some("test.pstn.twilio.com"));
        assert_eq!(trunk.auth_type.as_deref(), Some(""));
    }
}
