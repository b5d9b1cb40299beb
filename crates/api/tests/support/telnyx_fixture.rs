//! A server with the provider doubles, a LiveKit, and a Telnyx account (`PA_…`), and what
//! the Telnyx tests read from the Telnyx double.
#![allow(dead_code)]

use super::provider_fixture::*;
use super::*;
use provider_doubles::TelnyxDouble;
use serde_json::{json, Value};

/// A string field of an answer (panics, naming the value, on anything else).
pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

pub struct TelnyxEnv {
    pub telnyx: TelnyxDouble,
    pub providers: Providers,
    pub db: TestDb,
    pub server: TestServer,
    pub key: String,
    pub account: String,
}

pub async fn telnyx_env(livekit: LiveKit<'_>) -> TelnyxEnv {
    let (providers, db, server, key, account) = with_account(livekit, &telnyx_body()).await;
    TelnyxEnv {
        telnyx: providers.telnyx.clone(),
        providers,
        db,
        server,
        key,
        account,
    }
}

/// `POST /sip/create-outbound-trunk` body of a trunk automated at Telnyx.
pub fn telnyx_trunk_body(account: &str, numbers: Value) -> Value {
    json!({"trunk_name": "Telnyx automated", "trunk_type": "telnyx",
           "trunk_config": {"provider_account_id": account, "numbers": numbers}})
}

impl TelnyxEnv {
    /// Creates a trunk automated at Telnyx and returns the create's `data`.
    pub async fn automated_trunk(&self, numbers: &[&str]) -> Value {
        let (status, json) = self
            .server
            .post(
                "/sip/create-outbound-trunk",
                &self.key,
                &telnyx_trunk_body(&self.account, json!(numbers)),
            )
            .await;
        assert_eq!(status, 200, "{json}");
        json["data"].clone()
    }

    /// Creates an inbound trunk automated at Telnyx and returns the create's `data`.
    pub async fn inbound_trunk(&self, numbers: &[&str]) -> Value {
        let body = json!({"name": "Telnyx inbound", "provider_account_id": self.account,
                          "numbers": numbers});
        let (status, json) = self
            .server
            .post("/sip/inbound-trunks", &self.key, &body)
            .await;
        assert_eq!(status, 200, "{json}");
        json["data"].clone()
    }

    /// `GET /sip/trunks/{id}`'s data.
    pub async fn trunk(&self, id: &str) -> Value {
        let (status, json) = self
            .server
            .get(&format!("/sip/trunks/{id}"), &self.key)
            .await;
        assert_eq!(status, 200, "{json}");
        json["data"].clone()
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        self.server
            .send(method, path, Some(&self.key), body.as_deref())
            .await
    }

    /// The one object of `collection` with `id`.
    pub fn object(&self, collection: &str, id: &str) -> Option<Value> {
        self.telnyx
            .objects(collection)
            .into_iter()
            .find(|o| o["id"] == id)
    }

    /// The connection a number is routed to (Null when none).
    pub fn number_connection(&self, number_id: &str) -> Value {
        self.object("phone_numbers", number_id)
            .map(|n| n["connection_id"].clone())
            .unwrap_or_else(|| panic!("no number {number_id}"))
    }

    /// Every object of the collections trunkline makes, to compare before and after.
    pub fn made(&self) -> Vec<Value> {
        [
            "credential_connections",
            "fqdn_connections",
            "fqdns",
            "outbound_voice_profiles",
        ]
        .iter()
        .flat_map(|c| self.telnyx.objects(c))
        .collect()
    }

    /// A Telnyx request made directly (as a user at the portal would).
    pub async fn telnyx_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .server
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.telnyx.url()),
            )
            .bearer_auth(TX_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}
