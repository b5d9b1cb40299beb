//! Who is calling: LiveKit's INVITE is challenged (RFC 3261 §22.4, digest per RFC 7616), and
//! the username of its answer names the tenant's trunk, whose own generated password checks
//! it. No shared credential: every trunk has its own pair.
//!
//! Nonces are stateless: `<unix seconds in hex>.<first 32 hex of SHA-256(key, seconds)>` with a
//! per-process random key, so any INVITE carrying a nonce we minted within `nonce_ttl` is
//! checked without a table (a replay inside that window is possible; the per-trunk password
//! and LiveKit's source address limit what it buys).

use super::msg::SipMsg;
use super::{BridgeTrunk, TrunkDirectory};
use crate::digest::{self, Algorithm, Answer, Challenge};
use crate::wire::auth_params;
use sha2::{Digest, Sha256};

/// The routing decision for a new INVITE (DESIGN.md: decisions are enums, not errors).
#[derive(Debug, Clone)]
pub enum AuthDecision {
    Accept(Box<BridgeTrunk>),
    /// Answer 401 with this `WWW-Authenticate` value.
    Challenge(String),
    Reject(u16),
}

pub struct Authenticator {
    realm: String,
    key: [u8; 32],
    nonce_ttl_secs: u64,
}

impl Authenticator {
    pub fn new(realm: impl Into<String>) -> Self {
        Self {
            realm: realm.into(),
            key: rand::random(),
            nonce_ttl_secs: 300,
        }
    }

    fn mac(&self, ts: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(ts.to_be_bytes());
        hex::encode(h.finalize())[..32].to_owned()
    }

    pub fn nonce(&self, now_unix: u64) -> String {
        format!("{now_unix:x}.{}", self.mac(now_unix))
    }

    /// `Some(fresh)` for a nonce we minted, `None` for a forged one.
    fn nonce_fresh(&self, nonce: &str, now_unix: u64) -> Option<bool> {
        let (ts, mac) = nonce.split_once('.')?;
        let ts = u64::from_str_radix(ts, 16).ok()?;
        (constant_eq(mac.as_bytes(), self.mac(ts).as_bytes()))
            .then(|| ts <= now_unix && now_unix - ts <= self.nonce_ttl_secs)
    }

    fn challenge(&self, now_unix: u64, stale: bool) -> AuthDecision {
        AuthDecision::Challenge(format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            self.nonce(now_unix),
            if stale { ", stale=true" } else { "" }
        ))
    }

    /// Decides on an INVITE (or any request that must be authenticated).
    pub fn decide(
        &self,
        req: &SipMsg,
        now_unix: u64,
        directory: &dyn TrunkDirectory,
    ) -> AuthDecision {
        let Some(header) = req.header("Authorization") else {
            return self.challenge(now_unix, false);
        };
        let scheme_is_digest = header
            .trim_start()
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("digest "));
        if !scheme_is_digest {
            return self.challenge(now_unix, false);
        }
        let Some((scheme, params)) = auth_params(header) else {
            return AuthDecision::Reject(400);
        };
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if !scheme.eq_ignore_ascii_case("digest") || get("realm") != Some(self.realm.as_str()) {
            return self.challenge(now_unix, false);
        }
        let (Some(user), Some(nonce), Some(uri), Some(resp)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return AuthDecision::Reject(400);
        };
        match self.nonce_fresh(nonce, now_unix) {
            None => return self.challenge(now_unix, false),
            // RFC 7616 §3.3: stale=true lets the client retry without asking its user.
            Some(false) => return self.challenge(now_unix, true),
            Some(true) => {}
        }
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(_) => return self.challenge(now_unix, false),
        };
        let qop_auth = get("qop").is_some_and(|q| q.eq_ignore_ascii_case("auth"));
        let nc = match get("nc").map(|n| u32::from_str_radix(n, 16)) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return AuthDecision::Reject(400),
        };
        // An unknown user and a wrong password get the same 403 (RFC 3261 §22.3 leaves the
        // choice; the same answer tells a scanner nothing about which usernames exist).
        let Some(trunk) = directory.by_username(user) else {
            return AuthDecision::Reject(403);
        };
        let ch = Challenge {
            realm: self.realm.clone(),
            nonce: nonce.to_owned(),
            opaque: None,
            algorithm,
            qop_auth,
        };
        let expected = digest::response(
            &ch,
            &Answer {
                username: user,
                password: trunk.digest_password.expose(),
                method: req.method().unwrap_or("INVITE"),
                uri,
                cnonce: get("cnonce").unwrap_or(""),
                nc,
            },
        );
        if constant_eq(expected.as_bytes(), resp.to_ascii_lowercase().as_bytes()) {
            AuthDecision::Accept(Box::new(trunk))
        } else {
            AuthDecision::Reject(403)
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::super::testing::{directory, invite, LK_PASSWORD, LK_USER};
    use super::*;
    use crate::digest;

    fn answered(auth: &Authenticator, user: &str, password: &str, now: u64) -> SipMsg {
        let mut req = SipMsg::parse(invite("c1", 1).as_bytes()).unwrap();
        let AuthDecision::Challenge(h) = auth.decide(&req, now, &directory()) else {
            panic!("no challenge");
        };
        let ch = Challenge::parse(&h).unwrap();
        let uri = req.uri().unwrap().to_owned();
        let value = digest::authorization(
            &ch,
            &Answer {
                username: user,
                password,
                method: "INVITE",
                uri: &uri,
                cnonce: "abc",
                nc: 1,
            },
        );
        req.set("Authorization", value);
        req
    }

    #[test]
    fn decision_table() {
        let auth = Authenticator::new("trunkline");
        let dir = directory();
        let now = 1_000_000;
        let ok = answered(&auth, LK_USER, LK_PASSWORD, now);
        assert!(
            matches!(auth.decide(&ok, now + 10, &dir), AuthDecision::Accept(t) if t.account_sid == "acme")
        );
        // Wrong password, unknown user: 403 alike.
        let wrong = answered(&auth, LK_USER, "nope", now);
        assert!(matches!(
            auth.decide(&wrong, now, &dir),
            AuthDecision::Reject(403)
        ));
        let unknown = answered(&auth, "someone", LK_PASSWORD, now);
        assert!(matches!(
            auth.decide(&unknown, now, &dir),
            AuthDecision::Reject(403)
        ));
        // An old nonce is re-challenged as stale; a forged one is re-challenged.
        assert!(
            matches!(auth.decide(&ok, now + 301, &dir), AuthDecision::Challenge(h) if h.contains("stale=true"))
        );
        let other = Authenticator::new("trunkline");
        assert!(
            matches!(other.decide(&ok, now, &dir), AuthDecision::Challenge(h) if !h.contains("stale"))
        );
        // Another realm, another scheme: challenge. Unparseable: 400.
        for (value, want_challenge) in [
            ("Digest username=\"u\", realm=\"elsewhere\", nonce=\"n\", uri=\"sip:x\", response=\"r\"", true),
            ("Basic dTpw", true),
            ("Digest realm=\"trunkline\", nonce=\"n\"", false),
            ("Digest realm=\"trunkline", false),
        ] {
            let mut req = SipMsg::parse(invite("c1", 1).as_bytes()).unwrap();
            req.set("Authorization", value.into());
            match auth.decide(&req, now, &dir) {
                AuthDecision::Challenge(_) => assert!(want_challenge, "{value}"),
                AuthDecision::Reject(400) => assert!(!want_challenge, "{value}"),
                other => panic!("{value}: {other:?}"),
            }
        }
        // The challenge itself never carries a password.
        let AuthDecision::Challenge(h) = auth.decide(
            &SipMsg::parse(invite("c", 1).as_bytes()).unwrap(),
            now,
            &dir,
        ) else {
            panic!()
        };
        assert!(!h.contains(LK_PASSWORD));
    }
}
