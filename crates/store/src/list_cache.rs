//! Per-tenant trunk lists kept in memory. `GET /sip/list` is the hot read; rebuilding it means
//! shipping every row across sqlx-sqlite's worker thread. Entries carry the write generation
//! they were read at: any committed trunk write bumps the generation, so an entry read before
//! a write can never be served after it.

use crate::trunks::TrunkSummary;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const MAX_TENANTS: usize = 10_000;

/// A tenant's list and the write generation it was read at.
type Entry = (u64, Arc<Vec<TrunkSummary>>);

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

    pub(crate) fn get(&self, tenant_id: &str) -> Option<Arc<Vec<TrunkSummary>>> {
        let current = self.generation();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(tenant_id)
            .filter(|(g, _)| *g == current)
            .map(|(_, list)| list.clone())
    }

    pub(crate) fn put(&self, tenant_id: &str, generation: u64, list: Arc<Vec<TrunkSummary>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TENANTS {
            entries.clear();
        }
        entries.insert(tenant_id.to_owned(), (generation, list));
    }

    /// After a write has committed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str) -> Arc<Vec<TrunkSummary>> {
        Arc::new(vec![TrunkSummary {
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
