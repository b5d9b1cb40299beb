use crate::provisioning::Provisioner;
use crate::sealing::Keyring;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trunkline_livekit::LiveKitClient;
use trunkline_store::{Store, StoreError, TrunkSummary};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub livekit: Option<LiveKitClient>,
    pub provisioner: Provisioner,
    pub tenants: Arc<KeyCache>,
    pub list_bodies: Arc<ListBodies>,
    /// Whether tenants may point trunks at loopback, private or link-local targets
    /// (`TRUNKLINE_ALLOW_PRIVATE_TARGETS`; for labs and tests, never for a shared service).
    pub allow_private_targets: bool,
    /// Limits and timings of outbound calls.
    pub calls: Arc<crate::calls::CallSettings>,
    /// Wakes the dispatcher when a call is queued.
    pub dispatch_wake: Arc<tokio::sync::Notify>,
    /// Wakes the webhook deliverer when a delivery is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
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
            list_bodies: Arc::default(),
            allow_private_targets: false,
            calls: Arc::default(),
            dispatch_wake: Arc::default(),
            outbox_wake: Arc::default(),
        }
    }
}

impl AppState {
    /// The LiveKit client, or the 503 every call-handling route answers without one.
    pub fn require_livekit(&self) -> Result<&LiveKitClient, crate::error::ApiError> {
        self.livekit.as_ref().ok_or_else(|| crate::error::ApiError::Upstream {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            message: "LiveKit is not configured on this trunkline (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET): calls cannot be placed or tracked".into(),
        })
    }
}

/// Remembers which tenant a valid API key hash belongs to, for `ttl`, so a burst of requests
/// costs one database lookup. Only hits are cached (random bad keys cannot fill it), and a key
/// revoked with `trunkline keys revoke` stops working within `ttl`.
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

const MAX_CACHED_KEYS: usize = 10_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub async fn tenant_for_key(
        &self,
        store: &Store,
        key_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        if !self.ttl.is_zero() {
            let entries = self.entries.lock().expect("key cache lock");
            if let Some((tenant, at)) = entries.get(key_hash) {
                if at.elapsed() < self.ttl {
                    return Ok(Some(tenant.clone()));
                }
            }
        }
        let tenant = store.tenant_for_key_hash(key_hash).await?;
        if let (Some(t), false) = (&tenant, self.ttl.is_zero()) {
            let mut entries = self.entries.lock().expect("key cache lock");
            if entries.len() >= MAX_CACHED_KEYS {
                entries.clear();
            }
            entries.insert(key_hash.to_owned(), (t.clone(), Instant::now()));
        }
        Ok(tenant)
    }
}

/// Serialized `GET /sip/list` bodies per tenant, reused while the store hands back the very
/// same list (`Arc::ptr_eq`): the body is a pure function of that list, so it is exact, and a
/// store without a list cache (PostgreSQL) simply never hits.
#[derive(Default)]
pub struct ListBodies {
    entries: Mutex<HashMap<String, RenderedList>>,
}

/// A list and the body rendered from it.
type RenderedList = (Arc<Vec<TrunkSummary>>, bytes::Bytes);

impl ListBodies {
    /// `store_caches` false (PostgreSQL) renders without keeping anything: the store returns
    /// a new list each time, so a kept body could never be reused.
    pub fn get_or_render(
        &self,
        store_caches: bool,
        tenant_id: &str,
        list: &Arc<Vec<TrunkSummary>>,
        render: impl FnOnce(&[TrunkSummary]) -> bytes::Bytes,
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
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(tenant_id.to_owned(), (list.clone(), body.clone()));
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trunkline_store::NewApiKey;

    async fn store_with_key(dir: &std::path::Path) -> Store {
        let store = Store::open(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .unwrap();
        store
            .create_api_key(NewApiKey {
                key_id: "AK_1",
                new_tenant_id: "TN_1",
                email: "a@b.co",
                name: "n",
                key_hash: "hash-1",
                prefix: "tlk_",
            })
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn a_revoked_key_works_for_at_most_the_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_key(dir.path()).await;
        let cache = KeyCache::new(Duration::from_millis(150));
        assert_eq!(
            cache
                .tenant_for_key(&store, "hash-1")
                .await
                .unwrap()
                .as_deref(),
            Some("TN_1")
        );
        assert!(store.revoke_api_key("AK_1").await.unwrap());
        // Within the TTL the cached answer stands (the documented window)...
        assert_eq!(
            cache
                .tenant_for_key(&store, "hash-1")
                .await
                .unwrap()
                .as_deref(),
            Some("TN_1")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        // ...and after it the revocation is seen.
        assert_eq!(cache.tenant_for_key(&store, "hash-1").await.unwrap(), None);
        assert_eq!(cache.tenant_for_key(&store, "unknown").await.unwrap(), None);
        assert!(
            cache.entries.lock().unwrap().len() <= 1,
            "misses are never cached"
        );
    }

    #[tokio::test]
    async fn a_zero_ttl_caches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_key(dir.path()).await;
        let cache = KeyCache::new(Duration::ZERO);
        assert!(cache
            .tenant_for_key(&store, "hash-1")
            .await
            .unwrap()
            .is_some());
        assert!(store.revoke_api_key("AK_1").await.unwrap());
        assert_eq!(cache.tenant_for_key(&store, "hash-1").await.unwrap(), None);
    }
}
