//! Which tenant an API key belongs to. Keys are stored as SHA-256 hashes (they carry 256
//! random bits, so a slow hash would add nothing); lookups are cached briefly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use trunkline_store::{Store, StoreError};

/// Remembers which tenant a valid API key hash belongs to, for `ttl`, so a burst of requests
/// costs one database lookup. Only hits are cached (random bad keys cannot fill it), and a key
/// revoked with `trunkline keys revoke` stops working within `ttl`. Used with SQLite only:
/// see [`KeyCache::authenticate`].
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

    /// The tenant of a valid key, and the tenant's trunk-list generation where the database
    /// is shared with other instances. There, time-bounded caching would let a key revoked (or
    /// a trunk created) through another instance be missed, so every request is checked
    /// against the database, concurrent requests sharing one query ([`Store::check_key`]).
    pub async fn authenticate(
        &self,
        store: &Store,
        key_hash: &str,
    ) -> Result<Option<(String, Option<i64>)>, StoreError> {
        if store.shares_database() {
            return Ok(store
                .check_key(key_hash)
                .await?
                .map(|f| (f.tenant_id, Some(f.list_generation))));
        }
        Ok(self
            .tenant_for_key(store, key_hash)
            .await?
            .map(|t| (t, None)))
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
