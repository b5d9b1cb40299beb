//! Per-tenant trunk lists kept in memory. `GET /sip/list` is the hot read; rebuilding it means
//! shipping every row across sqlx-sqlite's worker thread, or across the network from
//! PostgreSQL. Entries carry the write generation they were read at, so an entry read before a
//! write can never be served after it:
//! - SQLite: this process is the only writer, and any committed trunk write bumps an in-memory
//!   generation;
//! - PostgreSQL: other instances write too, so the generation is the tenant's stored
//!   `list_generation`, bumped after every committed trunk write and read by the key check
//!   each request makes ([`Store::check_key`]) after the request arrived.

use crate::outbound_trunks::OutboundTrunkSummary;
use crate::{Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const MAX_TENANTS: usize = 10_000;

/// A tenant's list and the write generation it was read at.
type Entry = (u64, Arc<Vec<OutboundTrunkSummary>>);

#[derive(Debug, Default)]
pub(crate) struct ListCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ListCache {
    /// The generation to tag a read with: take it *before* querying.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, tenant_id: &str) -> Option<Arc<Vec<OutboundTrunkSummary>>> {
        let current = self.generation();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(tenant_id)
            .filter(|(g, _)| *g == current)
            .map(|(_, list)| list.clone())
    }

    pub(crate) fn put(
        &self,
        tenant_id: &str,
        generation: u64,
        list: Arc<Vec<OutboundTrunkSummary>>,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TENANTS {
            entries.clear();
        }
        entries.insert(tenant_id.to_owned(), (generation, list));
    }

    /// An entry read at the tenant's stored generation `generation` (shared databases).
    fn get_at(&self, tenant_id: &str, generation: u64) -> Option<Arc<Vec<OutboundTrunkSummary>>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(tenant_id)
            .filter(|(g, _)| *g == generation)
            .map(|(_, list)| list.clone())
    }

    /// After a write has committed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl Store {
    /// A tenant's active trunks in creation order, given the tenant's list generation as read
    /// after the request arrived (by [`Store::check_key`]); `None` where the store keeps its
    /// own generation (SQLite). The answer includes every trunk write committed before the
    /// generation was read, whichever instance made it.
    pub async fn list_outbound_trunks_at(
        &self,
        tenant_id: &str,
        list_generation: Option<i64>,
    ) -> Result<Arc<Vec<OutboundTrunkSummary>>, StoreError> {
        let (Some(generation), Some(cache), true) =
            (list_generation, &self.list_cache, self.shares_database())
        else {
            return self.list_outbound_trunks(tenant_id).await;
        };
        let generation = generation as u64;
        if let Some(hit) = cache.get_at(tenant_id, generation) {
            return Ok(hit);
        }
        // Read after the generation: it holds at least every write counted in it. A later
        // write may be in it too, which is only newer, and bumps the generation past this tag.
        let list = Arc::new(self.query_outbound_trunk_list(tenant_id).await?);
        cache.put(tenant_id, generation, list.clone());
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str) -> Arc<Vec<OutboundTrunkSummary>> {
        Arc::new(vec![OutboundTrunkSummary {
            id: "ST_1".into(),
            name: name.into(),
            trunk_type: "sip".into(),
            created_at: 1,
        }])
    }

    #[test]
    fn a_read_tagged_before_a_write_is_never_served_after_it() {
        let cache = ListCache::default();
        let g = cache.generation();
        // ... the query runs; a write commits meanwhile ...
        cache.invalidate();
        cache.put("t", g, list("stale"));
        assert!(cache.get("t").is_none());
        let g = cache.generation();
        cache.put("t", g, list("fresh"));
        assert_eq!(cache.get("t").unwrap()[0].name, "fresh");
        cache.invalidate();
        assert!(cache.get("t").is_none());
    }
}
