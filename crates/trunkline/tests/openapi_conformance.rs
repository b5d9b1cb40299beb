//! The OpenAPI document against the server's behaviour: schemathesis (PyPI, pinned and
//! installed by `.ci/run`) reads `/openapi.json` from a real `trunkline serve --demo`, sends
//! generated requests — valid ones and invalid ones — with a real API key, and checks every
//! answer: no 5xx, a status the document lists for the operation, the documented content type
//! and a body that matches the documented schema, a 405 naming the allowed methods for a
//! method the document does not list, and a 4xx for every request the document calls invalid.
//! Any finding fails the test with schemathesis's report.

mod support;

use serde_json::{json, Value};
use std::process::Command;
use std::time::Instant;
use support::*;

/// The checks run on every answer (`st run --checks`).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,response_headers_conformance,unsupported_method,\
missing_required_header,use_after_free,ensure_resource_availability,ignored_auth,\
negative_data_rejection";

/// Per operation and phase; enough to reach every documented status of most operations while
/// keeping the run within about two minutes on a 2-core machine.
const MAX_EXAMPLES: &str = "30";

/// Fixed, so that a failure reproduces (`st run --seed`).
const SEED: &str = "14";

/// The Twilio account the provider-account operations use (in the Twilio double).
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "conformance-twilio-auth-token";

/// POSTs `body` and returns the answer's `data.<field>`, asserting a 2xx.
async fn created(base: &str, key: &str, path: &str, body: Value, field: &str) -> String {
    let resp = http()
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer["data"][field].as_str().unwrap().to_owned()
}

/// Real objects for the path parameters, so that generated requests reach the handlers'
/// logic rather than their 404: one of each kind for reads and changes, and one more for
/// each delete, so a delete does not take the others' object away.
async fn fixtures(base: &str, key: &str, twilio: &provider_doubles::TwilioDouble) -> String {
    let trunk = |n: u32| {
        json!({"trunk_name": format!("Trunk {n}"), "trunk_type": "twilio", "trunk_config": {
            "address": "example.pstn.twilio.com", "numbers": [format!("+1555010000{n}")],
            "username": "AC1", "password": "not-a-real-token"}})
    };
    let inbound =
        |n: u32| json!({"name": format!("Inbound {n}"), "numbers": [format!("+1555020000{n}")]});
    let rule = |n: u32, trunk: &str| {
        json!({"name": format!("Rule {n}"), "trunk_ids": [trunk],
               "rule": {"type": "individual", "room_prefix": format!("r{n}-")}})
    };
    let outbound = "/sip/create-outbound-trunk";
    let trunk_id = created(base, key, outbound, trunk(1), "trunk_id").await;
    let inbound_id = created(base, key, "/sip/inbound-trunks", inbound(1), "trunk_id").await;
    let other_inbound = created(base, key, "/sip/inbound-trunks", inbound(2), "trunk_id").await;
    let rule_id = created(
        base,
        key,
        "/sip/dispatch-rules",
        rule(1, &inbound_id),
        "rule_id",
    )
    .await;
    let assistant = json!({"name": "Sales", "agent_name": "outbound-caller"});
    let assistant_id = created(base, key, "/assistants", assistant.clone(), "assistant_id").await;
    let call =
        json!({"assistant_id": assistant_id, "trunk_id": trunk_id, "to_number": "+14155550100"});
    let call_id = created(base, key, "/call/outbound", call, "call_id").await;
    let account = json!({"provider": "twilio", "name": "Twilio", "account_sid": TWILIO_SID,
                         "auth_token": TWILIO_TOKEN});
    let accounts = "/provider-accounts";
    let account_id = created(base, key, accounts, account.clone(), "provider_account_id").await;
    // A number of the account set up for outbound calls (`POST /numbers`), one to read and
    // one to delete.
    let number = |n: u32| {
        let e164 = format!("+1555030000{n}");
        twilio.add_number(&e164);
        json!({"provider_account_id": account_id, "number": e164,
               "assistant_id": assistant_id, "direction": "outbound"})
    };
    let number_id = created(base, key, "/numbers", number(1), "number_id").await;
    // (operation, path parameter, the object it deletes)
    let deletes = [
        (
            "DELETE /sip/trunks/{trunk_id}",
            "trunk_id",
            created(base, key, outbound, trunk(2), "trunk_id").await,
        ),
        (
            "DELETE /sip/outbound-trunks/{trunk_id}",
            "trunk_id",
            created(base, key, outbound, trunk(3), "trunk_id").await,
        ),
        (
            "DELETE /sip/deactivate/{trunk_id}",
            "trunk_id",
            created(base, key, outbound, trunk(4), "trunk_id").await,
        ),
        (
            "DELETE /sip/inbound-trunks/{trunk_id}",
            "trunk_id",
            created(base, key, "/sip/inbound-trunks", inbound(3), "trunk_id").await,
        ),
        (
            "DELETE /sip/dispatch-rules/{rule_id}",
            "rule_id",
            created(
                base,
                key,
                "/sip/dispatch-rules",
                rule(2, &other_inbound),
                "rule_id",
            )
            .await,
        ),
        (
            "DELETE /assistants/{id}",
            "id",
            created(base, key, "/assistants", assistant, "assistant_id").await,
        ),
        (
            "DELETE /provider-accounts/{id}",
            "id",
            created(base, key, accounts, account, "provider_account_id").await,
        ),
        (
            "DELETE /numbers/{id}",
            "id",
            created(base, key, "/numbers", number(2), "number_id").await,
        ),
        (
            "DELETE /keys/{key_id}",
            "key_id",
            created(base, key, "/keys", json!({"name": "spare"}), "key_id").await,
        ),
    ];
    // Every other operation with a path parameter, by path.
    let others = [
        ("^/sip/inbound-trunks/", "trunk_id", inbound_id),
        ("^/sip/(trunks|outbound-trunks)/", "trunk_id", trunk_id),
        ("^/sip/dispatch-rules/", "rule_id", rule_id),
        ("^/assistants/", "id", assistant_id),
        ("^/call/", "id", call_id),
        ("^/provider-accounts/", "id", account_id.clone()),
        ("^/numbers/", "id", number_id),
    ];
    let mut config = String::new();
    for (name, parameter, id) in deletes {
        config += &format!(
            "[[operations]]\ninclude-name = \"{name}\"\nparameters = {{ \"path.{parameter}\" = \"{id}\" }}\n\n"
        );
    }
    for (path, parameter, id) in others {
        config += &format!(
            "[[operations]]\ninclude-path-regex = \"{path}\"\nexclude-method = \"DELETE\"\nparameters = {{ \"path.{parameter}\" = \"{id}\" }}\n\n"
        );
    }
    // Twilio's webhooks: an existing account, one endpoint (signatures fail: 403).
    config += &format!(
        "[[operations]]\ninclude-name = \"POST /twilio/{{account_id}}/{{kind}}\"\nparameters = {{ \"path.account_id\" = \"{account_id}\", \"path.kind\" = \"status\" }}\n\n"
    );
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_matches_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    // Provider accounts are checked with the provider: every provider API is the Twilio
    // double (the others answer 404 there, a refusal).
    let twilio = provider_doubles::TwilioDouble::start(TWILIO_SID, TWILIO_TOKEN).await;
    let providers = [
        "TRUNKLINE_TWILIO_API_URL",
        "TRUNKLINE_TWILIO_TRUNKING_URL",
        "TRUNKLINE_EXOTEL_API_URL",
        "TRUNKLINE_TELNYX_API_URL",
    ]
    .map(|v| (v, twilio.url()));
    // Probes of the fixture trunk go to a name that does not resolve: allow enough of them
    // that the probe's answers are checked, not only the rate limit's 429.
    let server = serve(
        dir.path(),
        &[
            ("TRUNKLINE_DEMO", "true".to_owned()),
            ("TRUNKLINE_TRUNK_TESTS_PER_MINUTE", "600".to_owned()),
            (
                "TRUNKLINE_PUBLIC_URL",
                "https://trunkline.example.test".to_owned(),
            ),
            providers[0].clone(),
            providers[1].clone(),
            providers[2].clone(),
            providers[3].clone(),
        ],
    );
    let key = create_key(dir.path(), "schemathesis@acme.example", &[]);
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, fixtures(&server.url, &key, &twilio).await).unwrap();
    let started = Instant::now();
    let out = Command::new("st")
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config)
        .args([
            "run",
            &format!("{}/openapi.json", server.url),
            "--checks",
            CHECKS,
            "--header",
            &format!("Authorization: Bearer {key}"),
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
            // Stateful testing follows links the document does not declare; the fixtures
            // give every operation a real object instead.
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            // A redirect is an answer of its own operation (GET /sip/trunks is a 308).
            "--max-redirects",
            "0",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .unwrap_or_else(|e| {
            panic!("schemathesis (`st`) could not be started ({e}): .ci/run installs it")
        });
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = server.stop();
    assert!(
        out.status.success(),
        "schemathesis found answers that do not match the document:\n{report}\n--- server log ---\n{log}"
    );
    // A run that tested nothing would pass too: every operation must have been tested, with
    // the fixtures reaching the handlers (no operation left at 404 for want of data).
    let tested = report
        .lines()
        .find(|l| l.trim_start().starts_with("Tested:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        tested.starts_with("Tested: ") && !tested.contains("Tested: 0"),
        "{report}"
    );
    assert!(!report.contains("Missing test data"), "{report}");
    eprintln!(
        "schemathesis: {:.0} s, {tested}\n{}",
        started.elapsed().as_secs_f64(),
        report.lines().rev().take(6).collect::<Vec<_>>().join("\n")
    );
}
