use super::*;
use crate::lk_json::LkInboundTrunkFile;

fn fields(e: &ValidationErrors) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

fn raw(json: serde_json::Value) -> RawInboundTrunk {
    serde_json::from_value(json).unwrap()
}

#[test]
fn seed_002_trunk_json_verbatim() {
    let file: LkInboundTrunkFile = serde_json::from_str(
        r#"{
  "trunk": {
    "name": "Twilio Inbound SIP Trunk",
    "numbers": [
      "+13074606119"
    ],
    "krispEnabled": true
  }
}"#,
    )
    .unwrap();
    let (name, c) = file.trunk.into_raw().unwrap().validate().unwrap();
    assert_eq!(name, "Twilio Inbound SIP Trunk");
    assert_eq!(c.numbers[0].as_str(), "+13074606119");
    assert!(c.krisp_enabled);
    assert_eq!(c.media_encryption, MediaEncryption::Disabled);
}

#[test]
fn lk_fields_in_camel_or_snake_case_with_protojson_durations() {
    let file: LkInboundTrunkFile = serde_json::from_value(serde_json::json!({"trunk": {
        "name": "t", "allowedAddresses": ["203.0.113.0/24"], "allowed_numbers": ["+15550100000"],
        "ringingTimeout": "30s", "max_call_duration": "3600s", "mediaEncryption": "SIP_MEDIA_ENCRYPT_REQUIRE"
    }}))
    .unwrap();
    let (_, c) = file.trunk.into_raw().unwrap().validate().unwrap();
    assert_eq!(c.allowed_addresses[0].to_string(), "203.0.113.0/24");
    assert_eq!(c.ringing_timeout_secs, Some(30));
    assert_eq!(c.max_call_duration_secs, Some(3600));
    assert_eq!(c.media_encryption, MediaEncryption::Required);
    // A LiveKit field trunkline does not carry is refused by name, not dropped.
    let err = serde_json::from_value::<LkInboundTrunkFile>(
        serde_json::json!({"trunk": {"name": "t", "headers": {}}}),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("headers"), "{err}");
}

#[test]
fn a_trunk_must_say_how_it_recognises_its_calls() {
    let e = raw(serde_json::json!({"name": "t"}))
        .validate()
        .unwrap_err();
    assert_eq!(fields(&e), vec!["numbers"]);
    assert!(e.0[0].message.contains("allowed_addresses"));
    for ok in [
        serde_json::json!({"name": "t", "numbers": ["+15550100000"]}),
        serde_json::json!({"name": "t", "allowed_addresses": ["203.0.113.7"]}),
        serde_json::json!({"name": "t", "auth_username": "u", "auth_password": "p"}),
    ] {
        assert!(raw(ok.clone()).validate().is_ok(), "{ok}");
    }
}

#[test]
fn addresses_table() {
    let cases = [
        ("203.0.113.7", Some("203.0.113.7/32")),
        ("203.0.113.9/24", Some("203.0.113.0/24")),
        ("2001:db8::1", Some("2001:db8::1/128")),
        ("2001:db8::/32", Some("2001:db8::/32")),
        ("0.0.0.0/0", None),
        ("::/0", None),
        ("203.0.113.0/33", None),
        ("example.com", None),
        ("203.0.113", None),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_address("a", input)
                .ok()
                .map(|n| n.to_string())
                .as_deref(),
            want,
            "{input}"
        );
    }
    let e = raw(serde_json::json!({"name": "t", "allowed_addresses": ["203.0.113.7", "nope"]}))
        .validate()
        .unwrap_err();
    assert_eq!(fields(&e), vec!["allowed_addresses[1]"]);
}

#[test]
fn other_rules_table() {
    let cases = [
        (
            serde_json::json!({"name": "t", "numbers": ["555"]}),
            "numbers[0]",
        ),
        (
            serde_json::json!({"name": "t", "numbers": ["+15550100000"], "allowed_numbers": ["x"]}),
            "allowed_numbers[0]",
        ),
        (
            serde_json::json!({"name": "t", "auth_username": "u"}),
            "auth_password",
        ),
        (
            serde_json::json!({"name": "t", "numbers": ["+15550100000"], "ringing_timeout": 0}),
            "ringing_timeout",
        ),
        (
            serde_json::json!({"name": "t", "numbers": ["+15550100000"], "ringing_timeout": 601}),
            "ringing_timeout",
        ),
        (
            serde_json::json!({"name": "t", "numbers": ["+15550100000"], "max_call_duration": 86401}),
            "max_call_duration",
        ),
        (
            serde_json::json!({"name": "t", "numbers": ["+15550100000"], "media_encryption": "yes"}),
            "media_encryption",
        ),
        (
            serde_json::json!({"name": " ", "numbers": ["+15550100000"]}),
            "name",
        ),
    ];
    for (json, field) in cases {
        let e = raw(json.clone()).validate().unwrap_err();
        assert!(fields(&e).contains(&field), "{json}: {:?}", fields(&e));
    }
}
