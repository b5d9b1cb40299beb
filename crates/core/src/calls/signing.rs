//! Signing end-of-call webhooks the Standard Webhooks way (standardwebhooks.com): headers
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` = `v1,` + base64 of
//! HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the bytes of the tenant's
//! `whsec_…` secret. Receivers verify with any Standard Webhooks library.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", B64.encode(key))
}

/// `v1,<base64>` for one secret; `None` for a value that is not a secret we made.
pub fn signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = B64.decode(secret.strip_prefix(PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per live secret, space-separated, so a
/// receiver still holding the previous secret keeps verifying during a rotation.
pub fn signature_header(secrets: &[String], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|s| signature(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (its README's test vector).
    #[test]
    fn matches_the_specification_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_signs_with_both_secrets() {
        let (a, b) = (generate_secret(), generate_secret());
        let h = signature_header(&[a.clone(), b.clone()], "msg_1", 1, b"{}");
        let parts: Vec<_> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature(&a, "msg_1", 1, b"{}").unwrap());
        assert_ne!(parts[0], parts[1]);
        assert!(signature("not-a-secret", "m", 1, b"").is_none());
    }
}
