//! Secrets at rest: AES-256-GCM under a master key, a fresh 96-bit nonce per value, and the
//! key's id stored beside each value so the master key can be rotated.
//!
//! A sealed value reads `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. The associated data
//! names the row and field it belongs to, so a sealed value copied onto another tenant's trunk
//! does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the master key must be 32 bytes encoded in base64 (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error("a secret was sealed with master key {0}, which is not configured (set TRUNKLINE_MASTER_KEY_PREVIOUS to it, or run `trunkline keys rotate-master` with it)")]
    UnknownKey(String),
    #[error("a sealed secret is damaged or does not belong to this record")]
    Corrupt,
}

pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl MasterKey {
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = B64.decode(encoded.trim()).map_err(|_| SealError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        // The id is a fingerprint, not the key: 8 hex characters of a domain-separated hash.
        let id = hex::encode(
            &Sha256::new_with_prefix(b"trunkline master key id\0")
                .chain_update(bytes)
                .finalize()[..4],
        );
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self { id, cipher })
    }

    /// A new random key, base64-encoded.
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        B64.encode(bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// The current key (seals) and any previous keys (open only), for rotation without downtime.
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        Self { current, previous }
    }

    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// Whether a value sealed under `key_id` can be opened.
    pub fn knows(&self, key_id: &str) -> bool {
        self.current.id == key_id || self.previous.iter().any(|k| k.id == key_id)
    }

    /// This keyring with `next` sealing and every key so far still opening.
    pub fn rotated_to(mut self, next: MasterKey) -> Self {
        let old = std::mem::replace(&mut self.current, next);
        self.previous.insert(0, old);
        self
    }

    pub fn seal(&self, aad: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a bounded value cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("v1.{}.{}", self.current.id, B64.encode(blob))
    }

    pub fn open(&self, aad: &str, sealed: &str) -> Result<String, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Corrupt);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kid)
            .ok_or_else(|| SealError::UnknownKey(kid.to_owned()))?;
        let blob = B64.decode(body).map_err(|_| SealError::Corrupt)?;
        if blob.len() < 12 + 16 {
            return Err(SealError::Corrupt);
        }
        let (nonce, ct) = blob.split_at(12);
        let pt = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(pt).map_err(|_| SealError::Corrupt)
    }

    /// The id of the key a value was sealed with.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        sealed.strip_prefix("v1.")?.split('.').next()
    }
}

/// API keys carry 256 random bits, so a plain SHA-256 is a sound verifier (no dictionary to
/// slow down) and lets the key be found by an indexed lookup of its hash.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new API key: `tlk_` and 43 base64url characters.
/// A random credential for machine use (e.g. LiveKit's digest password toward the bridge):
/// 256 bits, URL-safe base64, no prefix.
pub fn generate_secret_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "tlk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn seal_then_open() {
        let ring = Keyring::new(key(), vec![]);
        let sealed = ring.seal("trunk:ST_1:password", "your_auth_token_here");
        assert!(!sealed.contains("your_auth_token_here"));
        assert_eq!(
            ring.open("trunk:ST_1:password", &sealed).unwrap(),
            "your_auth_token_here"
        );
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let ring = Keyring::new(key(), vec![]);
        assert_ne!(ring.seal("a", "same"), ring.seal("a", "same"));
    }

    #[test]
    fn a_value_moved_to_another_record_does_not_open() {
        let ring = Keyring::new(key(), vec![]);
        let sealed = ring.seal("trunk:ST_1:password", "x");
        assert_eq!(
            ring.open("trunk:ST_2:password", &sealed),
            Err(SealError::Corrupt)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let ring = Keyring::new(key(), vec![]);
        let sealed = ring.seal("a", "secret");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(ring.open("a", &tampered), Err(SealError::Corrupt));
        assert_eq!(ring.open("a", "garbage"), Err(SealError::Corrupt));
        assert_eq!(
            ring.open("a", "v1.x.!!!"),
            Err(SealError::UnknownKey("x".into()))
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = Keyring::new(key(), vec![]);
        let sealed = old.seal("a", "secret");
        let new = MasterKey::from_bytes(&[9u8; 32]).unwrap();
        let without_old = Keyring::new(MasterKey::from_bytes(&[9u8; 32]).unwrap(), vec![]);
        assert!(matches!(
            without_old.open("a", &sealed),
            Err(SealError::UnknownKey(_))
        ));
        let ring = Keyring::new(new, vec![key()]);
        assert_eq!(ring.open("a", &sealed).unwrap(), "secret");
        let resealed = ring.seal("a", "secret");
        assert_eq!(Keyring::key_id_of(&resealed), Some(ring.current_id()));
    }

    #[test]
    fn master_key_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64(&MasterKey::generate_base64()).is_ok());
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            SealError::BadKey
        );
    }

    #[test]
    fn api_keys_are_random_and_hash_stably() {
        let a = generate_api_key();
        assert!(a.starts_with("tlk_") && a.len() == 47, "{a}");
        assert_ne!(a, generate_api_key());
        assert_eq!(hash_api_key(&a), hash_api_key(&a));
        assert_eq!(hash_api_key(&a).len(), 64);
    }
}
