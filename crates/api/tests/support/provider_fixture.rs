//! The provider doubles (Twilio, Exotel, Telnyx) and a server whose provider base URLs point
//! at them, as `TRUNKLINE_TWILIO_API_URL` and its siblings would.
#![allow(dead_code)]

use super::*;
use provider_doubles::{ExotelDouble, TelnyxDouble, TwilioDouble};
use serde_json::{json, Value};
use std::sync::Arc;
use trunkline_core::provider_accounts::ProviderSettings;

pub const TW_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TW_TOKEN: &str = "twilio-auth-token-0123456789abcdef";
/// Letters and digits, as Exotel account SIDs are: the SID is the first label of the trunk's SIP
/// domain (`<sid>.pstn.exotel.com`).
pub const EX_SID: &str = "acmecorp1";
pub const EX_KEY: &str = "exotel-api-key-7f3a";
pub const EX_TOKEN: &str = "exotel-api-token-5c1e9d";
pub const TX_KEY: &str = "KEY0123456789TELNYXSECRET";
/// The address providers call trunkline at: not the test server's, so that a signature over
/// the request's own Host would fail.
pub const PUBLIC_URL: &str = "https://trunkline.example.test";
pub const LIVEKIT_SIP: &str = "sip:tl-test.sip.livekit.cloud";

pub struct Providers {
    pub twilio: TwilioDouble,
    pub exotel: ExotelDouble,
    pub telnyx: TelnyxDouble,
}

impl Providers {
    pub async fn start() -> Self {
        Self {
            twilio: TwilioDouble::start(TW_SID, TW_TOKEN).await,
            exotel: ExotelDouble::start(EX_SID, EX_KEY, EX_TOKEN).await,
            telnyx: TelnyxDouble::start(TX_KEY).await,
        }
    }

    pub fn settings(&self) -> ProviderSettings {
        let mut s = ProviderSettings::default();
        s.twilio.api = self.twilio.url();
        s.twilio.trunking = self.twilio.url();
        s.exotel_api_url = Some(self.exotel.url());
        s.telnyx_api_url = self.telnyx.url();
        s.public_url = Some(PUBLIC_URL.into());
        s.livekit_sip_uri = Some(LIVEKIT_SIP.into());
        // One try: an outage test should not wait out retries.
        s.client.retry.max_retries = 0;
        s.client.timeout = Duration::from_secs(3);
        s
    }
}

pub fn twilio_body() -> Value {
    json!({"provider": "twilio", "name": "Twilio main", "account_sid": TW_SID, "auth_token": TW_TOKEN})
}

pub fn exotel_body() -> Value {
    json!({"provider": "exotel", "name": "Exotel India", "account_sid": EX_SID,
           "api_key": EX_KEY, "api_token": EX_TOKEN, "subdomain": "api.in.exotel.com"})
}

pub fn telnyx_body() -> Value {
    json!({"provider": "telnyx", "name": "Telnyx", "api_key": TX_KEY})
}

/// Every secret of the three accounts: none may appear in a response or at rest.
pub const SECRETS: [&str; 4] = [TW_TOKEN, EX_KEY, EX_TOKEN, TX_KEY];

pub struct Env {
    pub providers: Providers,
    pub db: TestDb,
    pub server: TestServer,
    pub key: String,
}

pub async fn env_with(configure: impl FnOnce(&mut AppState)) -> Env {
    let providers = Providers::start().await;
    let db = TestDb::fresh().await;
    let settings = Arc::new(providers.settings());
    let server = TestServer::start_custom(&db, LiveKit::None, None, |state| {
        state.providers = settings;
        configure(state);
    })
    .await;
    let key = server.tenant("a@example.com").await;
    Env {
        providers,
        db,
        server,
        key,
    }
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

/// Adds an account and returns its `PA_…` id.
pub async fn account(server: &TestServer, key: &str, body: &Value) -> String {
    let (status, json) = server.post("/provider-accounts", key, body).await;
    assert_eq!(status, 200, "{json}");
    json["data"]["provider_account_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} carries a credential: {text}");
    }
}

/// A server with the provider doubles, a LiveKit, and a Twilio account (`PA_…`).
pub struct TwilioEnv {
    pub twilio: TwilioDouble,
    pub providers: Providers,
    pub db: TestDb,
    pub server: TestServer,
    pub key: String,
    pub account: String,
}

/// The doubles, a database, a server pointed at them and a tenant's key, with the account
/// `body` adds (its `PA_…` last).
pub async fn with_account(
    livekit: LiveKit<'_>,
    body: &Value,
) -> (Providers, TestDb, TestServer, String, String) {
    let providers = Providers::start().await;
    let db = TestDb::fresh().await;
    let settings = Arc::new(providers.settings());
    let server = TestServer::start_custom(&db, livekit, None, |state| {
        state.providers = settings;
    })
    .await;
    let key = server.tenant("a@example.com").await;
    let account = account(&server, &key, body).await;
    (providers, db, server, key, account)
}

pub async fn twilio_env(livekit: LiveKit<'_>) -> TwilioEnv {
    let (providers, db, server, key, account) = with_account(livekit, &twilio_body()).await;
    TwilioEnv {
        twilio: providers.twilio.clone(),
        providers,
        db,
        server,
        key,
        account,
    }
}

/// `POST /sip/create-outbound-trunk` body of a trunk automated at Twilio.
pub fn automated_trunk_body(account: &str, numbers: Value) -> Value {
    json!({"trunk_name": "Twilio automated", "trunk_type": "twilio",
           "trunk_config": {"provider_account_id": account, "numbers": numbers}})
}

/// The ids an automated trunk's create answered with.
pub struct Automated {
    pub trunk_id: String,
    pub livekit_trunk_id: String,
    pub twilio_trunk_sid: String,
    pub credential_list_sid: String,
    pub domain_name: String,
}

impl TwilioEnv {
    /// Creates a trunk automated at Twilio with `numbers` and checks it was made.
    pub async fn automated_trunk(&self, numbers: &[&str]) -> Automated {
        let (status, json) = self
            .server
            .post(
                "/sip/create-outbound-trunk",
                &self.key,
                &automated_trunk_body(&self.account, json!(numbers)),
            )
            .await;
        assert_eq!(status, 200, "{json}");
        let d = &json["data"];
        let s = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{json}")).to_owned();
        Automated {
            trunk_id: s(&d["trunk_id"]),
            livekit_trunk_id: s(&d["livekit_trunk_id"]),
            twilio_trunk_sid: s(&d["provider"]["twilio_trunk_sid"]),
            credential_list_sid: s(&d["provider"]["credential_list_sid"]),
            domain_name: s(&d["provider"]["domain_name"]),
        }
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

    /// `DELETE /provider-accounts/{the account}`.
    pub async fn delete_account(&self) -> (u16, Value) {
        let path = format!("/provider-accounts/{}", self.account);
        self.server
            .send("DELETE", &path, Some(&self.key), None)
            .await
    }

    /// `DELETE /sip/trunks/{id}`, which must succeed.
    pub async fn delete_trunk(&self, id: &str) {
        let path = format!("/sip/trunks/{id}");
        let (status, json) = self
            .server
            .send("DELETE", &path, Some(&self.key), None)
            .await;
        assert_eq!(status, 200, "{json}");
    }

    /// The trunk sid a number is on at Twilio (Null when none).
    pub fn number_trunk(&self, pn: &str) -> Value {
        self.twilio
            .numbers()
            .into_iter()
            .find(|n| n["sid"] == pn)
            .map(|n| n["trunk_sid"].clone())
            .unwrap_or_else(|| panic!("no number {pn}"))
    }

    /// A Twilio request made directly (as a user at the console would), with the account's
    /// own credentials.
    pub async fn twilio_call(&self, method: &str, path: &str, form: Option<&str>) -> u16 {
        let mut req = self
            .server
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.twilio.url()),
            )
            .basic_auth(TW_SID, Some(TW_TOKEN));
        if let Some(f) = form {
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(f.to_owned());
        }
        req.send().await.unwrap().status().as_u16()
    }
}

/// What a process killed mid-create leaves in the database: a `pending` provider trunk `id`
/// of `account`, older than the grace period (its provider objects are the test's to make).
pub async fn insert_interrupted_side(server: &TestServer, account: &str, id: &str) {
    let store = &server.state.store;
    let tenant_id = store
        .find_provider_account(account)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    let old = trunkline_store::now_micros() - 600_000_000;
    let row = trunkline_store::ProviderTrunkRow {
        id: id.into(),
        tenant_id,
        account_id: account.to_owned(),
        trunk_id: None,
        name: "interrupted".into(),
        config: r#"{"numbers":[]}"#.into(),
        secrets: "{}".into(),
        status: trunkline_store::Status::Pending,
        provider_trunk_sid: None,
        credential_list_sid: None,
        desired_version: 1,
        synced_version: 0,
        last_error: None,
        synced_at: None,
        created_at: old,
        updated_at: old,
    };
    store.provider_trunks().insert(&row).await.unwrap();
}

/// A new assistant (`AS_…`) whose agent is `support-agent`.
pub async fn assistant_of(server: &TestServer, key: &str) -> String {
    let (status, body) = server
        .post(
            "/assistants",
            key,
            &json!({"name": "Support", "agent_name": "support-agent"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["assistant_id"].as_str().unwrap().to_owned()
}
