//! HTTP digest authentication as SIP uses it (RFC 3261 §22.4, RFC 7616, RFC 8760): answering
//! one `WWW-Authenticate`/`Proxy-Authenticate` challenge with MD5 or SHA-256, `qop=auth` or
//! the RFC 2069 form without qop.
//!
//! Ours rather than rsipstack's: rsipstack 0.7.14 spells the algorithm `SHA256` and refuses
//! the standard token `SHA-256` (RFC 7616 §6.1), and refuses a qop list such as
//! `"auth,auth-int"`, both of which carriers send.

use md5::Md5;
use sha2::{Digest, Sha256};

/// The scheme and `name=value` parameters of a challenge or credentials header (RFC 7235
/// §2.1, RFC 7616 §3.3): values are tokens or quoted strings (`\` escaping the next
/// character). `None` when it does not tokenize (an unclosed quote, a parameter without `=`).
pub fn auth_params(value: &str) -> Option<(String, Vec<(String, String)>)> {
    let value = value.trim();
    let split = value.find(char::is_whitespace).unwrap_or(value.len());
    let (scheme, mut rest) = value.split_at(split);
    if scheme.is_empty() {
        return None;
    }
    let token = |c: char| !c.is_whitespace() && !matches!(c, ',' | '=' | '"');
    let mut params = vec![];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            return Some((scheme.to_owned(), params));
        }
        let name_end = rest.find(|c| !token(c)).unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start();
        if name.is_empty() {
            return None;
        }
        let v = if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next()? {
                    (_, '\\') => v.push(chars.next()?.1),
                    (i, '"') => break i,
                    (_, c) => v.push(c),
                }
            };
            rest = &quoted[end + 1..];
            v
        } else {
            let end = rest.find(|c| !token(c)).unwrap_or(rest.len());
            let v = rest[..end].to_owned();
            rest = &rest[end..];
            v
        };
        params.push((name.to_owned(), v));
        rest = rest.trim_start();
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn token(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Self::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Self::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// A challenge we can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The server offered `qop=auth` (otherwise the RFC 2069 form is used).
    pub qop_auth: bool,
}

/// Why a challenge cannot be answered. No variant carries a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeError {
    Malformed,
    NotDigest(String),
    Missing(&'static str),
    UnsupportedAlgorithm(String),
    /// Only `auth-int` was offered, which would mean hashing the body.
    UnsupportedQop(String),
}

impl std::fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("the challenge header does not parse"),
            Self::NotDigest(s) => write!(f, "the challenge scheme is {s:?}, not Digest"),
            Self::Missing(p) => write!(f, "the challenge has no {p}"),
            Self::UnsupportedAlgorithm(a) => write!(
                f,
                "the challenge algorithm {a:?} is not supported (MD5, SHA-256)"
            ),
            Self::UnsupportedQop(q) => write!(f, "the challenge qop {q:?} is not supported (auth)"),
        }
    }
}

impl Challenge {
    pub fn parse(value: &str) -> Result<Self, ChallengeError> {
        let (scheme, params) = auth_params(value).ok_or(ChallengeError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(ChallengeError::NotDigest(scheme.chars().take(20).collect()));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(a) => {
                return Err(ChallengeError::UnsupportedAlgorithm(
                    a.chars().take(20).collect(),
                ))
            }
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return Err(ChallengeError::UnsupportedQop(q.chars().take(20).collect())),
        };
        Ok(Self {
            realm: get("realm").ok_or(ChallengeError::Missing("realm"))?,
            nonce: get("nonce").ok_or(ChallengeError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
        })
    }

    /// The first challenge among `values` that we can answer, preferring the order the
    /// server listed them in (RFC 8760 §2.4: the most preferred comes first); otherwise the
    /// first error.
    pub fn pick(values: &[String]) -> Result<Self, ChallengeError> {
        let mut first_error = None;
        for v in values {
            match Self::parse(v) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(ChallengeError::Missing("challenge header")))
    }
}

/// One answer to a challenge.
pub struct Answer<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub cnonce: &'a str,
    pub nc: u32,
}

/// The `response` value (RFC 7616 §3.4.1).
pub fn response(ch: &Challenge, a: &Answer<'_>) -> String {
    let alg = ch.algorithm;
    let ha1 = alg.hash(&format!("{}:{}:{}", a.username, ch.realm, a.password));
    let ha2 = alg.hash(&format!("{}:{}", a.method, a.uri));
    if ch.qop_auth {
        alg.hash(&format!(
            "{ha1}:{}:{:08x}:{}:auth:{ha2}",
            ch.nonce, a.nc, a.cnonce
        ))
    } else {
        alg.hash(&format!("{ha1}:{}:{ha2}", ch.nonce))
    }
}

/// The `Authorization`/`Proxy-Authorization` header value answering `ch`.
pub fn authorization(ch: &Challenge, a: &Answer<'_>) -> String {
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
        quote(a.username),
        quote(&ch.realm),
        quote(&ch.nonce),
        quote(a.uri),
        response(ch, a),
        ch.algorithm.token()
    );
    if ch.qop_auth {
        v.push_str(&format!(
            ", qop=auth, nc={:08x}, cnonce=\"{}\"",
            a.nc,
            quote(a.cnonce)
        ));
    }
    if let Some(o) = &ch.opaque {
        v.push_str(&format!(", opaque=\"{}\"", quote(o)));
    }
    v
}

/// A quoted-string body (RFC 3261 §25.1): `"` and `\` escaped, line breaks dropped.
fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_headers_tokenize() {
        let (scheme, params) = auth_params(
            "Digest realm=\"a, b\", nonce=\"n\\\"1\",algorithm=MD5 , qop=\"auth,auth-int\", stale=true",
        )
        .unwrap();
        assert_eq!(scheme, "Digest");
        let want = [
            ("realm", "a, b"),
            ("nonce", "n\"1"),
            ("algorithm", "MD5"),
            ("qop", "auth,auth-int"),
            ("stale", "true"),
        ];
        let got: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(auth_params("Basic").unwrap(), ("Basic".to_owned(), vec![]));
        for bad in [
            "",
            "Digest realm=\"open",
            "Digest realm",
            "Digest =x",
            "Digest a=b c=d",
        ] {
            assert!(auth_params(bad).is_none(), "{bad}");
        }
    }

    /// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
    fn rfc7616(algorithm: &str) -> (Challenge, String) {
        let header = format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        );
        let ch = Challenge::parse(&header).unwrap();
        let a = Answer {
            username: "Mufasa",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: 1,
        };
        let r = response(&ch, &a);
        (ch, r)
    }

    #[test]
    fn rfc7616_md5_example() {
        let (ch, r) = rfc7616("MD5");
        assert_eq!(ch.algorithm, Algorithm::Md5);
        assert!(ch.qop_auth);
        assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_sha256_example() {
        let (ch, r) = rfc7616("SHA-256");
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    /// RFC 2617 §3.5 (MD5, qop=auth), and the RFC 2069 form without qop.
    #[test]
    fn rfc2617_example_and_no_qop() {
        let ch = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let a = Answer {
            username: "Mufasa",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "0a4f113b",
            nc: 1,
        };
        assert_eq!(response(&ch, &a), "6629fae49393a05397450978507c4ef1");
        let header = authorization(&ch, &a);
        assert!(
            header.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""),
            "{header}"
        );
        assert!(header.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
        assert!(!header.contains("Circle"), "the password never appears");

        let plain = Challenge {
            qop_auth: false,
            opaque: None,
            ..ch
        };
        let expect = {
            let ha1 = Algorithm::Md5.hash("Mufasa:testrealm@host.com:Circle Of Life");
            let ha2 = Algorithm::Md5.hash("GET:/dir/index.html");
            Algorithm::Md5.hash(&format!("{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}"))
        };
        assert_eq!(response(&plain, &a), expect);
        assert!(!authorization(&plain, &a).contains("qop"));
    }

    #[test]
    fn challenges_we_cannot_answer_say_why() {
        use ChallengeError::*;
        for (header, want) in [
            ("Basic realm=\"x\"", NotDigest("Basic".into())),
            ("Digest nonce=\"n\"", Missing("realm")),
            ("Digest realm=\"r\"", Missing("nonce")),
            (
                "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
                UnsupportedAlgorithm("SHA-512-256".into()),
            ),
            (
                "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
                UnsupportedQop("auth-int".into()),
            ),
            ("Digest realm=\"unterminated", Malformed),
            ("", Malformed),
        ] {
            assert_eq!(Challenge::parse(header), Err(want), "{header}");
        }
    }

    #[test]
    fn pick_takes_the_first_answerable_challenge() {
        let values = vec![
            "Digest realm=\"r\", nonce=\"a\", algorithm=SHA-512".to_owned(),
            "Digest realm=\"r\", nonce=\"b\", algorithm=SHA-256".to_owned(),
            "Digest realm=\"r\", nonce=\"c\", algorithm=MD5".to_owned(),
        ];
        let ch = Challenge::pick(&values).unwrap();
        assert_eq!((ch.nonce.as_str(), ch.algorithm), ("b", Algorithm::Sha256));
        assert!(Challenge::pick(&[]).is_err());
    }

    #[test]
    fn quoting_escapes_quotes_and_drops_line_breaks() {
        assert_eq!(quote("a\"b\\c\r\nd"), "a\\\"b\\\\cd");
    }
}
