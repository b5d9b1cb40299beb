use crate::provisioning::Provisioner;
use crate::sealing::Keyring;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trunkline_livekit::LiveKitClient;
use trunkline_store::{Store, StoreError};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub livekit: Option<LiveKitClient>,
    pub provisioner: Provisioner,
    pub tenants: Arc<KeyCache>,
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
        }
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
