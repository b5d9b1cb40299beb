//! Twilio's webhooks (`/twilio/{provider_account_id}/…`) against the running server, each
//! request signed by the official twilio SDK's `RequestValidator` (PyPI `twilio`, pinned in
//! .ci/run) and sent by Python's own HTTP client: accepted when the SDK signed what was sent
//! over `TRUNKLINE_PUBLIC_URL`, 403 with nothing recorded otherwise. Needs `python3` with the
//! SDK; without it the test fails, saying what to install.

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::num::NonZeroU32;
use std::process::{Command, Stdio};
use std::sync::Arc;
use support::provider_fixture::*;
use trunkline_api::routes::twilio_webhooks::WebhookLimit;

/// Signs each request with the SDK and sends it. A request is `{path, params}` (a form
/// POST), or `{path, json}` (a JSON body: `bodySHA256` added to the URL, the URL signed);
/// `sent` (`sent_json`) replaces the parameters (the JSON body) after signing, `signature`
/// the signature ("" sends none),
/// `sign_url` the URL signed (default: the public URL and the path).
const SDK_CLIENT: &str = r#"
import json, sys, urllib.request, urllib.parse, urllib.error
from twilio.request_validator import RequestValidator
cfg = json.load(sys.stdin)
v = RequestValidator(cfg["token"])
out = []
for r in cfg["requests"]:
    path = r["path"]
    headers = {}
    if "json" in r:
        body = json.dumps(r["json"])
        path += ("&" if "?" in path else "?") + "bodySHA256=" + v.compute_hash(body)
        sig = v.compute_signature(r.get("sign_url", cfg["public"] + path), {})
        assert v.validate(cfg["public"] + path, body, sig)
        data = body.encode()
        headers["Content-Type"] = "application/json"
    else:
        params = dict(r["params"])
        sig = v.compute_signature(r.get("sign_url", cfg["public"] + path), params)
        data = urllib.parse.urlencode(r.get("sent", r["params"])).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if "sent_json" in r:
        data = json.dumps(r["sent_json"]).encode()
    if "signature" in r:
        sig = r["signature"]
    if sig:
        headers["X-Twilio-Signature"] = sig
    req = urllib.request.Request(cfg["local"] + path, data=data, headers=headers, method="POST")
    try:
        resp = urllib.request.urlopen(req, timeout=10)
        out.append({"status": resp.status, "type": resp.headers.get("Content-Type"), "body": resp.read().decode()})
    except urllib.error.HTTPError as e:
        out.append({"status": e.code, "type": e.headers.get("Content-Type"), "body": e.read().decode()})
print(json.dumps(out))
"#;

async fn sdk_send(local: &str, token: &str, requests: Value) -> Vec<Value> {
    let cfg = json!({"token": token, "public": PUBLIC_URL, "local": local, "requests": requests});
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .args(["-c", SDK_CLIENT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed (with PyPI twilio==9.13.0, see .ci/run)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(cfg.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the twilio SDK client failed (install PyPI twilio==9.13.0, see .ci/run): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn call(extra: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("AccountSid", TW_SID),
        ("CallSid", "CA11111111111111111111111111111111"),
        ("From", "+14155550100"),
        ("To", "+15550100000"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ]
    .iter()
    .chain(extra)
    {
        m.insert((*k).into(), Value::String((*v).into()));
    }
    Value::Object(m)
}

async fn events(e: &Env, id: &str, query: &str) -> Value {
    let (status, json) = e
        .server
        .get(&format!("/provider-accounts/{id}/events{query}"), &e.key)
        .await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_signed_by_the_official_sdk_are_accepted_and_recorded() {
    let e = env().await;
    let id = account(&e.server, &e.key, &twilio_body()).await;
    let base = format!("/twilio/{id}");
    let answers = sdk_send(
        &e.server.url,
        TW_TOKEN,
        json!([
            {"path": format!("{base}/status"), "params": call(&[("CallStatus", "completed"), ("CallDuration", "42")])},
            {"path": format!("{base}/sms?campaign=spring&x=%2B1"), "params": {"MessageSid": "SM1", "Body": "héllo & bye", "From": "+14155550100"}},
            {"path": format!("{base}/recording"), "json": {"RecordingSid": "RE1", "CallSid": "CA11111111111111111111111111111111"}},
            {"path": format!("{base}/sms-fallback"), "params": {"ErrorCode": "11200"}},
        ]),
    )
    .await;
    for a in &answers {
        assert_eq!(a["status"], 200, "{answers:?}");
        assert!(a["type"].as_str().unwrap().starts_with("text/xml"), "{a}");
        assert!(a["body"].as_str().unwrap().contains("<Response/>"), "{a}");
    }
    let page = events(&e, &id, "").await;
    let got: Vec<(&str, Option<&str>)> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| (ev["kind"].as_str().unwrap(), ev["call_sid"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("status", Some("CA11111111111111111111111111111111")),
            ("sms", None),
            ("recording", Some("CA11111111111111111111111111111111")),
            ("sms-fallback", None),
        ]
    );
    assert_eq!(page["events"][0]["params"]["CallDuration"], "42");
    assert_eq!(page["events"][1]["params"]["Body"], "héllo & bye");
    assert_eq!(page["events"][2]["params"]["RecordingSid"], "RE1");

    // Paginated, oldest first.
    let first = events(&e, &id, "?limit=3").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = events(&e, &id, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    assert_eq!(rest["events"][0]["kind"], "sms-fallback");
    assert!(rest.get("next_cursor").is_none(), "{rest}");

    // One call's events: its status callback and its recording.
    let one = events(&e, &id, "?call_sid=CA11111111111111111111111111111111").await;
    let kinds: Vec<&str> = one["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| ev["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["status", "recording"]);
    let none = events(&e, &id, "?call_sid=CA00000000000000000000000000000000").await;
    assert_eq!(none["events"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_missing_signature_gets_403_and_nothing_is_recorded() {
    let e = env().await;
    let id = account(&e.server, &e.key, &twilio_body()).await;
    let path = format!("/twilio/{id}/status");
    let answers = sdk_send(
        &e.server.url,
        TW_TOKEN,
        json!([
            // A parameter changed after signing.
            {"path": path, "params": call(&[]), "sent": call(&[("CallStatus", "completed")])},
            // No signature at all.
            {"path": path, "params": call(&[]), "signature": ""},
            // Signed over the server's own address rather than the public URL.
            {"path": path, "params": call(&[]), "sign_url": format!("{}{path}", e.server.url)},
            // A JSON body changed after its hash was signed.
            {"path": path, "json": {"a": 1}, "sent_json": {"a": 2}},
            // A JSON body with a made-up signature.
            {"path": path, "json": {"a": 1}, "signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        ]),
    )
    .await;
    for a in &answers {
        assert_eq!(a["status"], 403, "{answers:?}");
        assert!(a["body"].as_str().unwrap().contains("signature"), "{a}");
    }
    // Signed with another account's token.
    let other = sdk_send(
        &e.server.url,
        "some-other-accounts-token",
        json!([{"path": path, "params": call(&[])}]),
    )
    .await;
    assert_eq!(other[0]["status"], 403, "{other:?}");
    assert_eq!(events(&e, &id, "").await["events"], json!([]));
    // An account that is not there: 404.
    let missing = sdk_send(
        &e.server.url,
        TW_TOKEN,
        json!([{"path": "/twilio/PA_00000000000000000000000000000000/status", "params": call(&[])}]),
    )
    .await;
    assert_eq!(missing[0]["status"], 404, "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_dials_the_numbers_livekit_inbound_trunk_and_the_fallback_apologises() {
    let e = env().await;
    let id = account(&e.server, &e.key, &twilio_body()).await;
    let (status, json) = e
        .server
        .post(
            "/sip/inbound-trunks",
            &e.key,
            &json!({"name": "Twilio in", "numbers": ["+15550100000"],
                    "auth_username": "lk-user", "auth_password": "lk-Pa55&word"}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let answers = sdk_send(
        &e.server.url,
        TW_TOKEN,
        json!([
            {"path": format!("/twilio/{id}/voice"), "params": call(&[])},
            {"path": format!("/twilio/{id}/voice"), "params": call(&[("To", "+15550109999")])},
            {"path": format!("/twilio/{id}/voice-fallback"), "params": call(&[("ErrorCode", "11200")])},
        ]),
    )
    .await;
    assert_eq!(answers[0]["status"], 200, "{answers:?}");
    assert_eq!(
        answers[0]["body"],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial><Sip username=\"lk-user\" password=\"lk-Pa55&amp;word\">sip:+15550100000@tl-test.sip.livekit.cloud</Sip></Dial></Response>"
    );
    // A number no inbound trunk answers, and the fallback: an apology, then hang up.
    for a in &answers[1..] {
        assert_eq!(a["status"], 200, "{a}");
        let body = a["body"].as_str().unwrap();
        assert!(
            body.contains("<Say>") && body.ends_with("<Hangup/></Response>"),
            "{body}"
        );
    }
    let kinds: Vec<Value> = events(&e, &id, "").await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| ev["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("voice"), json!("voice"), json!("voice-fallback")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_requests_are_rate_limited_per_account() {
    let e = env_with(|state| {
        state.twilio_webhooks = Arc::new(WebhookLimit::per_minute(NonZeroU32::new(2).unwrap()));
    })
    .await;
    let id = account(&e.server, &e.key, &twilio_body()).await;
    let path = format!("/twilio/{id}/status");
    let answers = sdk_send(
        &e.server.url,
        TW_TOKEN,
        json!([
            {"path": path, "params": call(&[])},
            {"path": path, "params": call(&[])},
            {"path": path, "params": call(&[])},
        ]),
    )
    .await;
    let statuses: Vec<&Value> = answers.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(200), &json!(200), &json!(429)]);
    assert_eq!(
        events(&e, &id, "").await["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Forged requests do not spend the account's budget: a second account is untouched by
    // the first's, and a forged request to it is refused before the limit is consulted.
    let other = account(&e.server, &e.key, &twilio_body()).await;
    let path = format!("/twilio/{other}/status");
    let answers = sdk_send(
        &e.server.url,
        TW_TOKEN,
        json!([
            {"path": path, "params": call(&[]), "signature": "forged"},
            {"path": path, "params": call(&[]), "signature": "forged"},
            {"path": path, "params": call(&[])},
        ]),
    )
    .await;
    let statuses: Vec<&Value> = answers.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(403), &json!(403), &json!(200)]);
}
