//! Exotel vSIP objects (EX-REF §1–11, EX-AS snippets). Ids are numeric strings in every
//! example; numbers are accepted too, in case a deployment sends them unquoted.

use crate::ids::{id_string, opt_id_string};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Trunk {
    /// Lowercase, 28 characters, `trmum…` in every example.
    pub trunk_sid: String,
    pub trunk_name: String,
    /// `active` or `inactive`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub domain_name: Option<String>,
    /// `IP-WHITELIST` in every example.
    #[serde(default)]
    pub auth_type: Option<String>,
    #[serde(default)]
    pub registration_enabled: Option<String>,
    #[serde(default)]
    pub edge_preference: Option<String>,
    #[serde(default)]
    pub nso_code: Option<String>,
    #[serde(default)]
    pub secure_trunking: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

/// `POST /trunks`: all three required.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateTrunk {
    /// Letters, digits and `_`, at most 16, unique in the account.
    pub trunk_name: String,
    pub nso_code: String,
    pub domain_name: String,
}

/// How Exotel routes a mapped number: to the PSTN through the trunk, or to a Flow
/// (StreamKit / Voice AI). An absent mode is stored as `null` and means `pstn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberMode {
    Pstn,
    Flow,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NumberMapping {
    /// The mapping's id (not the number): what an update addresses.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub phone_number: String,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(default)]
    pub mode: Option<NumberMode>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

impl NumberMapping {
    /// The mode in effect (`null` is pstn).
    pub fn effective_mode(&self) -> NumberMode {
        self.mode.unwrap_or(NumberMode::Pstn)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MapNumber<'a> {
    pub phone_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<NumberMode>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WhitelistedIp {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub ip: String,
    #[serde(default)]
    pub mask: Option<u8>,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct WhitelistIp {
    pub ip: String,
    pub mask: u8,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DestinationUri {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Stored with a `sip:` prefix: `sip:host:port;transport=tls`.
    pub destination: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Destinations {
    pub destinations: Vec<Destination>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Destination {
    pub destination: String,
}

/// A digest credential of the trunk. EX-AS's create answer carries `id, trunk_sid,
/// user_name, friendly_name`; EX-REF's GET shows `{username, password}`: both spellings are
/// read, and a returned password stays a [`Secret`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrunkCredential {
    #[serde(default, deserialize_with = "opt_id_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(alias = "username")]
    pub user_name: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub date_created: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CreateCredential<'a> {
    pub user_name: &'a str,
    pub password: &'a Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<&'a str>,
}

/// One of the account's numbers (`GET /v2_beta/Accounts/{sid}/IncomingPhoneNumbers`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExoPhone {
    #[serde(deserialize_with = "id_string")]
    pub sid: String,
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// The Flow the number is assigned to, as `http://my.exotel.com/{sid}/exoml/start_voice/{app_id}`.
    #[serde(default)]
    pub voice_url: Option<String>,
    #[serde(default)]
    pub capabilities: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_examples_and_both_credential_spellings() {
        let m: NumberMapping =
            serde_json::from_value(json!({"id": "41512", "phone_number": "+919876543210",
            "trunk_sid": "trmum1a2b3c4d5e6f7890123456", "mode": null}))
            .unwrap();
        assert_eq!(m.effective_mode(), NumberMode::Pstn);
        let m: NumberMapping =
            serde_json::from_value(json!({"id": 41523, "phone_number": "+1", "mode": "flow"}))
                .unwrap();
        assert_eq!(
            (m.id.as_str(), m.effective_mode()),
            ("41523", NumberMode::Flow)
        );
        let c: TrunkCredential =
            serde_json::from_value(json!({"username": "trmum1", "password": "Xk9mP2nQ4rS6tU8v"}))
                .unwrap();
        assert_eq!(c.user_name, "trmum1");
        assert!(!format!("{c:?}").contains("Xk9mP2nQ4rS6tU8v"));
        let c: TrunkCredential = serde_json::from_value(
            json!({"id": "1234", "trunk_sid": "t", "user_name": "u", "friendly_name": "f"}),
        )
        .unwrap();
        assert_eq!(c.id.as_deref(), Some("1234"));
    }

    #[test]
    fn map_number_omits_an_absent_mode() {
        let body = MapNumber {
            phone_number: "+91",
            mode: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"phone_number":"+91"}"#
        );
        let body = MapNumber {
            phone_number: "+91",
            mode: Some(NumberMode::Flow),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"phone_number":"+91","mode":"flow"}"#
        );
    }
}
