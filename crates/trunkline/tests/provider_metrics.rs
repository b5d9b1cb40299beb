//! `serve` against the Twilio double: every provider API request is counted by provider and
//! outcome on the metrics listener, and no credential (the account's auth token, a generated
//! trunk password) reaches a response or the log, at the most verbose log level.

mod support;
use livekit_double::LiveKitDouble;
use provider_doubles::{Fault, TwilioDouble};
use serde_json::{json, Value};
use support::metrics::*;
use support::*;

const LK_KEY: &str = "APIprovidermetrics";
const LK_SECRET: &str = "provider-metrics-secret-0123456789abcdef";
const TW_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TW_TOKEN: &str = "twilio-auth-token-0123456789abcdef";

#[tokio::test]
async fn provider_calls_are_counted_by_outcome_and_no_credential_is_logged() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let twilio = TwilioDouble::start(TW_SID, TW_TOKEN).await;
    twilio.add_number("+15550100000");
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_TWILIO_API_URL", twilio.url()),
        ("TRUNKLINE_TWILIO_TRUNKING_URL", twilio.url()),
        ("TRUNKLINE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("TRUNKLINE_LOG", "trace".to_owned()),
    ];
    let server = serve(dir.path(), &envs);
    let metrics = metrics_url(&server.log.lock().unwrap());
    let key = create_key(dir.path(), "providers@acme.test", &envs);
    let http = http();
    let ok = [("provider", "twilio"), ("outcome", "ok")];
    assert_eq!(
        value(
            &scrape(&metrics).await,
            "trunkline_provider_api_calls_total",
            &ok
        ),
        0.0
    );

    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.url))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    // A refused token: counted as `credentials`.
    let refused = post(
        "/provider-accounts",
        json!({"provider": "twilio", "name": "t", "account_sid": TW_SID, "auth_token": "wrong-token-0123456789"}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    let refused = refused.text().await.unwrap();
    assert!(!refused.contains("wrong-token-0123456789"), "{refused}");

    let made = post(
        "/provider-accounts",
        json!({"provider": "twilio", "name": "t", "account_sid": TW_SID, "auth_token": TW_TOKEN}),
    )
    .await
    .unwrap();
    assert_eq!(made.status(), 200);
    let made: Value = made.json().await.unwrap();
    let account = made["data"]["provider_account_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // One 429 on the way: retried, counted once as rate_limited.
    twilio.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    let trunk = post(
        "/sip/create-outbound-trunk",
        json!({"trunk_name": "auto", "trunk_type": "twilio",
               "trunk_config": {"provider_account_id": account, "numbers": ["+15550100000"]}}),
    )
    .await
    .unwrap();
    assert_eq!(trunk.status(), 200);
    let trunk = trunk.text().await.unwrap();
    let list = twilio.credential_lists()[0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, password) = twilio.credentials(&list)[0].clone();
    assert!(
        !trunk.contains(&password) && !trunk.contains(TW_TOKEN),
        "{trunk}"
    );

    let samples = scrape(&metrics).await;
    let count = |outcome: &str| {
        value(
            &samples,
            "trunkline_provider_api_calls_total",
            &[("provider", "twilio"), ("outcome", outcome)],
        )
    };
    assert_eq!(count("credentials"), 1.0);
    assert_eq!(count("rate_limited"), 1.0);
    let ok_calls = twilio.requests().iter().filter(|r| r.status < 400).count() as f64;
    assert_eq!(count("ok"), ok_calls);
    assert!(ok_calls >= 6.0, "{ok_calls}");

    let log = server.stop();
    for secret in [TW_TOKEN, "wrong-token-0123456789", password.as_str()] {
        assert!(!log.contains(secret), "the log carries a credential");
    }
    assert!(
        log.contains("provider answered"),
        "trace logging was not on"
    );
}
