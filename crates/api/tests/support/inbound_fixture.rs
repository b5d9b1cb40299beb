//! The inbound-trunk helpers shared by `inbound_trunks.rs` and `inbound_number_claims.rs`:
//! creating a trunk, and a complete trunk body (the environment is `support::env`).
#![allow(dead_code)]

use super::*;
use serde_json::{json, Value};

pub const PASSWORD: &str = "inbound-s3cret-Pa55";

pub async fn create(server: &TestServer, key: &str, body: &Value) -> (u16, Value) {
    server.post("/sip/inbound-trunks", key, body).await
}

/// Creates and returns (trunkline id, LiveKit id).
pub async fn created(server: &TestServer, key: &str, body: &Value) -> (String, String) {
    let (status, json) = create(server, key, body).await;
    assert_eq!(status, 200, "{json}");
    let d = &json["data"];
    (
        d["trunk_id"].as_str().unwrap().to_owned(),
        d["livekit_trunk_id"].as_str().unwrap().to_owned(),
    )
}

pub fn full() -> Value {
    json!({
        "name": "Carrier A",
        "numbers": ["+15550100000", "+15550100001"],
        "allowed_addresses": ["203.0.113.7", "198.51.100.77/24"],
        "allowed_numbers": [],
        "auth_username": "carrier-a",
        "auth_password": PASSWORD,
        "krisp_enabled": true,
        "ringing_timeout": 30,
        "max_call_duration": 3600,
        "media_encryption": "allowed"
    })
}
