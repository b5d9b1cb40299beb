//! Who is calling: LiveKit's INVITE is challenged (RFC 3261 §22.4, digest per RFC 7616), and
//! the username of its answer names the tenant's trunk, whose own generated password checks
//! it. No shared credential: every trunk has its own pair.
//!
//! Nonces carry their own proof: `<unix seconds>.<64 random bits>.<MAC of both>` (hex) under a
//! per-process random key, so a nonce we minted is recognised without a table, and one older
//! than `nonce_ttl` is answered with a new challenge marked `stale=true` (RFC 7616 §3.3).
//! Replays are refused: the digest's `uri` must be the Request-URI (RFC 7616 §3.4.6, so an
//! answer seen on one INVITE cannot place a call to another number), and each nonce's `nc`
//! must grow with every use (RFC 7616 §3.4.5; a nonce without qop is good once). Only nonces
//! that authenticated a request are remembered, until they go stale, and at most
//! `MAX_TRACKED` of them: past that the oldest are forgotten and every nonce minted before
//! them counts as stale, so forgetting never lets a replay through.

use super::{BridgeTrunk, TrunkDirectory};
use crate::digest::{self, auth_params, Algorithm, Answer, Challenge};
use crate::msg::SipMsg;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};

/// Nonces remembered at once (each a few dozen bytes).
const MAX_TRACKED: usize = 100_000;

/// A nonce we minted: when, and its random part.
type NonceId = (u64, u64);

/// The routing decision for a new INVITE (DESIGN.md: decisions are enums, not errors).
#[derive(Debug, Clone)]
pub enum AuthDecision {
    Accept(Box<BridgeTrunk>),
    /// Answer 401 with this `WWW-Authenticate` value.
    Challenge(String),
    Reject(u16),
}

pub struct ChallengeIssuer {
    realm: String,
    key: [u8; 32],
    nonce_ttl_secs: u64,
    used: UsedNonces,
}

/// The highest `nc` each nonce authenticated with, oldest use first.
#[derive(Default)]
struct UsedNonces {
    nc: HashMap<NonceId, u32>,
    order: VecDeque<NonceId>,
    /// Nonces minted at or before this second count as stale (some were forgotten).
    floor: u64,
}

impl UsedNonces {
    /// Records a use of `id` with `nc`; `false` when that is no advance on an earlier use (a
    /// replay).
    fn advance(&mut self, id: NonceId, nc: u32, now: u64, ttl: u64) -> bool {
        while let Some(&(ts, r)) = self.order.front() {
            if ts.saturating_add(ttl) >= now {
                break;
            }
            self.order.pop_front();
            self.nc.remove(&(ts, r));
        }
        match self.nc.get_mut(&id) {
            Some(seen) if nc <= *seen => return false,
            Some(seen) => *seen = nc,
            None => {
                self.nc.insert(id, nc);
                self.order.push_back(id);
                if self.order.len() > MAX_TRACKED {
                    if let Some(old) = self.order.pop_front() {
                        self.nc.remove(&old);
                        self.floor = self.floor.max(old.0);
                    }
                }
            }
        }
        true
    }
}

impl ChallengeIssuer {
    pub fn new(realm: impl Into<String>) -> Self {
        Self {
            realm: realm.into(),
            key: rand::random(),
            nonce_ttl_secs: 300,
            used: UsedNonces::default(),
        }
    }

    fn mac(&self, ts: u64, random: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(ts.to_be_bytes());
        h.update(random.to_be_bytes());
        hex::encode(h.finalize())[..32].to_owned()
    }

    pub fn nonce(&self, now_unix: u64) -> String {
        let random: u64 = rand::random();
        format!("{now_unix:x}.{random:016x}.{}", self.mac(now_unix, random))
    }

    /// `Some((id, fresh))` for a nonce we minted, `None` for a forged one.
    fn nonce_fresh(&self, nonce: &str, now_unix: u64) -> Option<(NonceId, bool)> {
        let mut parts = nonce.split('.');
        let (ts, random, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let ts = u64::from_str_radix(ts, 16).ok()?;
        let random = u64::from_str_radix(random, 16).ok()?;
        let fresh = ts <= now_unix && now_unix - ts <= self.nonce_ttl_secs && ts > self.used.floor;
        constant_eq(mac.as_bytes(), self.mac(ts, random).as_bytes())
            .then_some(((ts, random), fresh))
    }

    fn challenge(&self, now_unix: u64, stale: bool) -> AuthDecision {
        AuthDecision::Challenge(format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            self.nonce(now_unix),
            if stale { ", stale=true" } else { "" }
        ))
    }

    /// Decides on an INVITE (or any request that must be authenticated). A request it
    /// accepts uses up its nonce count: the same answer is refused next time.
    pub fn decide(
        &mut self,
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
        let id = match self.nonce_fresh(nonce, now_unix) {
            None => return self.challenge(now_unix, false),
            // RFC 7616 §3.3: stale=true lets the client retry without asking its user.
            Some((_, false)) => return self.challenge(now_unix, true),
            Some((id, true)) => id,
        };
        // RFC 7616 §3.4.6: the answer is for this request's URI only; RFC 2617 §3.2.2.5
        // answers a mismatch 400.
        if !req.uri().is_some_and(|r| same_resource(uri, r)) {
            return AuthDecision::Reject(400);
        }
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(_) => return self.challenge(now_unix, false),
        };
        let qop_auth = get("qop").is_some_and(|q| q.eq_ignore_ascii_case("auth"));
        // With qop, nc counts the uses of the nonce (RFC 7616 §3.4); without, there is one.
        let nc = match (qop_auth, get("nc").map(|n| u32::from_str_radix(n, 16))) {
            (true, Some(Ok(n))) if n > 0 => n,
            (false, None) => 0,
            _ => return AuthDecision::Reject(400),
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
        if !constant_eq(expected.as_bytes(), resp.to_ascii_lowercase().as_bytes()) {
            return AuthDecision::Reject(403);
        }
        if !self.used.advance(id, nc, now_unix, self.nonce_ttl_secs) {
            tracing::info!("a replayed digest answer refused");
            return AuthDecision::Reject(403);
        }
        AuthDecision::Accept(Box::new(trunk))
    }
}

/// Whether the digest's `uri` names the Request-URI's resource: for sip/sips, the same
/// scheme, user, host and port (RFC 3261 §19.1.4: the user compared exactly, scheme and host
/// without case). URI parameters do not count: SIP stacks commonly answer with the URI
/// without them (sipgo's `Addr()`, as LiveKit's client uses it), and they do not change whom
/// the call is to. Any other scheme is compared as written.
fn same_resource(uri: &str, request_uri: &str) -> bool {
    fn parts(u: &str) -> Option<(String, &str, String)> {
        let (scheme, rest) = u.split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return None;
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => (user, hostport),
            None => ("", rest),
        };
        let hostport = hostport.split([';', '?']).next().unwrap_or("");
        Some((scheme, user, hostport.to_ascii_lowercase()))
    }
    match (parts(uri), parts(request_uri)) {
        (Some(a), Some(b)) => a == b,
        _ => uri == request_uri,
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

    fn answered(auth: &mut ChallengeIssuer, user: &str, password: &str, now: u64) -> SipMsg {
        let req = SipMsg::parse(invite("c1", 1).as_bytes()).unwrap();
        let AuthDecision::Challenge(h) = auth.decide(&req, now, &directory()) else {
            panic!("no challenge");
        };
        answer(req, &Challenge::parse(&h).unwrap(), user, password, 1)
    }

    /// `req` carrying the answer to `ch` with nonce count `nc`.
    fn answer(mut req: SipMsg, ch: &Challenge, user: &str, password: &str, nc: u32) -> SipMsg {
        let uri = req.uri().unwrap().to_owned();
        let value = digest::authorization(
            ch,
            &Answer {
                username: user,
                password,
                method: "INVITE",
                uri: &uri,
                cnonce: "abc",
                nc,
            },
        );
        req.set("Authorization", value);
        req
    }

    /// A new INVITE (another Call-ID and branch) to `number`, carrying `auth`'s Authorization.
    fn replayed(auth: &SipMsg, number: &str) -> SipMsg {
        let text = invite("c2", 7).replace("+919876543210", number);
        let mut req = SipMsg::parse(text.as_bytes()).unwrap();
        req.set(
            "Authorization",
            auth.header("Authorization").unwrap().into(),
        );
        req
    }

    #[test]
    fn an_answer_seen_once_places_no_other_call() {
        let mut auth = ChallengeIssuer::new("trunkline");
        let dir = directory();
        let now = 1_000_000;
        let ok = answered(&mut auth, LK_USER, LK_PASSWORD, now);
        // Captured on its way and sent with an INVITE to another number: its uri is not the
        // Request-URI.
        assert!(matches!(
            auth.decide(&replayed(&ok, "+918000000001"), now, &dir),
            AuthDecision::Reject(400)
        ));
        assert!(matches!(
            auth.decide(&ok, now + 1, &dir),
            AuthDecision::Accept(_)
        ));
        // The same answer again, on a new transaction to the same number: refused.
        assert!(matches!(
            auth.decide(&replayed(&ok, "+919876543210"), now + 2, &dir),
            AuthDecision::Reject(403)
        ));
        assert!(matches!(
            auth.decide(&ok, now + 2, &dir),
            AuthDecision::Reject(403)
        ));
        // The nonce with a higher count is a new use (RFC 7616 §3.4.5), once.
        let AuthDecision::Challenge(h) = auth.decide(
            &SipMsg::parse(invite("c3", 1).as_bytes()).unwrap(),
            now,
            &dir,
        ) else {
            panic!("no challenge");
        };
        let ch = Challenge::parse(&h).unwrap();
        let req = |nc| {
            answer(
                SipMsg::parse(invite("c3", 2).as_bytes()).unwrap(),
                &ch,
                LK_USER,
                LK_PASSWORD,
                nc,
            )
        };
        assert!(matches!(
            auth.decide(&req(1), now, &dir),
            AuthDecision::Accept(_)
        ));
        assert!(matches!(
            auth.decide(&req(3), now, &dir),
            AuthDecision::Accept(_)
        ));
        for nc in [3, 2] {
            assert!(matches!(
                auth.decide(&req(nc), now, &dir),
                AuthDecision::Reject(403)
            ));
        }
        // Without qop there is no count: a nonce is good once.
        let AuthDecision::Challenge(h) = auth.decide(
            &SipMsg::parse(invite("c4", 1).as_bytes()).unwrap(),
            now,
            &dir,
        ) else {
            panic!("no challenge");
        };
        let mut no_qop = Challenge::parse(&h).unwrap();
        no_qop.qop_auth = false;
        let once = answer(
            SipMsg::parse(invite("c4", 1).as_bytes()).unwrap(),
            &no_qop,
            LK_USER,
            LK_PASSWORD,
            1,
        );
        assert!(matches!(
            auth.decide(&once, now, &dir),
            AuthDecision::Accept(_)
        ));
        assert!(matches!(
            auth.decide(&once, now, &dir),
            AuthDecision::Reject(403)
        ));
    }

    #[test]
    fn the_digest_uri_names_the_request_uris_resource() {
        for (uri, request_uri, same) in [
            ("sip:+9198@bridge:5080", "sip:+9198@bridge:5080", true),
            (
                "sip:+9198@bridge:5080",
                "sip:+9198@bridge:5080;transport=tcp",
                true,
            ),
            (
                "SIP:+9198@Bridge:5080;transport=tcp",
                "sip:+9198@bridge:5080",
                true,
            ),
            ("sip:+9198@bridge:5080", "sip:+9199@bridge:5080", false),
            ("sip:bridge:5080", "sip:+9198@bridge:5080", false),
            ("sip:+9198@bridge:5080", "sip:+9198@bridge:5081", false),
            ("sip:+9198@bridge", "sips:+9198@bridge", false),
            ("tel:+9198", "tel:+9198", true),
            ("tel:+9198", "sip:+9198@bridge", false),
        ] {
            assert_eq!(same_resource(uri, request_uri), same, "{uri} {request_uri}");
        }
    }

    #[test]
    fn forgotten_nonces_count_as_stale() {
        let mut used = UsedNonces::default();
        let ttl = 300;
        assert!(used.advance((10, 1), 1, 10, ttl));
        for r in 0..MAX_TRACKED as u64 {
            assert!(used.advance((20, r + 2), 1, 20, ttl));
        }
        assert!(used.nc.len() <= MAX_TRACKED && used.order.len() == used.nc.len());
        // The oldest was forgotten, so everything minted up to its second is stale now.
        assert_eq!(used.floor, 10);
        let mut auth = ChallengeIssuer::new("trunkline");
        auth.used = used;
        let nonce = format!("a.0000000000000001.{}", auth.mac(10, 1));
        assert_eq!(auth.nonce_fresh(&nonce, 20).map(|(_, f)| f), Some(false));
        // Entries past the lifetime are dropped as new ones come.
        let mut used = UsedNonces::default();
        assert!(used.advance((10, 1), 1, 10, ttl));
        assert!(used.advance((400, 1), 1, 400, ttl));
        assert_eq!(used.nc.len(), 1);
    }

    #[test]
    fn decision_table() {
        let mut auth = ChallengeIssuer::new("trunkline");
        let dir = directory();
        let now = 1_000_000;
        let ok = answered(&mut auth, LK_USER, LK_PASSWORD, now);
        assert!(
            matches!(auth.decide(&ok, now + 10, &dir), AuthDecision::Accept(t) if t.account_sid == "acme")
        );
        // Wrong password, unknown user: 403 alike.
        let wrong = answered(&mut auth, LK_USER, "nope", now);
        assert!(matches!(
            auth.decide(&wrong, now, &dir),
            AuthDecision::Reject(403)
        ));
        let unknown = answered(&mut auth, "someone", LK_PASSWORD, now);
        assert!(matches!(
            auth.decide(&unknown, now, &dir),
            AuthDecision::Reject(403)
        ));
        // An old nonce is re-challenged as stale; a forged one is re-challenged.
        assert!(
            matches!(auth.decide(&ok, now + 301, &dir), AuthDecision::Challenge(h) if h.contains("stale=true"))
        );
        let mut other = ChallengeIssuer::new("trunkline");
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
