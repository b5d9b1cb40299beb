//! trunkline's service layer, apart from HTTP: sealing of secrets, the stored records, the
//! converge engine that provisions LiveKit, outbound calls (dialing, tracking LiveKit's
//! events, the end-of-call webhook outbox), trunk health checks, the trunk probe's requests,
//! and the bridge's trunk directory. The HTTP API, the dashboard and the CLI call it; it
//! returns [`ServiceError`], never an HTTP type.

pub mod assistants;
pub mod bridge_directory;
pub mod calls;
pub mod error;
pub mod fair_work;
pub mod health_checks;
pub mod metrics;
pub mod provider_accounts;
pub mod provisioning;
pub mod quotas;
pub mod records;
pub mod rooms;
pub mod sealing;
pub mod tenants;
pub mod timefmt;
pub mod trunk_probe;
pub mod trunk_settings;
pub mod workers;

pub use error::{ServiceError, ServiceResult};

use provisioning::Provisioner;
use sealing::Keyring;
use std::sync::Arc;
use std::time::Duration;
use tenants::KeyCache;
use trunkline_livekit::LiveKitClient;
use trunkline_store::Store;

/// What every service operation shares. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub livekit: Option<LiveKitClient>,
    pub provisioner: Provisioner,
    pub tenants: Arc<KeyCache>,
    /// Whether tenants may point trunks at loopback, private or link-local targets
    /// (`TRUNKLINE_ALLOW_PRIVATE_TARGETS`; for labs and tests, never for a shared service).
    pub allow_private_targets: bool,
    /// Whether `livekit` is `serve --demo`'s embedded stand-in rather than a real LiveKit
    /// (shown by `GET /ready`).
    pub livekit_demo: bool,
    /// Limits and timings of outbound calls.
    pub calls: Arc<calls::CallSettings>,
    /// How many objects of each kind a tenant may have.
    pub quotas: quotas::QuotaLimits,
    /// Wakes the dialer when a call is queued.
    pub dialer_wake: Arc<tokio::sync::Notify>,
    /// Wakes the webhook deliverer when a delivery is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Where the carriers' APIs are, and what their webhooks need.
    pub providers: Arc<provider_accounts::ProviderSettings>,
}

impl Services {
    pub fn new(
        store: Store,
        keyring: Keyring,
        livekit: Option<LiveKitClient>,
        auth_cache_ttl: Duration,
    ) -> Self {
        let keyring = Arc::new(keyring);
        let provisioner = Provisioner::new(store.clone(), keyring.clone(), livekit.clone());
        Self {
            store,
            keyring,
            livekit,
            provisioner,
            tenants: Arc::new(KeyCache::new(auth_cache_ttl)),
            allow_private_targets: false,
            livekit_demo: false,
            calls: Arc::default(),
            quotas: quotas::QuotaLimits::default(),
            dialer_wake: Arc::default(),
            outbox_wake: Arc::default(),
            providers: Arc::default(),
        }
    }

    /// The LiveKit client, or why calls cannot be placed without one.
    pub fn require_livekit(&self) -> ServiceResult<&LiveKitClient> {
        self.livekit.as_ref().ok_or_else(|| {
            ServiceError::Unavailable("LiveKit is not configured on this trunkline (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET): calls cannot be placed or tracked".into())
        })
    }
}
