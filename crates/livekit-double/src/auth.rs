//! LiveKit's API-key middleware (livekit/livekit `pkg/service/auth.go`) with its token checks
//! (livekit/protocol `auth/verifier.go` on golang-jwt/jwt v5): the same order of checks, the
//! same plain-text 401 bodies and the same golang-jwt error strings.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};

pub(crate) const ERR_MISSING_AUTHORIZATION: &str =
    "invalid authorization header. Must start with Bearer ";
pub(crate) const ERR_INVALID_TOKEN: &str = "invalid authorization token";
pub(crate) const ERR_INVALID_API_KEY: &str = "invalid API key";

/// `auth/verifier.go`: "matches go-jose's previous DefaultLeeway".
const LEEWAY_SECS: f64 = 60.0;

/// Go's `base64.RawURLEncoding` (not `.Strict()`): no padding, non-zero trailing bits allowed.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The `sip` grant (`auth/grants.go` `SIPGrant`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipGrant {
    pub admin: bool,
    pub call: bool,
}

/// What a verified token granted.
#[derive(Debug, Clone, PartialEq)]
pub struct Grants {
    /// `iss`: the API key the token was signed for.
    pub api_key: String,
    /// `sub`, or `jti` when `sub` is empty (`ParseAPIToken`).
    pub identity: String,
    pub sip: Option<SipGrant>,
    /// The whole claim set as sent (video grant, name, metadata, ...).
    pub claims: Value,
}

impl Grants {
    /// `EnsureSIPAdminPermission`.
    pub fn sip_admin(&self) -> bool {
        self.sip.as_ref().is_some_and(|s| s.admin)
    }

    /// `EnsureSIPCallPermission`.
    pub fn sip_call(&self) -> bool {
        self.sip.as_ref().is_some_and(|s| s.call)
    }
}

/// `APIKeyAuthMiddleware.ServeHTTP`. `Ok(None)`: no token at all, the request goes on without
/// grants. `Err(body)`: a 401 with that plain-text body.
pub(crate) fn authenticate(
    headers: &HeaderMap,
    query: Option<&str>,
    api_key: &str,
    api_secret: &str,
) -> Result<Option<Grants>, String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let token = if !auth.is_empty() {
        match auth.strip_prefix(b"Bearer ") {
            Some(rest) => String::from_utf8_lossy(rest).into_owned(),
            None => return Err(ERR_MISSING_AUTHORIZATION.to_owned()),
        }
    } else {
        // `r.FormValue("access_token")`: for our content types only the URL query counts.
        query
            .and_then(|q| query_value(q, "access_token"))
            .unwrap_or_default()
    };
    if token.is_empty() {
        return Ok(None);
    }
    let parsed = parse_unverified(&token).ok_or_else(|| ERR_INVALID_TOKEN.to_owned())?;
    // `provider.GetSecret(v.APIKey())` returns "" for an unknown key.
    if parsed.iss != api_key || api_secret.is_empty() {
        return Err(ERR_INVALID_API_KEY.to_owned());
    }
    verify(&parsed, api_secret).map_err(|e| format!("{ERR_INVALID_TOKEN}: {e}"))?;
    Ok(Some(Grants {
        api_key: parsed.iss.clone(),
        identity: parsed.identity.clone(),
        sip: sip_grant(&parsed.claims),
        claims: Value::Object(parsed.claims),
    }))
}

struct Unverified {
    alg: String,
    signing_input: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
    iss: String,
    identity: String,
    exp: Option<f64>,
    nbf: Option<f64>,
}

fn b64(seg: &str) -> Option<Vec<u8>> {
    // Non-strict Go decoding skips CR and LF.
    let seg: String = seg.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    B64.decode(seg).ok()
}

/// A JSON object, or `null` (which Go decodes into an empty map / zero struct).
fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes).ok()? {
        Value::Object(m) => Some(m),
        Value::Null => Some(Map::new()),
        _ => None,
    }
}

/// `encoding/json` matches object keys to struct fields case-insensitively, exact match first.
fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name)
        .or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn string_claim(m: &Map<String, Value>, name: &str) -> Option<String> {
    match field(m, name) {
        None => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    }
}

/// `NumericDate.UnmarshalJSON`: a JSON number, or a string holding a valid number literal
/// (Go decodes those into `json.Number` too). Truncated to whole seconds (`TimePrecision`).
fn date_claim(m: &Map<String, Value>, name: &str) -> Option<Option<f64>> {
    match field(m, name) {
        None => Some(None),
        Some(Value::Number(n)) => n.as_f64().map(|f| Some(f.trunc())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Number(n)) => n.as_f64().map(|f| Some(f.trunc())),
            _ => None,
        },
        Some(_) => None,
    }
}

/// golang-jwt's signing-method registry: an unknown `alg` fails parsing outright.
const KNOWN_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA", "none",
];

/// `ParseAPIToken`: `jwt.Parser.ParseUnverified` into `RegisteredClaims`. Any failure is the
/// middleware's bare "invalid authorization token".
fn parse_unverified(raw: &str) -> Option<Unverified> {
    let parts: Vec<&str> = raw.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let header = object(&b64(parts[0])?)?;
    let claims = object(&b64(parts[1])?)?;
    let iss = string_claim(&claims, "iss")?;
    let sub = string_claim(&claims, "sub")?;
    let jti = string_claim(&claims, "jti")?;
    match field(&claims, "aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => return None,
    }
    let exp = date_claim(&claims, "exp")?;
    let nbf = date_claim(&claims, "nbf")?;
    date_claim(&claims, "iat")?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) if KNOWN_ALGS.contains(&a.as_str()) => a.clone(),
        _ => return None,
    };
    let signature = b64(parts[2])?;
    let identity = if sub.is_empty() { jti } else { sub };
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    Some(Unverified {
        alg,
        signing_input,
        signature,
        claims,
        iss,
        identity,
        exp,
        nbf,
    })
}

/// `APIKeyTokenVerifier.Verify`: `jwt.ParseWithClaims` with HS256 only, the API key as
/// issuer, one minute of leeway and `exp` required. Returns golang-jwt's error text.
fn verify(t: &Unverified, secret: &str) -> Result<(), String> {
    // Full decode into `tokenClaims` (registered claims + ClaimGrants) comes first.
    grant_types(&t.claims)
        .map_err(|e| format!("token is malformed: could not JSON decode claim: {e}"))?;
    if t.alg != "HS256" {
        return Err(format!(
            "token signature is invalid: signing method {} is invalid",
            t.alg
        ));
    }
    let expected = jsonwebtoken::crypto::sign(
        t.signing_input.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .ok()
    .and_then(|s| b64(&s));
    if expected.as_deref() != Some(t.signature.as_slice()) {
        return Err("token signature is invalid: signature is invalid".to_owned());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut errs: Vec<&str> = Vec::new();
    match t.exp {
        None => errs.push("token is missing required claim: exp claim is required"),
        Some(exp) if now >= exp + LEEWAY_SECS => errs.push("token is expired"),
        Some(_) => {}
    }
    if t.nbf.is_some_and(|nbf| now < nbf - LEEWAY_SECS) {
        errs.push("token is not valid yet");
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("token has invalid claims: {}", errs.join(", ")))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The grant fields this double reads must have Go's types, or Go's decode fails. (Other
/// grant fields are not type-checked here.)
fn grant_types(claims: &Map<String, Value>) -> Result<(), String> {
    let mismatch = |v: &Value, field: &str, ty: &str| {
        format!(
            "json: cannot unmarshal {} into Go struct field {field} of type {ty}",
            json_kind(v)
        )
    };
    if let Some(v) = field(claims, "video") {
        if !v.is_object() {
            return Err(mismatch(v, "tokenClaims.video", "auth.VideoGrant"));
        }
    }
    match field(claims, "sip") {
        None => Ok(()),
        Some(Value::Object(sip)) => {
            for name in ["admin", "call"] {
                if let Some(v) = field(sip, name) {
                    if !v.is_boolean() {
                        return Err(mismatch(v, &format!("SIPGrant.sip.{name}"), "bool"));
                    }
                }
            }
            Ok(())
        }
        Some(v) => Err(mismatch(v, "tokenClaims.sip", "auth.SIPGrant")),
    }
}

fn sip_grant(claims: &Map<String, Value>) -> Option<SipGrant> {
    let Some(Value::Object(sip)) = field(claims, "sip") else {
        return None;
    };
    let flag = |name| field(sip, name).and_then(Value::as_bool).unwrap_or(false);
    Some(SipGrant {
        admin: flag("admin"),
        call: flag("call"),
    })
}

/// First value of `name` in an `application/x-www-form-urlencoded` query, as Go's
/// `url.ParseQuery` reads it (pairs with a bad escape are skipped).
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k)? == name).then(|| form_decode(v)).flatten()
    })
}

/// The byte a `%XX` escape starting at `bytes[i]` stands for (two hex digits, nothing else).
pub(crate) fn escaped_byte(bytes: &[u8], i: usize) -> Option<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let (hi, lo) = (hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?);
    u8::try_from(hi * 16 + lo).ok()
}

fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(escaped_byte(bytes, i)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_token() {
        assert_eq!(
            query_value("a=1&access_token=x%2By+z", "access_token").as_deref(),
            Some("x+y z")
        );
        assert_eq!(
            query_value("access_token=%zz&access_token=ok", "access_token").as_deref(),
            Some("ok")
        );
        assert_eq!(query_value("a=1", "access_token"), None);
    }

    #[test]
    fn garbage_tokens_do_not_parse() {
        for t in ["", "a", "a.b", "a.b.c.d", "e30.e30.", "!!.e30.x"] {
            assert!(parse_unverified(t).is_none(), "{t}");
        }
        // {"alg":"HS256"}.{} parses (the signature is checked later).
        assert!(parse_unverified("eyJhbGciOiJIUzI1NiJ9.e30.").is_some());
    }
}
