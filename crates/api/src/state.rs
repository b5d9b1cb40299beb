use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trunkline_core::sealing::Keyring;
use trunkline_core::Services;
use trunkline_livekit::LiveKitClient;
use trunkline_store::{OutboundTrunkSummary, Store};

/// What every handler shares: the service layer, and what only HTTP needs. Cheap to clone.
/// It dereferences to [`Services`], so a handler reads `state.store` or `state.provisioner`.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub list_bodies: Arc<ListBodies>,
    /// LiveKit's last readiness answer: `/ready` is polled by load balancers and
    /// orchestrators, and must not turn each poll into a LiveKit request.
    pub livekit_readiness: Arc<crate::readiness_cache::ReadinessCache>,
    /// How often each tenant may test its trunks.
    pub trunk_tests: Arc<crate::trunk_test_limit::TrunkTestLimit>,
    /// How many verified Twilio webhook requests each provider account may make.
    pub twilio_webhooks: Arc<crate::routes::twilio_webhooks::WebhookLimit>,
    /// Trust `X-Forwarded-Proto` and `X-Forwarded-For` (`TRUNKLINE_TRUST_PROXY_HEADERS`): only
    /// behind a proxy that sets them, since any client can send them.
    pub trust_proxy_headers: bool,
    /// Sign-in attempts per client address and per key prefix (the dashboard's sign-in form).
    pub sign_ins: Arc<crate::dashboard::sign_in_limit::SignInLimit>,
}

impl AppState {
    pub fn new(
        store: Store,
        keyring: Keyring,
        livekit: Option<LiveKitClient>,
        auth_cache_ttl: Duration,
    ) -> Self {
        Self::from(Services::new(store, keyring, livekit, auth_cache_ttl))
    }
}

impl From<Services> for AppState {
    fn from(services: Services) -> Self {
        Self {
            services,
            list_bodies: Arc::default(),
            livekit_readiness: Arc::default(),
            trunk_tests: Arc::default(),
            twilio_webhooks: Arc::default(),
            trust_proxy_headers: false,
            sign_ins: Arc::default(),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Services {
        &mut self.services
    }
}

/// At most this many tenants' list bodies are kept; past it the map starts over.
const MAX_CACHED_LISTS: usize = 10_000;

/// Serialized `GET /sip/list` bodies per tenant, reused while the store hands back the very
/// same list (`Arc::ptr_eq`): the body is a pure function of that list, so it is exact, and a
/// store without a list cache simply never hits.
#[derive(Default)]
pub struct ListBodies {
    entries: Mutex<HashMap<String, RenderedList>>,
}

/// A list and the body rendered from it.
type RenderedList = (Arc<Vec<OutboundTrunkSummary>>, bytes::Bytes);

impl ListBodies {
    /// `store_caches` false renders without keeping anything: the store returns
    /// a new list each time, so a kept body could never be reused.
    pub fn get_or_render(
        &self,
        store_caches: bool,
        tenant_id: &str,
        list: &Arc<Vec<OutboundTrunkSummary>>,
        render: impl FnOnce(&[OutboundTrunkSummary]) -> bytes::Bytes,
    ) -> bytes::Bytes {
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((cached, body)) = entries.get(tenant_id) {
                if Arc::ptr_eq(cached, list) {
                    return body.clone();
                }
            }
        }
        let body = render(list);
        if !store_caches {
            return body;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED_LISTS {
            entries.clear();
        }
        entries.insert(tenant_id.to_owned(), (list.clone(), body.clone()));
        body
    }
}
