//! A credential or password that must never reach a log line, an error message or a `Debug`
//! dump. The value is reachable only through [`Secret::expose`], so every place that reads
//! it is greppable.

use serde::{Deserialize, Serialize};

/// What `Debug` prints instead of the value.
pub const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: for an `Authorization` header or a request body, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Replaces every occurrence of each non-trivial secret in `text`: a provider's error message
/// may quote a request field back (a password that is "too short"), and that message ends up
/// in trunkline's own errors.
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        // Very short values would blank out ordinary words; provider secrets are long.
        if s.0.len() >= 4 && out.contains(s.0.as_str()) {
            out = out.replace(s.0.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), REDACTED);
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Secret,
        }
        let dump = format!("{:?}", Holder { token: s.clone() });
        assert!(!dump.contains("hunter2"), "{dump}");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn serializes_as_the_plain_value_for_request_bodies() {
        let s = Secret::new("p@ss");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"p@ss\"");
        let back: Secret = serde_json::from_str("\"p@ss\"").unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn scrub_replaces_long_secrets_only() {
        let token = Secret::new("abcd1234token");
        let short = Secret::new("ab");
        let text = "password abcd1234token is wrong; ab stays";
        assert_eq!(
            scrub(text, &[&token, &short]),
            "password [redacted] is wrong; ab stays"
        );
    }
}
