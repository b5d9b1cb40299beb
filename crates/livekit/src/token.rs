//! LiveKit access tokens: HS256 JWTs whose `iss` is the API key and whose grants sit at the top
//! level of the claims (livekit/protocol `auth/grants.go`). LiveKit requires `exp`.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SipGrant {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub call: bool,
}

/// The `video` grant (`auth/grants.go` `VideoGrant`), in LiveKit's camelCase: only the fields
/// trunkline's calls need (rooms, agent dispatch, transfers).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VideoGrant {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_create: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_list: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_admin: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub room: String,
    /// The room `MoveParticipant` may move into (`destinationRoom`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub destination_room: String,
}

/// What one request's token grants.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub sip: Option<SipGrant>,
    pub video: Option<VideoGrant>,
}

impl From<SipGrant> for Grants {
    fn from(sip: SipGrant) -> Self {
        Self {
            sip: Some(sip),
            video: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub nbf: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<SipGrant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoGrant>,
}

/// Tokens live five minutes: long enough for a slow request, short enough that a leaked one
/// is soon useless.
const LIFETIME_SECS: u64 = 300;

pub(crate) fn sign(api_key: &str, api_secret: &str, grants: impl Into<Grants>) -> String {
    let grants = grants.into();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let claims = Claims {
        iss: api_key.to_owned(),
        sub: "trunkline".to_owned(),
        nbf: now.saturating_sub(5),
        exp: now + LIFETIME_SECS,
        sip: grants.sip,
        video: grants.video,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(api_secret.as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    #[test]
    fn token_carries_key_grant_and_expiry() {
        let jwt = sign(
            "APIkey",
            "secret",
            SipGrant {
                admin: true,
                call: false,
            },
        );
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "iss"]);
        let data =
            decode::<serde_json::Value>(&jwt, &DecodingKey::from_secret(b"secret"), &v).unwrap();
        assert_eq!(data.claims["iss"], "APIkey");
        assert_eq!(data.claims["sip"], serde_json::json!({"admin": true}));
        assert!(data.claims["exp"].as_u64().unwrap() > data.claims["nbf"].as_u64().unwrap());
        assert!(
            decode::<serde_json::Value>(&jwt, &DecodingKey::from_secret(b"other"), &v).is_err()
        );
    }
}
