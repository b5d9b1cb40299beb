//! Trunk configurations and their validation.
//!
//! Raw inputs (`Raw*`) hold what a client sent, each field optional so a missing one gets our
//! own "is required" message rather than a deserializer's. `validate` turns a raw input into a
//! config that is correct by construction, or into every rule it broke.

use crate::errors::{FieldError, ValidationErrors};
use crate::number::{quote, E164};
use crate::secret::Secret;
use crate::sip_address::{HostName, SipAddress};
use crate::text;
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                match raw {
                    $($s => Ok($name::$variant),)+
                    _ => Err(FieldError::new(field, format!(
                        "must be one of {}; got {}",
                        [$(concat!("\"", $s, "\"")),+].join(", "),
                        quote(raw),
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Who is on the other end of the trunk. twilio, telnyx and sip share one configuration and
    /// are provisioned the same way; exotel goes through the bridge.
    TrunkType { Twilio => "twilio", Exotel => "exotel", Telnyx => "telnyx", Sip => "sip" }
);
string_enum!(
    /// SIP transport toward the provider (seed 001: "Auto" is the recommended default).
    Transport { Auto => "auto", Udp => "udp", Tcp => "tcp", Tls => "tls" }
);
string_enum!(
    /// SRTP policy (seed 001: disabled for testing, allowed/required in production).
    MediaEncryption { Disabled => "disabled", Allowed => "allowed", Required => "required" }
);

/// The configuration of a twilio, telnyx or generic SIP trunk: what LiveKit needs to send
/// INVITEs to the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct SipTrunkConfig {
    pub address: SipAddress,
    pub numbers: Vec<E164>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub transport: Transport,
    pub media_encryption: MediaEncryption,
}

/// An Exotel trunk. Exotel accepts calls only from a whitelisted static IP over TCP/TLS, so
/// its LiveKit side goes through trunkline's bridge rather than straight to Exotel.
#[derive(Debug, Clone, PartialEq)]
pub struct ExotelConfig {
    pub exotel_number: E164,
    pub sip_host: Option<HostName>,
    pub sip_port: Option<u16>,
    pub sip_domain: Option<HostName>,
    pub auth_username: Option<String>,
    pub auth_password: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrunkConfig {
    Sip(SipTrunkConfig),
    Exotel(ExotelConfig),
}

impl TrunkConfig {
    /// The name of every secret field this configuration holds a value for.
    pub fn secrets(&self) -> Vec<(&'static str, &Secret)> {
        match self {
            Self::Sip(c) => c.password.iter().map(|p| ("password", p)).collect(),
            Self::Exotel(c) => c
                .auth_password
                .iter()
                .map(|p| ("auth_password", p))
                .collect(),
        }
    }
}

/// What a client sent as `trunk_config` for twilio, telnyx or sip. Also the shape of a PATCH.
/// No `Debug`: it holds the password in clear.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSipTrunkConfig {
    pub address: Option<String>,
    pub numbers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub password: Option<Option<String>>,
    pub transport: Option<String>,
    pub media_encryption: Option<String>,
}

/// What a client sent as `trunk_config` for exotel. Also the shape of a PATCH.
/// No `Debug`: it holds the password in clear.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExotelConfig {
    pub exotel_number: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub sip_host: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub sip_port: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub sip_domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub auth_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub auth_password: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`): in a PATCH, null clears an optional field.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn required<'a, T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&'a T>,
) -> Option<&'a T> {
    if value.is_none() {
        errors.push(field, "is required");
    }
    value
}

/// Parses, de-duplicates (keeping the first occurrence) and requires at least one number.
pub fn validate_numbers(errors: &mut ValidationErrors, field: &str, raw: &[String]) -> Vec<E164> {
    if raw.is_empty() {
        errors.push(field, "must list at least one E.164 number");
    }
    if raw.len() > 1000 {
        errors.push(field, "must list at most 1000 numbers");
        return Vec::new();
    }
    let mut out: Vec<E164> = Vec::with_capacity(raw.len());
    for (i, n) in raw.iter().enumerate() {
        if let Some(n) = errors.take(E164::parse(&format!("{field}[{i}]"), n)) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

impl RawSipTrunkConfig {
    /// Validates a complete configuration. Twilio requires credentials (seed 000: Account SID
    /// and Auth Token); telnyx and sip trunks may authenticate by IP instead, but a username
    /// without a password (or the reverse) is always a mistake.
    pub fn validate(
        &self,
        kind: TrunkType,
        prefix: &str,
    ) -> Result<SipTrunkConfig, ValidationErrors> {
        let f = |name: &str| format!("{prefix}.{name}");
        let mut errors = ValidationErrors::default();
        let address = required(&mut errors, &f("address"), self.address.as_ref())
            .and_then(|a| errors.take(SipAddress::parse(&f("address"), a)));
        let numbers = match required(&mut errors, &f("numbers"), self.numbers.as_ref()) {
            Some(raw) => validate_numbers(&mut errors, &f("numbers"), raw),
            None => Vec::new(),
        };
        let (raw_user, raw_pass) = (
            self.username.clone().flatten(),
            self.password.clone().flatten(),
        );
        let username = raw_user
            .as_ref()
            .and_then(|u| errors.take(text::credential(&f("username"), u)));
        let password = raw_pass
            .as_ref()
            .and_then(|p| errors.take(text::credential(&f("password"), p)));
        match (raw_user.is_some(), raw_pass.is_some()) {
            (false, false) if kind == TrunkType::Twilio => {
                errors.push(
                    f("username"),
                    "is required for twilio trunks (your Twilio credential list user name)",
                );
                errors.push(
                    f("password"),
                    "is required for twilio trunks (your Twilio credential list password)",
                );
            }
            (true, false) => errors.push(f("password"), "is required when username is set"),
            (false, true) => errors.push(f("username"), "is required when password is set"),
            _ => {}
        }
        let transport = match &self.transport {
            Some(t) => errors.take(Transport::parse(&f("transport"), t)),
            None => Some(Transport::Auto),
        };
        let media_encryption = match &self.media_encryption {
            Some(m) => errors.take(MediaEncryption::parse(&f("media_encryption"), m)),
            None => Some(MediaEncryption::Disabled),
        };
        errors.into_result(|| SipTrunkConfig {
            address: address.expect("checked"),
            numbers,
            username,
            password: password.map(Secret::new),
            transport: transport.expect("checked"),
            media_encryption: media_encryption.expect("checked"),
        })
    }

    /// Applies this PATCH over `current` and validates the result as a whole.
    pub fn apply_to(
        &self,
        current: &SipTrunkConfig,
        kind: TrunkType,
        prefix: &str,
    ) -> Result<SipTrunkConfig, ValidationErrors> {
        let merged = RawSipTrunkConfig {
            address: self
                .address
                .clone()
                .or_else(|| Some(current.address.to_string())),
            numbers: self.numbers.clone().or_else(|| {
                Some(
                    current
                        .numbers
                        .iter()
                        .map(|n| n.as_str().to_owned())
                        .collect(),
                )
            }),
            username: self
                .username
                .clone()
                .or_else(|| Some(current.username.clone())),
            password: self
                .password
                .clone()
                .or_else(|| Some(current.password.as_ref().map(|p| p.expose().to_owned()))),
            transport: self
                .transport
                .clone()
                .or_else(|| Some(current.transport.as_str().into())),
            media_encryption: self
                .media_encryption
                .clone()
                .or_else(|| Some(current.media_encryption.as_str().into())),
        };
        merged.validate(kind, prefix)
    }
}

impl RawExotelConfig {
    pub fn validate(&self, prefix: &str) -> Result<ExotelConfig, ValidationErrors> {
        let f = |name: &str| format!("{prefix}.{name}");
        let mut errors = ValidationErrors::default();
        let number = required(
            &mut errors,
            &f("exotel_number"),
            self.exotel_number.as_ref(),
        )
        .and_then(|n| errors.take(E164::parse_indian(&f("exotel_number"), n)));
        let sip_host = self
            .sip_host
            .clone()
            .flatten()
            .and_then(|h| errors.take(HostName::parse(&f("sip_host"), &h)));
        let sip_port = match self.sip_port.flatten() {
            None => None,
            Some(p) if (1..=65535).contains(&p) => Some(p as u16),
            Some(p) => {
                errors.push(
                    f("sip_port"),
                    format!("must be a port from 1 to 65535; got {p}"),
                );
                None
            }
        };
        let sip_domain = self
            .sip_domain
            .clone()
            .flatten()
            .and_then(|d| errors.take(HostName::domain(&f("sip_domain"), &d)));
        let user = self.auth_username.clone().flatten();
        let pass = self.auth_password.clone().flatten();
        match (&user, &pass) {
            (Some(_), None) => {
                errors.push(f("auth_password"), "is required when auth_username is set")
            }
            (None, Some(_)) => {
                errors.push(f("auth_username"), "is required when auth_password is set")
            }
            _ => {}
        }
        let user = user.and_then(|u| errors.take(text::credential(&f("auth_username"), &u)));
        let pass = pass.and_then(|p| errors.take(text::credential(&f("auth_password"), &p)));
        errors.into_result(|| ExotelConfig {
            exotel_number: number.expect("checked"),
            sip_host,
            sip_port,
            sip_domain,
            auth_username: user,
            auth_password: pass.map(Secret::new),
        })
    }

    pub fn apply_to(
        &self,
        current: &ExotelConfig,
        prefix: &str,
    ) -> Result<ExotelConfig, ValidationErrors> {
        let keep =
            |patch: &Option<Option<String>>, cur: Option<String>| patch.clone().or(Some(cur));
        let merged = RawExotelConfig {
            exotel_number: self
                .exotel_number
                .clone()
                .or_else(|| Some(current.exotel_number.as_str().to_owned())),
            sip_host: keep(
                &self.sip_host,
                current.sip_host.as_ref().map(|h| h.to_string()),
            ),
            sip_port: self.sip_port.or(Some(current.sip_port.map(i64::from))),
            sip_domain: keep(
                &self.sip_domain,
                current.sip_domain.as_ref().map(|h| h.to_string()),
            ),
            auth_username: keep(&self.auth_username, current.auth_username.clone()),
            auth_password: keep(
                &self.auth_password,
                current
                    .auth_password
                    .as_ref()
                    .map(|p| p.expose().to_owned()),
            ),
        };
        merged.validate(prefix)
    }
}

/// The non-secret part of a configuration, as stored and as shown to its owner. Secret fields
/// appear only as `<name>_set: bool`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum PublicConfig {
    Sip {
        address: String,
        numbers: Vec<String>,
        username: Option<String>,
        password_set: bool,
        transport: String,
        media_encryption: String,
    },
    Exotel {
        exotel_number: String,
        sip_host: Option<String>,
        sip_port: Option<u16>,
        sip_domain: Option<String>,
        auth_username: Option<String>,
        auth_password_set: bool,
    },
}

impl TrunkConfig {
    pub fn public(&self) -> PublicConfig {
        match self {
            Self::Sip(c) => PublicConfig::Sip {
                address: c.address.to_string(),
                numbers: c.numbers.iter().map(|n| n.as_str().to_owned()).collect(),
                username: c.username.clone(),
                password_set: c.password.is_some(),
                transport: c.transport.as_str().into(),
                media_encryption: c.media_encryption.as_str().into(),
            },
            Self::Exotel(c) => PublicConfig::Exotel {
                exotel_number: c.exotel_number.as_str().to_owned(),
                sip_host: c.sip_host.as_ref().map(|h| h.to_string()),
                sip_port: c.sip_port,
                sip_domain: c.sip_domain.as_ref().map(|h| h.to_string()),
                auth_username: c.auth_username.clone(),
                auth_password_set: c.auth_password.is_some(),
            },
        }
    }

    /// Rebuilds a configuration from its stored public part and its unsealed secrets. The
    /// stored part was validated on the way in; it is validated again so a hand-edited row
    /// cannot smuggle in what the API would refuse.
    pub fn from_stored(
        kind: TrunkType,
        public: &PublicConfig,
        secret: impl Fn(&str) -> Option<Secret>,
    ) -> Result<Self, ValidationErrors> {
        match (kind, public) {
            (
                TrunkType::Exotel,
                PublicConfig::Exotel {
                    exotel_number,
                    sip_host,
                    sip_port,
                    sip_domain,
                    auth_username,
                    ..
                },
            ) => {
                let raw = RawExotelConfig {
                    exotel_number: Some(exotel_number.clone()),
                    sip_host: Some(sip_host.clone()),
                    sip_port: Some(sip_port.map(i64::from)),
                    sip_domain: Some(sip_domain.clone()),
                    auth_username: Some(auth_username.clone()),
                    auth_password: Some(secret("auth_password").map(|s| s.expose().to_owned())),
                };
                raw.validate("stored").map(Self::Exotel)
            }
            (
                kind,
                PublicConfig::Sip {
                    address,
                    numbers,
                    username,
                    transport,
                    media_encryption,
                    ..
                },
            ) if kind != TrunkType::Exotel => {
                let raw = RawSipTrunkConfig {
                    address: Some(address.clone()),
                    numbers: Some(numbers.clone()),
                    username: Some(username.clone()),
                    password: Some(secret("password").map(|s| s.expose().to_owned())),
                    transport: Some(transport.clone()),
                    media_encryption: Some(media_encryption.clone()),
                };
                raw.validate(kind, "stored").map(Self::Sip)
            }
            _ => {
                Err(FieldError::new("stored", "configuration does not match the trunk type").into())
            }
        }
    }
}

#[cfg(test)]
#[path = "trunk_tests.rs"]
mod tests;
