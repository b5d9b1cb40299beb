//! `X-Twilio-Signature` on Twilio's webhooks (PROVIDERS.md §2; twilio-python
//! `request_validator.py`, twilio-node `webhooks.ts`):
//!
//! 1. the full URL Twilio requested, query included;
//! 2. for a form POST, each parameter name in sorted order followed by its values, each
//!    value once and sorted, with no separators;
//! 3. HMAC-SHA1 keyed with the Auth Token, base64;
//! 4. accepted with the URL without its port and with the scheme's default port added,
//!    because Twilio's signer is not consistent about ports (both rebuilt as Python's
//!    `urlparse(...).geturl()` does), and with the URL exactly as given;
//! 5. a JSON body is not signed as parameters: the URL carries `bodySHA256=<hex SHA-256 of
//!    the body>`, the URL alone is signed, and the hash must match the body.
//!
//! Accounts that opted into "Webhooks Rules" sign with a shared key and say so in
//! `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256`; [`Algorithm`] covers
//! both.

use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Digest;

/// The header Twilio signs with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
/// The header naming a shared-key signature's algorithm.
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// The Auth Token signature (the default, and the only one without "Webhooks Rules").
    #[default]
    HmacSha1,
    HmacSha256,
}

impl Algorithm {
    /// The algorithm named by `X-Twilio-Webhooks-Signature-Settings`: absent, empty or
    /// without `algorithm=` means HMAC-SHA1; an unknown name is `None` (reject the request).
    pub fn from_settings_header(value: Option<&str>) -> Option<Algorithm> {
        let named = value.unwrap_or_default().split(',').find_map(|part| {
            let (name, v) = part.split_once('=')?;
            (name.trim() == "algorithm" && !v.trim().is_empty()).then(|| v.trim())
        });
        match named.map(str::to_ascii_uppercase).as_deref() {
            None | Some("HMAC_SHA1") => Some(Algorithm::HmacSha1),
            Some("HMAC_SHA256") => Some(Algorithm::HmacSha256),
            Some(_) => None,
        }
    }
}

/// Checks requests signed with one account's Auth Token (or shared key).
#[derive(Debug, Clone)]
pub struct RequestValidator {
    key: Secret,
}

impl RequestValidator {
    pub fn new(key: Secret) -> Self {
        Self { key }
    }

    /// The signature of `url` and form `params` (name, value pairs; a name may repeat).
    pub fn compute_signature(
        &self,
        url: &str,
        params: &[(String, String)],
        alg: Algorithm,
    ) -> String {
        B64.encode(self.mac(alg, &signed_string(url, params)))
    }

    /// Whether `signature` signs a form POST of `params` to `url` (the URL exactly as Twilio
    /// requested it: the public scheme, host and path, and the query string).
    pub fn validate(
        &self,
        url: &str,
        params: &[(String, String)],
        signature: &str,
        alg: Algorithm,
    ) -> bool {
        let Ok(given) = B64.decode(signature.trim_end()) else {
            return false;
        };
        let mut ok = false;
        for candidate in port_variants(url) {
            // Every variant is always computed, so timing does not tell which one matched.
            ok |= self.verify(alg, &signed_string(&candidate, params), &given);
        }
        ok
    }

    /// Whether `signature` signs a JSON (or any non-form) POST: `url` must carry
    /// `bodySHA256` equal to the body's hex SHA-256, and the URL alone is signed. A URL
    /// without `bodySHA256` is refused: Twilio always adds it to such requests.
    pub fn validate_body(&self, url: &str, body: &[u8], signature: &str, alg: Algorithm) -> bool {
        let Some(claimed) = body_hash_param(url) else {
            return false;
        };
        let hash_ok = ct_eq(claimed.as_bytes(), body_sha256(body).as_bytes());
        let sig_ok = self.validate(url, &[], signature, alg);
        hash_ok & sig_ok
    }

    fn mac(&self, alg: Algorithm, msg: &str) -> Vec<u8> {
        let key = self.key.expose().as_bytes();
        match alg {
            Algorithm::HmacSha1 => {
                let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key");
                m.update(msg.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            Algorithm::HmacSha256 => {
                let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
                m.update(msg.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn verify(&self, alg: Algorithm, msg: &str, given: &[u8]) -> bool {
        ct_eq(&self.mac(alg, msg), given)
    }
}

/// Lowercase hex SHA-256, as Twilio puts in `bodySHA256`.
pub fn body_sha256(body: &[u8]) -> String {
    sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// URL, then each distinct name in sorted order with each of its distinct values in sorted
/// order. Rust's `str` ordering is by UTF-8 bytes, which is code point order, as Python's.
fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut s = url.to_owned();
    for (k, v) in pairs {
        s.push_str(k);
        s.push_str(v);
    }
    s
}

/// Compares without an early exit, so timing does not reveal how much of a forgery matched.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The first non-empty `bodySHA256` of the query (Python's `parse_qs(...)[k][0]`).
fn body_hash_param(url: &str) -> Option<String> {
    let parts = UrlParts::split(url)?;
    url::form_urlencoded::parse(parts.query.as_bytes())
        .find(|(k, v)| k == "bodySHA256" && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

/// The URL without its port and with the default port, each rebuilt as Python's
/// `urlparse(...).geturl()` would (lowercase scheme; an empty `?` or `#` dropped), then the
/// URL exactly as given. The SDK tries only the first two, so it refuses its own signature
/// of a URL that `geturl()` changes (`HTTPS://…`); the third candidate accepts that too, and
/// is as strong: the HMAC covers the exact string.
fn port_variants(url: &str) -> Vec<String> {
    let Some(p) = UrlParts::split(url) else {
        return vec![url.to_owned()];
    };
    let (host, port) = p.host_and_port();
    let without = p.with_netloc(&p.netloc_with(host, None));
    let with = match port {
        Some(_) => p.with_netloc(p.netloc),
        None => {
            let default = if p.scheme == "https" { "443" } else { "80" };
            p.with_netloc(&p.netloc_with(host, Some(default)))
        }
    };
    let mut v = vec![without, with];
    if !v.iter().any(|c| c == url) {
        v.push(url.to_owned());
    }
    v
}

/// `scheme://netloc path ?query #fragment`, split like RFC 3986 §3 / Python's `urlsplit`.
struct UrlParts<'a> {
    scheme: String,
    netloc: &'a str,
    path: &'a str,
    query: &'a str,
    fragment: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (netloc, rest) = rest.split_at(end);
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Some(Self {
            scheme: scheme.to_ascii_lowercase(),
            netloc,
            path,
            query,
            fragment,
        })
    }

    /// `(userinfo@host, port)`; an IPv6 literal keeps its brackets.
    fn host_and_port(&self) -> (&'a str, Option<&'a str>) {
        let hostinfo_start = self.netloc.rfind('@').map_or(0, |i| i + 1);
        let hostinfo = &self.netloc[hostinfo_start..];
        let colon = match hostinfo.rfind(']') {
            Some(close) => hostinfo[close..].find(':').map(|i| close + i),
            None => hostinfo.find(':'),
        };
        match colon {
            Some(i) => {
                let port = &hostinfo[i + 1..];
                let host = &self.netloc[..hostinfo_start + i];
                // Python's `.port` is None for an empty port, and 0 counts as none.
                if port.is_empty() || port.parse::<u16>().ok() == Some(0) {
                    (host, None)
                } else {
                    (host, Some(port))
                }
            }
            None => (self.netloc, None),
        }
    }

    fn netloc_with(&self, host: &str, port: Option<&str>) -> String {
        match port {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
    }

    fn with_netloc(&self, netloc: &str) -> String {
        let mut s = format!("{}://{netloc}{}", self.scheme, self.path);
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(self.query);
        }
        if !self.fragment.is_empty() {
            s.push('#');
            s.push_str(self.fragment);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variants_follow_the_sdk() {
        assert_eq!(
            port_variants("https://example.com/a?b=1"),
            vec!["https://example.com/a?b=1", "https://example.com:443/a?b=1"]
        );
        assert_eq!(
            port_variants("http://example.com:1234/a"),
            vec!["http://example.com/a", "http://example.com:1234/a"]
        );
        assert_eq!(
            port_variants("HTTPS://Example.com/a?"),
            vec![
                "https://Example.com/a",
                "https://Example.com:443/a",
                "HTTPS://Example.com/a?"
            ]
        );
        assert_eq!(
            port_variants("https://[::1]:8443/x"),
            vec!["https://[::1]/x", "https://[::1]:8443/x"]
        );
        assert_eq!(
            port_variants("https://u:p@h.example:9/x"),
            vec!["https://u:p@h.example/x", "https://u:p@h.example:9/x"]
        );
    }

    #[test]
    fn settings_header_names_the_algorithm() {
        assert_eq!(
            Algorithm::from_settings_header(None),
            Some(Algorithm::HmacSha1)
        );
        assert_eq!(
            Algorithm::from_settings_header(Some("")),
            Some(Algorithm::HmacSha1)
        );
        assert_eq!(
            Algorithm::from_settings_header(Some("key=abc, algorithm=HMAC_SHA256")),
            Some(Algorithm::HmacSha256)
        );
        assert_eq!(Algorithm::from_settings_header(Some("algorithm=MD5")), None);
    }

    #[test]
    fn bad_base64_and_empty_signatures_fail() {
        let v = RequestValidator::new("12345".into());
        assert!(!v.validate("https://x.example/", &[], "", Algorithm::HmacSha1));
        assert!(!v.validate("https://x.example/", &[], "@@@", Algorithm::HmacSha1));
    }
}
