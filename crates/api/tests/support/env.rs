//! The one test environment most API tests start from: a server provisioning into the
//! LiveKit double, on a fresh database, with one tenant (`a@example.com`) and its API key.
#![allow(dead_code)]

use super::*;
use livekit_double::LiveKitDouble;

pub struct Env {
    pub lk: LiveKitDouble,
    /// Kept for the test's lifetime: dropping it drops the database.
    pub _db: TestDb,
    pub server: TestServer,
    pub key: String,
}

pub async fn env() -> Env {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::Double(&lk)).await;
    let key = server.tenant("a@example.com").await;
    Env {
        lk,
        _db: db,
        server,
        key,
    }
}

/// A LiveKit client of the double, for changes made behind trunkline's back (as `lk` would).
pub fn livekit_client(lk: &LiveKitDouble) -> trunkline_livekit::LiveKitClient {
    trunkline_livekit::LiveKitClient::new(trunkline_livekit::LiveKitConfig {
        url: lk.url(),
        api_key: LK_KEY.into(),
        api_secret: LK_SECRET.into(),
        timeout: Duration::from_secs(2),
    })
}
