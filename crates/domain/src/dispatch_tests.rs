use super::*;
use crate::lk_json::LkDispatchRuleFile;

fn fields(e: &ValidationErrors) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

fn raw(json: serde_json::Value) -> RawDispatchRule {
    serde_json::from_value(json).unwrap()
}

#[test]
fn seed_002_dispatch_json_verbatim() {
    let file: LkDispatchRuleFile = serde_json::from_str(
        r#"{
  "dispatch_rule": {
    "rule": {
      "dispatchRuleIndividual": {
        "roomPrefix": "call-"
      }
    },
    "name": "Twilio Individual Room Dispatch",
    "roomConfig": {
      "agents": [{
        "agentName": "voice-agent",
        "metadata": "Twilio inbound call handler"
      }]
    }
  }
}"#,
    )
    .unwrap();
    let (name, c) = file.dispatch_rule.into_raw().unwrap().validate().unwrap();
    assert_eq!(name, "Twilio Individual Room Dispatch");
    assert_eq!(
        c.rule,
        RoomRule::Individual {
            room_prefix: "call-".into(),
            randomize: true
        }
    );
    assert_eq!(
        c.agents,
        vec![AgentDispatch {
            agent_name: "voice-agent".into(),
            metadata: "Twilio inbound call handler".into()
        }]
    );
    assert!(c.trunk_ids.is_empty() && c.pin.is_none());
}

#[test]
fn lk_number_filters_map_to_names_nobody_confuses() {
    let file: LkDispatchRuleFile = serde_json::from_value(serde_json::json!({"dispatchRule": {
        "name": "n",
        "rule": {"dispatchRuleDirect": {"roomName": "lobby", "pin": "1234"}},
        "numbers": ["+15550100000"],
        "inboundNumbers": ["+442071838750"]
    }}))
    .unwrap();
    let (_, c) = file.dispatch_rule.into_raw().unwrap().validate().unwrap();
    assert_eq!(
        c.dialed_numbers[0].as_str(),
        "+15550100000",
        "LiveKit `numbers` is the number dialed"
    );
    assert_eq!(
        c.caller_numbers[0].as_str(),
        "+442071838750",
        "LiveKit `inbound_numbers` is the caller"
    );
    assert_eq!(
        c.rule,
        RoomRule::Direct {
            room_name: "lobby".into()
        }
    );
    assert_eq!(c.pin.as_deref(), Some("1234"));

    let two = serde_json::from_value::<LkDispatchRuleFile>(serde_json::json!({"dispatch_rule": {
        "name": "n", "rule": {"dispatchRuleDirect": {"roomName": "a"}, "dispatchRuleCallee": {"roomPrefix": "b"}}
    }}))
    .unwrap();
    assert!(two.dispatch_rule.into_raw().is_err());
}

#[test]
fn rule_kinds_table() {
    let ok = |rule: serde_json::Value| {
        raw(serde_json::json!({"name": "n", "rule": rule}))
            .validate()
            .map(|(_, c)| c.rule)
    };
    assert_eq!(
        ok(serde_json::json!({"type": "individual", "room_prefix": "call-", "randomize": false}))
            .unwrap(),
        RoomRule::Individual {
            room_prefix: "call-".into(),
            randomize: false
        }
    );
    assert_eq!(
        ok(serde_json::json!({"type": "callee", "room_prefix": "in-"})).unwrap(),
        RoomRule::Callee {
            room_prefix: "in-".into(),
            randomize: false
        }
    );
    assert_eq!(
        ok(serde_json::json!({"type": "individual"})).unwrap(),
        RoomRule::Individual {
            room_prefix: String::new(),
            randomize: true
        }
    );
    for (bad, field) in [
        (serde_json::json!({"type": "direct"}), "rule.room_name"),
        (
            serde_json::json!({"type": "direct", "room_name": ""}),
            "rule.room_name",
        ),
        (
            serde_json::json!({"type": "direct", "room_name": "a b"}),
            "rule.room_name",
        ),
        (
            serde_json::json!({"type": "direct", "room_name": "a", "room_prefix": "b"}),
            "rule",
        ),
        (
            serde_json::json!({"type": "individual", "room_name": "x"}),
            "rule.room_name",
        ),
        (
            serde_json::json!({"type": "individual", "room_prefix": "x/y"}),
            "rule.room_prefix",
        ),
        (serde_json::json!({"type": "hunt"}), "rule.type"),
        (serde_json::json!({}), "rule.type"),
    ] {
        let e = raw(serde_json::json!({"name": "n", "rule": bad.clone()}))
            .validate()
            .unwrap_err();
        assert!(fields(&e).contains(&field), "{bad}: {:?}", fields(&e));
    }
}

#[test]
fn call_room_prefix_is_reserved_in_every_room_field() {
    for (rule, field) in [
        (
            serde_json::json!({"type": "direct", "room_name": "CL_0123456789abcdef"}),
            "rule.room_name",
        ),
        (
            serde_json::json!({"type": "direct", "room_name": "cl_x"}),
            "rule.room_name",
        ),
        (
            serde_json::json!({"type": "individual", "room_prefix": "CL"}),
            "rule.room_prefix",
        ),
        (
            serde_json::json!({"type": "callee", "room_prefix": "CL_"}),
            "rule.room_prefix",
        ),
    ] {
        let e = raw(serde_json::json!({"name": "n", "rule": rule.clone()}))
            .validate()
            .unwrap_err();
        assert_eq!(fields(&e), vec![field], "{rule}");
        assert!(e.to_string().contains("CL_"), "{e}");
    }
    for fine in ["CLUB", "call", "xCL_"] {
        let rule = serde_json::json!({"type": "direct", "room_name": fine});
        assert!(raw(serde_json::json!({"name": "n", "rule": rule}))
            .validate()
            .is_ok());
    }
}

#[test]
fn other_rules_table() {
    let base =
        || serde_json::json!({"name": "n", "rule": {"type": "individual", "room_prefix": "call-"}});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    let cases = [
        (with("pin", serde_json::json!("12")), "pin"),
        (with("pin", serde_json::json!("12ab")), "pin"),
        (
            with("trunk_ids", serde_json::json!(["PN_PPN_ACRcLgLG8e2t"])),
            "trunk_ids[0]",
        ),
        (
            with("dialed_numbers", serde_json::json!(["555"])),
            "dialed_numbers[0]",
        ),
        (
            with("caller_numbers", serde_json::json!(["+1"])),
            "caller_numbers[0]",
        ),
        (
            with(
                "room_config",
                serde_json::json!({"agents": [{"metadata": "x"}]}),
            ),
            "room_config.agents[0].agent_name",
        ),
        (
            with(
                "room_config",
                serde_json::json!({"agents": [{"agent_name": "has space"}]}),
            ),
            "room_config.agents[0].agent_name",
        ),
        (
            with(
                "room_config",
                serde_json::json!({"agents": vec![serde_json::json!({"agent_name": "a"}); 9]}),
            ),
            "room_config.agents",
        ),
        (
            with("metadata", serde_json::json!("x".repeat(16 * 1024 + 1))),
            "metadata",
        ),
        (serde_json::json!({"rule": {"type": "individual"}}), "name"),
        (serde_json::json!({"name": "n"}), "rule"),
    ];
    for (json, field) in cases {
        let e = raw(json.clone()).validate().unwrap_err();
        assert!(fields(&e).contains(&field), "{field}: {:?}", fields(&e));
    }
    let id = crate::TrunkId::generate();
    let (_, c) = raw(with(
        "trunk_ids",
        serde_json::json!([id.as_str(), id.as_str()]),
    ))
    .validate()
    .unwrap();
    assert_eq!(c.trunk_ids, vec![id], "duplicates dropped");
}
