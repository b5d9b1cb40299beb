//! `X-Twilio-Signature`: every official vector of twilio-python's
//! `tests/unit/test_request_validator.py` (PROVIDERS.md §2), and what must fail.

use trunkline_providers::twilio::signature::{body_sha256, Algorithm, RequestValidator};

const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const SHA1: Algorithm = Algorithm::HmacSha1;

fn params() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn v() -> RequestValidator {
    RequestValidator::new(TOKEN.into())
}

#[test]
fn form_vector() {
    assert_eq!(
        v().compute_signature(URL, &params(), SHA1),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert!(v().validate(URL, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SHA1));
}

#[test]
fn default_port_either_way() {
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert_eq!(
        v().compute_signature(with_port, &params(), SHA1),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    // Twilio signed with the port, the server sees the URL without it, and vice versa.
    assert!(v().validate(URL, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w=", SHA1));
    assert!(v().validate(with_port, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SHA1));
    assert!(v().validate(with_port, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w=", SHA1));
}

#[test]
fn http_with_port_80() {
    let url = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
    assert_eq!(
        v().compute_signature(url, &params(), SHA1),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    assert!(v().validate(url, &params(), "0ZXoZLH/DfblKGATFgpif+LLRf4=", SHA1));
    assert!(v().validate(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params(),
        "0ZXoZLH/DfblKGATFgpif+LLRf4=",
        SHA1
    ));
}

#[test]
fn a_non_default_port() {
    let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        v().compute_signature(url, &params(), SHA1),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    );
    assert!(v().validate(url, &params(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", SHA1));
    // Without the port the validator can only add :80, which is not what was signed.
    assert!(!v().validate(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params(),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        SHA1
    ));
}

#[test]
fn repeated_names_are_deduplicated_and_sorted() {
    let params: Vec<(String, String)> = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        v().compute_signature(URL, &params, SHA1),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    assert!(v().validate(URL, &params, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", SHA1));
}

#[test]
fn json_body_vector() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    assert_eq!(body_sha256(body), hash);
    let url = format!("{URL}&bodySHA256={hash}");
    assert_eq!(
        v().compute_signature(&url, &[], SHA1),
        "a9nBmqA0ju/hNViExpshrM61xv4="
    );
    assert!(v().validate_body(&url, body, "a9nBmqA0ju/hNViExpshrM61xv4=", SHA1));
    // Another body, another hash in the URL, or no hash at all: refused.
    assert!(!v().validate_body(
        &url,
        br#"{"property": "value", "boolean": false}"#,
        "a9nBmqA0ju/hNViExpshrM61xv4=",
        SHA1
    ));
    let forged = url.replace("0a1f", "1a1f");
    assert!(!v().validate_body(&forged, body, "a9nBmqA0ju/hNViExpshrM61xv4=", SHA1));
    assert!(!v().validate_body(URL, body, "a9nBmqA0ju/hNViExpshrM61xv4=", SHA1));
}

#[test]
fn forgeries_fail() {
    let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    let mut tampered = params();
    tampered[2].1 = "1235".into();
    assert!(!v().validate(URL, &tampered, sig, SHA1));
    let mut extra = params();
    extra.push(("Extra".into(), "1".into()));
    assert!(!v().validate(URL, &extra, sig, SHA1));
    assert!(!v().validate(
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        &params(),
        sig,
        SHA1
    ));
    assert!(!v().validate(
        "https://evil.com/myapp.php?foo=1&bar=2",
        &params(),
        sig,
        SHA1
    ));
    assert!(!RequestValidator::new("54321".into()).validate(URL, &params(), sig, SHA1));
    assert!(!v().validate(URL, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8", SHA1));
    assert!(!v().validate(URL, &params(), sig, Algorithm::HmacSha256));
}
