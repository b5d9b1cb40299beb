use super::*;
use serde_json::json;

fn raw(v: serde_json::Value) -> RawAssistant {
    serde_json::from_value(v).unwrap()
}

fn fields(r: Result<(String, AssistantConfig), ValidationErrors>) -> Vec<String> {
    r.unwrap_err().0.into_iter().map(|e| e.field).collect()
}

#[test]
fn a_full_assistant_validates() {
    let (name, cfg) = raw(json!({
        "name": " Sales ", "agent_name": "outbound-caller",
        "metadata": {"lang": "hi"}, "end_call_webhook_url": "https://hooks.example.com/end",
        "max_call_duration": 600, "ringing_timeout": 30
    }))
    .validate(TargetPolicy::PublicOnly)
    .unwrap();
    assert_eq!(name, "Sales");
    assert_eq!(cfg.agent_name, "outbound-caller");
    assert_eq!(
        metadata_text(cfg.metadata.as_ref().unwrap()),
        r#"{"lang":"hi"}"#
    );
    assert_eq!(cfg.ringing_timeout, Some(30));
}

#[test]
fn each_rule_names_its_field() {
    let cases: &[(serde_json::Value, &str)] = &[
        (json!({"agent_name": "a"}), "name"),
        (json!({"name": "n"}), "agent_name"),
        (
            json!({"name": "n", "agent_name": "has space"}),
            "agent_name",
        ),
        (
            json!({"name": "n", "agent_name": "a", "ringing_timeout": 0}),
            "ringing_timeout",
        ),
        (
            json!({"name": "n", "agent_name": "a", "ringing_timeout": 601}),
            "ringing_timeout",
        ),
        (
            json!({"name": "n", "agent_name": "a", "max_call_duration": 86401}),
            "max_call_duration",
        ),
        (
            json!({"name": "n", "agent_name": "a", "metadata": "x".repeat(MAX_METADATA_BYTES + 1)}),
            "metadata",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "http://example.com/h"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "https://127.0.0.1/h"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "https://10.1.2.3/h"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "https://[::1]/h"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "https://localhost/h"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "https://169.254.169.254/latest"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "https://u:p@example.com/h"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "/relative"}),
            "end_call_webhook_url",
        ),
        (
            json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "ftp://example.com/"}),
            "end_call_webhook_url",
        ),
    ];
    for (input, field) in cases {
        assert_eq!(
            fields(raw(input.clone()).validate(TargetPolicy::PublicOnly)),
            vec![field.to_string()],
            "{input}"
        );
    }
}

#[test]
fn operators_may_allow_internal_and_plain_http_targets() {
    let r = raw(
        json!({"name": "n", "agent_name": "a", "end_call_webhook_url": "http://127.0.0.1:9/h"}),
    );
    assert!(r.validate(TargetPolicy::PublicOnly).is_err());
    let (_, cfg) = r.validate(TargetPolicy::AllowInternal).unwrap();
    assert_eq!(
        cfg.end_call_webhook_url.as_deref(),
        Some("http://127.0.0.1:9/h")
    );
}

#[test]
fn unknown_fields_are_refused() {
    assert!(serde_json::from_value::<RawAssistant>(json!({"nme": "x"})).is_err());
}
