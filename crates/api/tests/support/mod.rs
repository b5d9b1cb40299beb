//! The harness of the black-box API tests: the real server on port 0, a fresh database per
//! test (an SQLite file, or a new PostgreSQL database when `TRUNKLINE_TEST_POSTGRES` names a
//! server), and the LiveKit double speaking LiveKit's Twirp protocol.
#![allow(dead_code)]

use livekit_double::LiveKitDouble;
use serde_json::Value;
use std::time::Duration;
use trunkline_api::{AppState, ServeOptions};
use trunkline_core::sealing::{generate_api_key, hash_api_key, Keyring, MasterKey};
use trunkline_livekit::{LiveKitClient, LiveKitConfig};

pub mod call_fixture;
pub mod env;
pub mod exotel_fixture;
pub mod inbound_fixture;
pub mod log_capture;
pub mod provider_fixture;
pub mod rule_fixture;
pub mod sip_peers;
pub mod telnyx_fixture;
#[allow(unused_imports)] // not every test file starts from `env`
pub use env::{env, livekit_client, Env};
use trunkline_store::{NewApiKey, Store};

pub const LK_KEY: &str = "APItestkey";
pub const LK_SECRET: &str = "test-secret-that-is-long-enough-0123456789";
pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A database that lives as long as the test (and is dropped after it, PostgreSQL included).
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn fresh() -> Self {
        match std::env::var("TRUNKLINE_TEST_POSTGRES") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!(
                    "tl_test_{}",
                    &trunkline_domain::TrunkId::generate().as_str()[3..19]
                );
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("connect to TRUNKLINE_TEST_POSTGRES");
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Self {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg: Some((admin.clone(), name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}/trunkline.db", dir.path().display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The SQLite file, to check what is at rest.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|d| d.path().join("trunkline.db"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside any runtime guarantee; use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) =
                        <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await
                    {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub enum LiveKit<'a> {
    None,
    Double(&'a LiveKitDouble),
    /// A URL with the given credentials (e.g. a port nobody listens on, or a wrong secret).
    At {
        url: String,
        key: String,
        secret: String,
    },
}

pub struct TestServer {
    pub url: String,
    pub store: Store,
    pub state: AppState,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl TestServer {
    pub async fn start(db: &TestDb, livekit: LiveKit<'_>) -> Self {
        Self::start_with(db, livekit, None).await
    }

    pub async fn start_with(
        db: &TestDb,
        livekit: LiveKit<'_>,
        reconcile_interval: Option<Duration>,
    ) -> Self {
        Self::start_custom(db, livekit, reconcile_interval, |_| {}).await
    }

    /// Like [`TestServer::start_with`], with the state adjusted before serving.
    pub async fn start_custom(
        db: &TestDb,
        livekit: LiveKit<'_>,
        reconcile_interval: Option<Duration>,
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        let mut store = Store::open(&db.url).await.expect("open store");
        // As `serve` runs by default: on a shared database, key checks from memory that other
        // instances' writes drop before they are acknowledged.
        store
            .shared_reads(trunkline_store::SharedReads::Notified)
            .await
            .expect("cross-instance reads");
        let keyring = Keyring::new(MasterKey::from_base64(MASTER_KEY).unwrap(), vec![]);
        let client = |url: String, key: String, secret: String| {
            LiveKitClient::new(LiveKitConfig {
                url,
                api_key: key,
                api_secret: secret,
                timeout: Duration::from_secs(2),
            })
        };
        let livekit = match livekit {
            LiveKit::None => None,
            LiveKit::Double(d) => Some(client(d.url(), LK_KEY.into(), LK_SECRET.into())),
            LiveKit::At { url, key, secret } => Some(client(url, key, secret)),
        };
        // Auth cache off so revocation is seen at once by the tests that check it.
        let mut state = AppState::new(store.clone(), keyring, livekit, Duration::ZERO);
        configure(&mut state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(trunkline_api::serve(
            listener,
            state.clone(),
            ServeOptions {
                reconcile_interval,
                ..ServeOptions::default()
            },
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            url,
            store,
            state,
            http: http(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.store.close().await;
    }

    /// A new tenant with one API key, made the way `trunkline keys create` makes it.
    pub async fn tenant(&self, email: &str) -> String {
        let key = generate_api_key();
        self.store
            .create_api_key(NewApiKey {
                key_id: trunkline_domain::ApiKeyId::generate().as_str(),
                new_tenant_id: trunkline_domain::TenantId::generate().as_str(),
                email,
                name: "test",
                key_hash: &hash_api_key(&key),
                prefix: &key[..12],
            })
            .await
            .unwrap();
        key
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    /// One reconciler pass now, treating any pending create as interrupted.
    pub async fn reconcile(&self) -> trunkline_core::provisioning::ReconcileReport {
        self.state
            .provisioner
            .clone()
            .with_pending_grace(Duration::ZERO)
            .reconcile_once()
            .await
            .expect("reconcile pass")
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, Some(key), Some(&body.to_string()))
            .await
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send("GET", path, Some(key), None).await
    }

    pub async fn create(&self, key: &str, body: &Value) -> String {
        let (status, json) = self.post("/sip/create-outbound-trunk", key, body).await;
        assert_eq!(status, 200, "{json}");
        json["data"]["trunk_id"].as_str().unwrap().to_owned()
    }

    pub async fn list_ids(&self, key: &str) -> Vec<String> {
        let (status, json) = self.get("/sip/list", key).await;
        assert_eq!(status, 200, "{json}");
        json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trunk_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Seed 000's Twilio example, verbatim.
pub fn seed_twilio() -> Value {
    serde_json::json!({
        "trunk_name": "Twilio Production",
        "trunk_type": "twilio",
        "trunk_config": {
            "address": "example.pstn.twilio.com",
            "numbers": ["+15550100000"],
            "username": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "password": "your_auth_token_here"
        }
    })
}

/// Seed 000's Exotel example, verbatim.
pub fn seed_exotel() -> Value {
    serde_json::json!({
        "trunk_name": "Exotel India",
        "trunk_type": "exotel",
        "trunk_config": { "exotel_number": "+918044319240" }
    })
}

/// `Some` when `TRUNKLINE_TEST_POSTGRES` names a server: the tests of several instances on one
/// database need it (SQLite serves a single instance), and say so when skipped.
pub fn shared_postgres() -> Option<()> {
    let set = std::env::var("TRUNKLINE_TEST_POSTGRES").is_ok_and(|v| !v.is_empty());
    if !set {
        eprintln!("skipped: set TRUNKLINE_TEST_POSTGRES to run the two-instance tests");
    }
    set.then_some(())
}

/// Polls `f` until it returns Some, for effects of the background reconciler.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}
