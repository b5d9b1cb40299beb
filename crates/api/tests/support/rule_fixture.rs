//! The dispatch-rule helpers shared by `dispatch_rules.rs` and
//! `dispatch_rules_isolation.rs`: creating trunks and rules, reading LiveKit's copy, and
//! seed 002's rule file.
#![allow(dead_code)]

use super::*;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use trunkline_livekit::proto;

/// Seed 002's `/tmp/dispatch.json`, byte for byte.
pub const SEED_002_DISPATCH: &str = r#"{
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
}"#;

/// An inbound trunk for `number`: (trunkline id, LiveKit id).
pub async fn trunk(server: &TestServer, key: &str, number: &str) -> (String, String) {
    let (status, json) = server
        .post(
            "/sip/inbound-trunks",
            key,
            &json!({"name": format!("line {number}"), "numbers": [number]}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    (
        json["data"]["trunk_id"].as_str().unwrap().to_owned(),
        json["data"]["livekit_trunk_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

pub async fn create(server: &TestServer, key: &str, body: &Value) -> (u16, Value) {
    server.post("/sip/dispatch-rules", key, body).await
}

pub async fn created(server: &TestServer, key: &str, body: &Value) -> Value {
    let (status, json) = create(server, key, body).await;
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

/// A LiveKit name (room, room prefix, agent) as its tenant knows it: without the tenant's
/// namespace prefix, which every such name must carry.
pub fn own(livekit_name: &str) -> &str {
    trunkline_core::rooms::split(livekit_name)
        .map(|(_, own)| own)
        .unwrap_or_else(|| panic!("{livekit_name:?} is outside every tenant namespace"))
}

pub fn lk_rule(lk: &LiveKitDouble, d: &Value) -> proto::SipDispatchRuleInfo {
    lk.dispatch_rule(d["livekit_rule_id"].as_str().expect("a LiveKit rule id"))
        .expect("LiveKit holds the rule")
}
