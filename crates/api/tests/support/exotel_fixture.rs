//! A server with the provider doubles, the LiveKit double, a bridge, the bridge's public
//! address (what Exotel whitelists), and an Exotel account (`PA_…`).
#![allow(dead_code)]

use super::provider_fixture::*;
use super::*;
use livekit_double::LiveKitDouble;
use provider_doubles::ExotelDouble;
use serde_json::{json, Value};
use std::sync::Arc;
use trunkline_core::provisioning::livekit_info::BridgeTarget;
use trunkline_domain::Transport;

/// `TRUNKLINE_BRIDGE_PUBLIC_ADDRESS` of the test server.
pub const BRIDGE_PUBLIC: &str = "203.0.113.7:5070";
pub const BRIDGE_IP: &str = "203.0.113.7";
/// An ExoPhone of the account.
pub const EXOPHONE: &str = "+918044319240";

pub struct ExotelEnv {
    pub exotel: ExotelDouble,
    pub providers: Providers,
    pub db: TestDb,
    pub server: TestServer,
    pub key: String,
    pub account: String,
}

/// `bridge_public`: the bridge's public address, or `None` to leave the setting unset.
pub async fn exotel_env_with(livekit: LiveKit<'_>, bridge_public: Option<&str>) -> ExotelEnv {
    let providers = Providers::start().await;
    let db = TestDb::fresh().await;
    let mut settings = providers.settings();
    settings.bridge_public_address = bridge_public.map(|a| a.parse().unwrap());
    let settings = Arc::new(settings);
    let server = TestServer::start_custom(&db, livekit, None, |state| {
        state.providers = settings;
        state.provisioner = state.provisioner.clone().with_bridge(Some(BridgeTarget {
            address: "bridge.example.net:5080".into(),
            transport: Transport::Tcp,
        }));
    })
    .await;
    let key = server.tenant("a@example.com").await;
    let account = account(&server, &key, &exotel_body()).await;
    ExotelEnv {
        exotel: providers.exotel.clone(),
        providers,
        db,
        server,
        key,
        account,
    }
}

pub async fn exotel_env(lk: &LiveKitDouble) -> ExotelEnv {
    exotel_env_with(LiveKit::Double(lk), Some(BRIDGE_PUBLIC)).await
}

/// `POST /sip/create-outbound-trunk` body of a trunk automated at Exotel.
pub fn exotel_trunk_body(account: &str, number: &str) -> Value {
    json!({"trunk_name": "Exotel automated", "trunk_type": "exotel",
           "trunk_config": {"provider_account_id": account, "exotel_number": number}})
}

impl ExotelEnv {
    /// Creates a trunk automated at Exotel for `number`; returns the answer's `data`.
    pub async fn automated_trunk(&self, number: &str) -> Value {
        let (status, json) = self
            .server
            .post(
                "/sip/create-outbound-trunk",
                &self.key,
                &exotel_trunk_body(&self.account, number),
            )
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

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.server
            .send("DELETE", path, Some(&self.key), None)
            .await
    }

    /// An Exotel request made directly (as the dashboard would), with the account's key.
    pub async fn exotel_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .server
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/v2/accounts/{EX_SID}{path}", self.exotel.url()),
            )
            .basic_auth(EX_KEY, Some(EX_TOKEN));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// A vSIP trunk made directly at Exotel, as a user at the dashboard would: one trunkline
    /// did not make. Returns its sid.
    pub async fn their_trunk(&self) -> String {
        let made = self
            .exotel_call(
                "POST",
                "/trunks",
                Some(json!({"trunk_name": "theirs", "nso_code": "ANY-ANY",
                            "domain_name": format!("{EX_SID}.pstn.exotel.com")})),
            )
            .await;
        made["response"]["data"]["trunk_sid"]
            .as_str()
            .unwrap_or_else(|| panic!("{made}"))
            .to_owned()
    }
}
