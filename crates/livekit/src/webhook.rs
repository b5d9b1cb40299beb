//! Verifying LiveKit's webhooks (livekit/protocol `webhook/verifier.go`): the `Authorization`
//! header is the raw JWT (no "Bearer"), HS256 with the API secret, issued by the API key, and
//! its `sha256` claim is the standard base64 of the SHA-256 of the exact body bytes. Anything
//! else is refused before the body is even parsed.

use base64::Engine;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use livekit_protocol as proto;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("no Authorization header")]
    MissingToken,
    #[error("the token is not a valid LiveKit token for this API key: {0}")]
    BadToken(String),
    #[error("the body does not match the token's sha256 claim")]
    BodyMismatch,
    #[error("the body is not a LiveKit webhook event: {0}")]
    BadBody(String),
}

const NBF_AND_EXP_LEEWAY_SECS: u64 = 60;

#[derive(Deserialize)]
struct WebhookClaims {
    iss: String,
    #[serde(default)]
    sha256: String,
}

/// Checks signature, issuer, expiry and body hash, then parses the protojson event.
pub fn verify_webhook(
    api_key: &str,
    api_secret: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<proto::WebhookEvent, WebhookError> {
    let token = authorization
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(WebhookError::MissingToken)?;
    // Some proxies and SDKs add the scheme; LiveKit's verifier does not, but tolerating it
    // changes nothing about what is verified.
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(&["exp", "iss"]);
    // A token not valid yet is refused like an expired one; the leeway covers clock skew
    // between LiveKit and this host (LiveKit's own verifier allows a minute too).
    v.validate_nbf = true;
    v.leeway = NBF_AND_EXP_LEEWAY_SECS;
    let data = decode::<WebhookClaims>(token, &DecodingKey::from_secret(api_secret.as_bytes()), &v)
        .map_err(|e| WebhookError::BadToken(e.to_string()))?;
    if data.claims.iss != api_key {
        return Err(WebhookError::BadToken("issued for another API key".into()));
    }
    let digest = Sha256::digest(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(digest);
    // The hash is public (it is in the token); a plain comparison leaks nothing.
    if data.claims.sha256 != expected {
        return Err(WebhookError::BodyMismatch);
    }
    serde_json::from_slice::<proto::WebhookEvent>(body)
        .map_err(|e| WebhookError::BadBody(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    fn token(secret: &str, iss: &str, body: &[u8], exp_offset: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = serde_json::json!({
            "iss": iss, "nbf": now - 5, "exp": now + exp_offset,
            "sha256": base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)),
        });
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    const BODY: &[u8] =
        br#"{"event":"room_finished","room":{"name":"CL_x"},"id":"EV_1","createdAt":"1700000000"}"#;

    #[test]
    fn a_signed_event_verifies_and_parses() {
        let t = token("secret", "key", BODY, 300);
        let ev = verify_webhook("key", "secret", Some(&t), BODY).unwrap();
        assert_eq!(ev.event, "room_finished");
        assert_eq!(ev.room.unwrap().name, "CL_x");
        assert_eq!(ev.id, "EV_1");
    }

    #[test]
    fn a_token_not_valid_yet_is_refused_beyond_the_leeway() {
        let body = br#"{"event":"room_finished","room":{"name":"CL_x"}}"#;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let with_nbf = |nbf: i64| {
            let claims = serde_json::json!({
                "iss": "key", "nbf": nbf, "exp": now + 600,
                "sha256": base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)),
            });
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"secret"),
            )
            .unwrap()
        };
        let future = with_nbf(now + 300);
        assert!(matches!(
            verify_webhook("key", "secret", Some(&future), body),
            Err(WebhookError::BadToken(_))
        ));
        let skewed = with_nbf(now + 20);
        assert!(verify_webhook("key", "secret", Some(&skewed), body).is_ok());
    }

    #[test]
    fn forgeries_are_refused() {
        let good = token("secret", "key", BODY, 300);
        assert_eq!(
            verify_webhook("key", "secret", None, BODY),
            Err(WebhookError::MissingToken)
        );
        assert!(matches!(
            verify_webhook(
                "key",
                "secret",
                Some(&token("other", "key", BODY, 300)),
                BODY
            ),
            Err(WebhookError::BadToken(_))
        ));
        assert!(matches!(
            verify_webhook(
                "key",
                "secret",
                Some(&token("secret", "intruder", BODY, 300)),
                BODY
            ),
            Err(WebhookError::BadToken(_))
        ));
        assert!(matches!(
            verify_webhook(
                "key",
                "secret",
                Some(&token("secret", "key", BODY, -600)),
                BODY
            ),
            Err(WebhookError::BadToken(_))
        ));
        let altered = br#"{"event":"room_finished","room":{"name":"CL_y"},"id":"EV_1","createdAt":"1700000000"}"#;
        assert_eq!(
            verify_webhook("key", "secret", Some(&good), altered),
            Err(WebhookError::BodyMismatch)
        );
        assert!(matches!(
            verify_webhook("key", "secret", Some("not.a.jwt"), BODY),
            Err(WebhookError::BadToken(_))
        ));
    }
}
