//! `POST /provider-accounts` as sent, validated field by field: the provider, a name, and
//! that provider's credentials (and no other's).

use crate::ServiceError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trunkline_domain::ValidationErrors;
use trunkline_providers::exotel::SUBDOMAINS;
use trunkline_providers::twilio::is_sid;

/// The credentials of one account. Sealed at rest as this JSON; no `Debug`, so a value can
/// never be formatted into a log line.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum Credentials {
    Twilio {
        account_sid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auth_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_sid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_secret: Option<String>,
    },
    Exotel {
        account_sid: String,
        api_key: String,
        api_token: String,
        subdomain: String,
    },
    Telnyx {
        api_key: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, [redacted])", self.provider())
    }
}

impl Credentials {
    pub fn provider(&self) -> &'static str {
        match self {
            Credentials::Twilio { .. } => "twilio",
            Credentials::Exotel { .. } => "exotel",
            Credentials::Telnyx { .. } => "telnyx",
        }
    }

    /// The provider's account id shortened for display: enough to tell accounts apart, never
    /// a whole credential.
    pub fn hint(&self) -> String {
        fn tail(s: &str) -> String {
            let chars: Vec<char> = s.chars().collect();
            if chars.len() < 12 {
                return "…".into();
            }
            let last: String = chars[chars.len() - 4..].iter().collect();
            format!("…{last}")
        }
        match self {
            Credentials::Twilio { account_sid, .. } => format!("AC{}", tail(account_sid)),
            Credentials::Exotel { account_sid, .. } => tail(account_sid),
            Credentials::Telnyx { api_key } => tail(api_key),
        }
    }

    /// How a Twilio account authenticates (`auth_token` or `api_key`); `None` elsewhere.
    pub fn twilio_auth_method(&self) -> Option<&'static str> {
        match self {
            Credentials::Twilio { auth_token, .. } => Some(if auth_token.is_some() {
                "auth_token"
            } else {
                "api_key"
            }),
            _ => None,
        }
    }
}

/// A validated create request.
pub struct NewAccount {
    pub name: String,
    pub credentials: Credentials,
}

const FIELDS: [(&str, &[&str]); 3] = [
    (
        "twilio",
        &["account_sid", "auth_token", "api_key_sid", "api_key_secret"],
    ),
    (
        "exotel",
        &["account_sid", "api_key", "api_token", "subdomain"],
    ),
    ("telnyx", &["api_key"]),
];

const MAX_CREDENTIAL_LEN: usize = 512;

/// Reads and checks the body; every problem is named at once, by field.
pub fn parse(body: Value) -> Result<NewAccount, ServiceError> {
    let Value::Object(mut m) = body else {
        return Err(ServiceError::field("body", "must be a JSON object"));
    };
    let mut errors = ValidationErrors::default();
    let provider = match m.remove("provider") {
        Some(Value::String(p)) if FIELDS.iter().any(|(n, _)| *n == p) => Some(p),
        None | Some(Value::Null) => {
            errors.push(
                "provider",
                "is required: one of \"twilio\", \"exotel\", \"telnyx\"",
            );
            None
        }
        Some(_) => {
            errors.push(
                "provider",
                "must be one of \"twilio\", \"exotel\", \"telnyx\"",
            );
            None
        }
    };
    let name = match m.remove("name") {
        Some(Value::String(n))
            if !n.trim().is_empty()
                && n.chars().count() <= 128
                && !n.chars().any(char::is_control) =>
        {
            Some(n.trim().to_owned())
        }
        None | Some(Value::Null) => {
            errors.push("name", "is required: 1 to 128 characters");
            None
        }
        Some(_) => {
            errors.push(
                "name",
                "must be a string of 1 to 128 characters without control characters",
            );
            None
        }
    };
    let Some(provider) = provider else {
        return Err(errors.into());
    };
    let allowed = FIELDS
        .iter()
        .find(|(n, _)| *n == provider)
        .map(|(_, f)| *f)
        .unwrap_or_default();
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        if !allowed.contains(&k.as_str()) {
            errors.push(
                k.as_str(),
                format!(
                    "is not a field of a {provider} account: it takes {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    let credentials = match provider.as_str() {
        "twilio" => twilio(&mut m, &mut errors),
        "exotel" => exotel(&mut m, &mut errors),
        _ => text(&mut m, &mut errors, "api_key", true).map(|api_key| Credentials::Telnyx {
            api_key: api_key.unwrap_or_default(),
        }),
    };
    match (errors.is_empty(), name, credentials) {
        (true, Some(name), Some(credentials)) => Ok(NewAccount { name, credentials }),
        _ => Err(errors.into()),
    }
}

/// A credential string: present (when `required`), non-empty, printable, bounded. The value
/// is never quoted back.
fn text(
    m: &mut Map<String, Value>,
    errors: &mut ValidationErrors,
    field: &str,
    required: bool,
) -> Option<Option<String>> {
    match m.remove(field) {
        None | Some(Value::Null) if required => {
            errors.push(field, "is required");
            None
        }
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= MAX_CREDENTIAL_LEN
                && !s.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            Some(Some(s))
        }
        Some(_) => {
            errors.push(
                field,
                format!("must be a non-empty string without spaces, at most {MAX_CREDENTIAL_LEN} characters"),
            );
            None
        }
    }
}

fn twilio(m: &mut Map<String, Value>, errors: &mut ValidationErrors) -> Option<Credentials> {
    let before = errors.0.len();
    let account_sid = text(m, errors, "account_sid", true).flatten();
    if let Some(sid) = &account_sid {
        if !is_sid("AC", sid) {
            errors.push(
                "account_sid",
                "must be AC followed by 32 hex digits (the Account SID on the Twilio console's home page)",
            );
        }
    }
    let auth_token = text(m, errors, "auth_token", false).flatten();
    let api_key_sid = text(m, errors, "api_key_sid", false).flatten();
    let api_key_secret = text(m, errors, "api_key_secret", false).flatten();
    if let Some(sid) = &api_key_sid {
        if !is_sid("SK", sid) {
            errors.push("api_key_sid", "must be SK followed by 32 hex digits");
        }
    }
    match (&auth_token, &api_key_sid, &api_key_secret) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        (Some(_), _, _) => errors.push(
            "auth_token",
            "give either auth_token, or api_key_sid with api_key_secret, not both",
        ),
        (None, Some(_), None) => errors.push("api_key_secret", "is required with api_key_sid"),
        (None, None, Some(_)) => errors.push("api_key_sid", "is required with api_key_secret"),
        (None, None, None) => errors.push(
            "auth_token",
            "is required (or api_key_sid with api_key_secret)",
        ),
    }
    (errors.0.len() == before).then(|| Credentials::Twilio {
        account_sid: account_sid.unwrap_or_default(),
        auth_token,
        api_key_sid,
        api_key_secret,
    })
}

fn exotel(m: &mut Map<String, Value>, errors: &mut ValidationErrors) -> Option<Credentials> {
    let before = errors.0.len();
    let account_sid = text(m, errors, "account_sid", true).flatten();
    if let Some(sid) = &account_sid {
        if sid.len() > 64
            || !sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            errors.push(
                "account_sid",
                "must be letters, digits, '_' or '-' (at most 64), as on the Exotel dashboard's API settings",
            );
        }
    }
    let api_key = text(m, errors, "api_key", true).flatten();
    let api_token = text(m, errors, "api_token", true).flatten();
    let subdomain = match m.remove("subdomain") {
        Some(Value::String(s)) if SUBDOMAINS.contains(&s.as_str()) => Some(s),
        None | Some(Value::Null) => {
            errors.push(
                "subdomain",
                format!("is required: one of {}", SUBDOMAINS.join(", ")),
            );
            None
        }
        Some(_) => {
            errors.push(
                "subdomain",
                format!(
                    "must be one of {} (Singapore or Mumbai)",
                    SUBDOMAINS.join(", ")
                ),
            );
            None
        }
    };
    (errors.0.len() == before).then(|| Credentials::Exotel {
        account_sid: account_sid.unwrap_or_default(),
        api_key: api_key.unwrap_or_default(),
        api_token: api_token.unwrap_or_default(),
        subdomain: subdomain.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn fields(e: ServiceError) -> Vec<String> {
        match e {
            ServiceError::Invalid(v) => v.0.into_iter().map(|f| f.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_provider_takes_its_own_credentials() {
        let ok = [
            json!({"provider": "twilio", "name": "a", "account_sid": SID, "auth_token": "t0ken"}),
            json!({"provider": "twilio", "name": "a", "account_sid": SID,
                   "api_key_sid": "SK0123456789abcdef0123456789abcdef", "api_key_secret": "s"}),
            json!({"provider": "exotel", "name": "a", "account_sid": "acme1", "api_key": "k",
                   "api_token": "t", "subdomain": "api.in.exotel.com"}),
            json!({"provider": "telnyx", "name": "a", "api_key": "KEY0123"}),
        ];
        for body in ok {
            assert!(parse(body.clone()).is_ok(), "{body}");
        }
    }

    #[test]
    fn refusals_name_each_field() {
        let table = [
            (json!({}), vec!["provider", "name"]),
            (json!({"provider": "sinch", "name": "a"}), vec!["provider"]),
            (
                json!({"provider": "twilio", "name": "", "account_sid": "AC1", "auth_token": "t"}),
                vec!["name", "account_sid"],
            ),
            (
                json!({"provider": "twilio", "name": "a", "account_sid": SID}),
                vec!["auth_token"],
            ),
            (
                json!({"provider": "twilio", "name": "a", "account_sid": SID, "auth_token": "t",
                       "api_key_sid": "SK0123456789abcdef0123456789abcdef", "api_key_secret": "s"}),
                vec!["auth_token"],
            ),
            (
                json!({"provider": "twilio", "name": "a", "account_sid": SID, "auth_token": "t", "api_key": "x"}),
                vec!["api_key"],
            ),
            (
                json!({"provider": "exotel", "name": "a", "account_sid": "a b", "api_key": "k",
                       "api_token": 5, "subdomain": "api.exotel.org"}),
                vec!["account_sid", "api_token", "subdomain"],
            ),
            (json!({"provider": "telnyx", "name": "a"}), vec!["api_key"]),
        ];
        for (body, want) in table {
            let got = fields(parse(body.clone()).err().expect("refused"));
            assert_eq!(got, want, "{body}");
        }
    }

    #[test]
    fn debug_and_hint_never_show_a_secret() {
        let c = Credentials::Telnyx {
            api_key: "KEY_super_secret_value_9876".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
        assert_eq!(c.hint(), "…9876");
        let t = Credentials::Twilio {
            account_sid: SID.into(),
            auth_token: Some("tok".into()),
            api_key_sid: None,
            api_key_secret: None,
        };
        assert_eq!(t.hint(), "AC…cdef");
        assert_eq!(t.twilio_auth_method(), Some("auth_token"));
    }
}
