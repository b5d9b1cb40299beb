//! Our `X-Twilio-Signature` validator against the official twilio SDK (PyPI `twilio`, pinned
//! in .ci/run): generated URLs and parameters are signed by the SDK's
//! `RequestValidator.compute_signature`; ours must agree, accept them, and reject each after
//! one change; and the SDK's `validate` must accept what ours computes.
//!
//! Needs `python3` with the SDK. Missing either fails the test with what to install; only
//! `TRUNKLINE_SKIP_TWILIO_SDK=1` (for a local run without Python; CI never sets it) skips.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use trunkline_providers::twilio::signature::{body_sha256, Algorithm, RequestValidator};

struct Case {
    token: String,
    url: String,
    params: Vec<(String, String)>,
    body: Option<String>,
    alg: Algorithm,
}

impl Case {
    fn json(&self) -> Value {
        json!({
            "token": self.token,
            "url": self.url,
            "params": self.params,
            "body": self.body,
            "algorithm": match self.alg { Algorithm::HmacSha1 => "HMAC_SHA1", Algorithm::HmacSha256 => "HMAC_SHA256" },
        })
    }

    fn validate(
        &self,
        v: &RequestValidator,
        url: &str,
        params: &[(String, String)],
        body: Option<&str>,
        sig: &str,
    ) -> bool {
        match body {
            Some(b) => v.validate_body(url, b.as_bytes(), sig, self.alg),
            None => v.validate(url, params, sig, self.alg),
        }
    }
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn text(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "a", "Z", "0", "9", " ", "+", "&", "=", "%", "é", "ß", "日本", "😀", "-", "_", ".", "/",
        "?", "+1415",
    ];
    (0..rng.random_range(0..8))
        .map(|_| pick(rng, PIECES))
        .collect()
}

fn case(rng: &mut StdRng) -> Case {
    let scheme = pick(rng, &["https", "http", "HTTPS"]);
    let host = pick(
        rng,
        &[
            "example.com",
            "api.trunkline.example",
            "127.0.0.1",
            "Mixed-Case.example",
            "[::1]",
        ],
    );
    let port = match rng.random_range(0..4) {
        0 => String::new(),
        1 => {
            if scheme.eq_ignore_ascii_case("https") {
                ":443".into()
            } else {
                ":80".into()
            }
        }
        2 => format!(":{}", rng.random_range(1024..65535)),
        _ => String::new(),
    };
    let path: String = (0..rng.random_range(0..4))
        .map(|_| {
            format!(
                "/{}",
                pick(
                    rng,
                    &[
                        "twilio",
                        "PA_0a1b2c",
                        "voice",
                        "status",
                        "caf%C3%A9",
                        "a%20b",
                        "x;y",
                        "sms-fallback"
                    ]
                )
            )
        })
        .collect();
    let mut query: Vec<String> = (0..rng.random_range(0..3))
        .map(|i| {
            format!(
                "{}={}",
                pick(rng, &["foo", "bar", "q", "x"]),
                pick(rng, &["1", "two", "%2B1415", "a+b", ""]).to_owned() + &i.to_string()
            )
        })
        .collect();
    let json_body = rng.random_bool(0.2);
    let body = json_body.then(|| {
        json!({"event": text(rng), "n": rng.random_range(0..1000), "ok": rng.random_bool(0.5)})
            .to_string()
    });
    if let Some(b) = &body {
        query.push(format!("bodySHA256={}", body_sha256(b.as_bytes())));
    }
    let url = if query.is_empty() {
        format!("{scheme}://{host}{port}{path}")
    } else {
        format!("{scheme}://{host}{port}{path}?{}", query.join("&"))
    };
    let names = [
        "CallSid",
        "From",
        "To",
        "Digits",
        "AccountSid",
        "CallStatus",
        "Called",
        "Caller",
        "a",
        "B",
        "b",
        "Ä",
        "x y",
    ];
    let params = if json_body {
        vec![]
    } else {
        let mut p: Vec<(String, String)> = (0..rng.random_range(0..7))
            .map(|_| (pick(rng, &names).to_owned(), text(rng)))
            .collect();
        // Repeated names with repeated values, the SDK's set() case.
        if rng.random_bool(0.3) && !p.is_empty() {
            let dup = p[0].clone();
            p.push(dup.clone());
            p.push((dup.0, text(rng)));
        }
        p
    };
    Case {
        token: format!("{:032x}", rng.random::<u128>()),
        url,
        params,
        body,
        alg: if rng.random_bool(0.15) {
            Algorithm::HmacSha256
        } else {
            Algorithm::HmacSha1
        },
    }
}

/// Runs the SDK script; `None` only when skipping is explicitly allowed.
fn sdk(mode: &str, input: &Value) -> Option<Vec<Value>> {
    let skip = std::env::var("TRUNKLINE_SKIP_TWILIO_SDK").is_ok_and(|v| v == "1");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/twilio_sdk_sign.py");
    let child = Command::new("python3")
        .arg(script)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if skip => {
            eprintln!("skipping: python3 unavailable ({e}) and TRUNKLINE_SKIP_TWILIO_SDK=1");
            return None;
        }
        Err(e) => panic!("python3 is needed to check signatures against the official twilio SDK ({e}); install Python 3 and `pip install twilio==9.13.0` (see .ci/run), or set TRUNKLINE_SKIP_TWILIO_SDK=1 for a local run"),
    };
    // A script that dies at import closes its stdin early: its exit status says why.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.to_string().as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if skip {
            eprintln!(
                "skipping: the twilio SDK script failed and TRUNKLINE_SKIP_TWILIO_SDK=1:\n{err}"
            );
            return None;
        }
        panic!("the twilio SDK script failed; is the SDK installed (`pip install twilio==9.13.0`, see .ci/run)?\n{err}");
    }
    let v: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    eprintln!("twilio SDK {}", v["sdk_version"]);
    Some(v["results"].as_array().unwrap().clone())
}

#[test]
fn the_official_sdk_and_our_validator_agree() {
    let mut rng = StdRng::seed_from_u64(0x7711_0044);
    let cases: Vec<Case> = (0..300).map(|_| case(&mut rng)).collect();
    let input = Value::Array(cases.iter().map(Case::json).collect());
    let Some(signatures) = sdk("sign", &input) else {
        return;
    };
    assert_eq!(signatures.len(), cases.len());

    let mut ours = Vec::new();
    for (c, sig) in cases.iter().zip(&signatures) {
        let sig = sig.as_str().unwrap();
        let v = RequestValidator::new(c.token.as_str().into());
        let computed = v.compute_signature(&c.url, &c.params, c.alg);
        assert_eq!(computed, sig, "signature of {} {:?}", c.url, c.params);
        assert!(
            c.validate(&v, &c.url, &c.params, c.body.as_deref(), sig),
            "rejected the SDK's signature of {} {:?}",
            c.url,
            c.params
        );

        // One change anywhere is refused.
        let tampered_url = format!(
            "{}{}x=1",
            c.url,
            if c.url.contains('?') { "&" } else { "?" }
        );
        assert!(
            !c.validate(&v, &tampered_url, &c.params, c.body.as_deref(), sig),
            "accepted a changed URL {tampered_url}"
        );
        match &c.body {
            Some(b) => assert!(
                !v.validate_body(&c.url, format!("{b} ").as_bytes(), sig, c.alg),
                "accepted a changed body"
            ),
            None => {
                let mut p = c.params.clone();
                p.push(("Injected".into(), "1".into()));
                assert!(
                    !v.validate(&c.url, &p, sig, c.alg),
                    "accepted an added parameter"
                );
            }
        }
        let other = RequestValidator::new("another-token".into());
        assert!(!c.validate(&other, &c.url, &c.params, c.body.as_deref(), sig));
        ours.push(computed);
    }

    // The reverse: the SDK's validate() accepts what we compute. Not for an upper-case scheme:
    // the SDK rebuilds the URL with a lower-case one and refuses even its own signature
    // there (our validator also tries the URL as given).
    let pairs: Vec<(&Case, &String)> = cases
        .iter()
        .zip(&ours)
        .filter(|(c, _)| c.url.starts_with("http"))
        .collect();
    assert!(
        pairs.len() > 150,
        "most cases are checked both ways: {}",
        pairs.len()
    );
    let input = Value::Array(
        pairs
            .iter()
            .map(|(c, s)| {
                let mut j = c.json();
                j["signature"] = json!(s);
                j
            })
            .collect(),
    );
    let Some(verdicts) = sdk("validate", &input) else {
        return;
    };
    for ((c, _), ok) in pairs.iter().zip(verdicts) {
        assert_eq!(
            ok,
            json!(true),
            "the SDK rejected our signature of {} {:?}",
            c.url,
            c.params
        );
    }
}
