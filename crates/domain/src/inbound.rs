//! Inbound trunks: which calls LiveKit accepts from a provider. LiveKit's rule, enforced here
//! before anything is provisioned: a trunk must say how a call is recognised as its own — by
//! the number dialed, the source address, or digest credentials — or it would accept anyone.

use crate::errors::{FieldError, ValidationErrors};
use crate::number::quote;
use crate::secret::Secret;
use crate::text;
use crate::trunk::{validate_numbers, MediaEncryption};
use crate::E164;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;

/// The longest ringing or call a trunk may ask for: LiveKit bounds calls by these, and a
/// day-long "ringing" is always a unit mistake (milliseconds for seconds).
const MAX_RINGING_SECS: u64 = 600;
const MAX_CALL_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq)]
pub struct InboundTrunkConfig {
    pub numbers: Vec<E164>,
    pub allowed_addresses: Vec<IpNet>,
    pub allowed_numbers: Vec<E164>,
    pub auth_username: Option<String>,
    pub auth_password: Option<Secret>,
    pub krisp_enabled: bool,
    pub ringing_timeout_secs: Option<u64>,
    pub max_call_duration_secs: Option<u64>,
    pub media_encryption: MediaEncryption,
}

/// What a client sent, in trunkline's snake_case. No `Debug`: it holds the password in clear.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInboundTrunk {
    pub name: Option<String>,
    pub numbers: Option<Vec<String>>,
    pub allowed_addresses: Option<Vec<String>>,
    pub allowed_numbers: Option<Vec<String>>,
    pub auth_username: Option<String>,
    pub auth_password: Option<String>,
    pub krisp_enabled: Option<bool>,
    /// Seconds.
    pub ringing_timeout: Option<u64>,
    /// Seconds.
    pub max_call_duration: Option<u64>,
    pub media_encryption: Option<String>,
}

/// An address LiveKit accepts calls from: an IP (`203.0.113.7`) or a network
/// (`203.0.113.0/24`), normalized to its network address.
pub fn parse_address(field: &str, raw: &str) -> Result<IpNet, FieldError> {
    let rule = "must be an IP address (203.0.113.7) or a CIDR network (203.0.113.0/24)";
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = raw
        .parse()
        .map_err(|_| FieldError::new(field, format!("{rule}; got {}", quote(raw))))?;
    if net.prefix_len() == 0 {
        return Err(FieldError::new(field, "must not be 0.0.0.0/0 or ::/0: that admits every address on the internet; use auth_username/auth_password instead"));
    }
    Ok(net.trunc())
}

fn duration(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<u64>,
    max: u64,
) -> Option<u64> {
    match value {
        Some(0) => {
            errors.push(
                field,
                format!("must be 1 to {max} seconds (leave it out for LiveKit's default)"),
            );
            None
        }
        Some(v) if v > max => {
            errors.push(field, format!("must be 1 to {max} seconds; got {v}"));
            None
        }
        other => other,
    }
}

impl RawInboundTrunk {
    /// Validates a whole inbound trunk; `name` comes back trimmed.
    pub fn validate(&self) -> Result<(String, InboundTrunkConfig), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = text::required_name(&mut errors, "name", self.name.as_deref(), 100);
        // Unlike an outbound trunk, an inbound trunk may list no numbers (it then matches
        // calls by address or credentials, for any number).
        let numbers = match &self.numbers {
            Some(n) if !n.is_empty() => validate_numbers(&mut errors, "numbers", n),
            _ => Vec::new(),
        };
        let allowed_numbers = match &self.allowed_numbers {
            Some(n) if !n.is_empty() => validate_numbers(&mut errors, "allowed_numbers", n),
            _ => Vec::new(),
        };
        let mut allowed_addresses: Vec<IpNet> = Vec::new();
        for (i, a) in self.allowed_addresses.iter().flatten().enumerate() {
            if let Some(net) = errors.take(parse_address(&format!("allowed_addresses[{i}]"), a)) {
                if !allowed_addresses.contains(&net) {
                    allowed_addresses.push(net);
                }
            }
        }
        let (user, pass) = (&self.auth_username, &self.auth_password);
        match (user, pass) {
            (Some(_), None) => {
                errors.push("auth_password", "is required when auth_username is set")
            }
            (None, Some(_)) => {
                errors.push("auth_username", "is required when auth_password is set")
            }
            _ => {}
        }
        let user = user
            .as_ref()
            .and_then(|u| errors.take(text::credential("auth_username", u)));
        let pass = pass
            .as_ref()
            .and_then(|p| errors.take(text::credential("auth_password", p)));
        let has_numbers = self.numbers.as_ref().is_some_and(|n| !n.is_empty());
        let has_addresses = self
            .allowed_addresses
            .as_ref()
            .is_some_and(|a| !a.is_empty());
        let has_auth = self.auth_username.is_some() && self.auth_password.is_some();
        if !(has_numbers || has_addresses || has_auth) {
            errors.push(
                "numbers",
                "an inbound trunk needs numbers, allowed_addresses, or auth_username and auth_password (LiveKit refuses a trunk that would accept any caller)",
            );
        }
        let ringing = duration(
            &mut errors,
            "ringing_timeout",
            self.ringing_timeout,
            MAX_RINGING_SECS,
        );
        let max_call = duration(
            &mut errors,
            "max_call_duration",
            self.max_call_duration,
            MAX_CALL_SECS,
        );
        let media_encryption = match &self.media_encryption {
            Some(m) => errors.take(MediaEncryption::parse("media_encryption", m)),
            None => Some(MediaEncryption::Disabled),
        };
        errors.into_result(|| {
            (
                name.expect("checked"),
                InboundTrunkConfig {
                    numbers,
                    allowed_addresses,
                    allowed_numbers,
                    auth_username: user,
                    auth_password: pass.map(Secret::new),
                    krisp_enabled: self.krisp_enabled.unwrap_or(false),
                    ringing_timeout_secs: ringing,
                    max_call_duration_secs: max_call,
                    media_encryption: media_encryption.expect("checked"),
                },
            )
        })
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
