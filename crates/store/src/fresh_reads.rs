//! The hot reads every request makes, kept exact where several instances share one PostgreSQL
//! database, at a fraction of a database trip per request: the API-key check, one call, and a
//! page of calls. Each is coalesced ([`crate::coalesce`]): concurrent requests share one query
//! that starts after all of them arrived, so an answer reflects every write committed before
//! its request arrived (a key revoked, a trunk created, a call's status changed), whichever
//! instance made it. The key check also returns the tenant's trunk-list generation, so the
//! trunk list needs no trip of its own to know whether its in-memory copy is current.

use crate::calls::{CallFilter, CallRow};
use crate::coalesce::Coalescer;
use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

/// What a valid (unrevoked) API key stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub tenant_id: String,
    /// Grows with every committed write to the tenant's trunks (shared databases only).
    pub list_generation: i64,
}

/// A tenant's page of calls, by its filter.
type PageKey = (String, CallFilter);

/// The coalesced reads of a store on a shared database.
#[derive(Debug)]
pub(crate) struct FreshReads {
    keys: Arc<Coalescer<String, KeyFacts>>,
    calls: Arc<Coalescer<String, CallRow>>,
    call_pages: Arc<Coalescer<PageKey, Arc<Vec<CallRow>>>>,
}

impl FreshReads {
    /// `share`: concurrent requests share queries (the default); off, each asks on its own.
    pub(crate) fn new(share: bool) -> Self {
        Self {
            keys: Coalescer::new(
                |store, hashes| Box::pin(async move { store.key_facts(&hashes).await }),
                share,
            ),
            calls: Coalescer::new(
                |store, ids| Box::pin(async move { store.calls_by_ids(&ids).await }),
                share,
            ),
            call_pages: Coalescer::new(
                |store, pages| Box::pin(async move { store.call_pages(pages).await }),
                share,
            ),
        }
    }
}

const KEY_FACTS_SQL: &str = "SELECT k.key_hash, k.tenant_id, t.list_generation \
     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
     WHERE k.revoked_at IS NULL AND k.key_hash IN ";

/// Bounded statements stay under both databases' parameter limits.
const MAX_BATCH: usize = 500;

/// `($1, $2, …)` for `n` values.
fn placeholders(n: usize) -> String {
    let list: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!("({})", list.join(", "))
}

/// How the reads every request makes stay exact where the database is shared
/// (`TRUNKLINE_SHARED_READS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedReads {
    /// Key checks answered from memory, which other instances' writes drop through the
    /// database's notifications before they are acknowledged ([`crate::notified_reads`]);
    /// calls coalesced.
    Notified,
    /// Concurrent requests share one query ([`crate::coalesce`]).
    Coalesced,
    /// Each request asks on its own: one database trip per read (for comparison).
    PerRequest,
}

impl Store {
    /// Chooses how hot reads stay exact on a shared database (no effect with SQLite). All
    /// three are exact; they differ in database trips per request (bench/api.sh compares them).
    pub async fn shared_reads(&mut self, mode: SharedReads) -> Result<(), StoreError> {
        if self.fresh.is_none() {
            return Ok(());
        }
        self.fresh = Some(Arc::new(FreshReads::new(mode != SharedReads::PerRequest)));
        self.notified = None;
        if mode == SharedReads::Notified {
            let url = self.url.clone();
            self.notified = Some(self.start_notified_reads(&url).await?);
        }
        Ok(())
    }

    /// The tenant of an unrevoked key with this hash and its list generation, exact as of the
    /// call: from memory while this instance's lease holds, else coalesced with concurrent
    /// checks on a shared database; a plain query otherwise.
    pub async fn check_key(&self, key_hash: &str) -> Result<Option<KeyFacts>, StoreError> {
        let Some(fresh) = &self.fresh else {
            return Ok(self
                .key_facts(std::slice::from_ref(&key_hash.to_owned()))
                .await?
                .remove(key_hash));
        };
        let Some(reads) = &self.notified else {
            return fresh.keys.get(self, key_hash.to_owned()).await;
        };
        if let Some(facts) = reads.key(key_hash) {
            return Ok(Some(facts));
        }
        let epoch = reads.epoch();
        let facts = fresh.keys.get(self, key_hash.to_owned()).await?;
        if let Some(f) = &facts {
            reads.remember(key_hash, f, epoch);
        }
        Ok(facts)
    }

    /// A tenant's call (never another tenant's), exact as of the call.
    pub async fn get_call(&self, tenant_id: &str, id: &str) -> Result<Option<CallRow>, StoreError> {
        let call = match &self.fresh {
            Some(fresh) => fresh.calls.get(self, id.to_owned()).await?,
            None => self.calls_by_ids(&[id.to_owned()]).await?.remove(id),
        };
        Ok(call.filter(|c| c.tenant_id == tenant_id))
    }

    /// A page of a tenant's calls, newest first, exact as of the call.
    pub async fn list_calls(
        &self,
        tenant_id: &str,
        f: &CallFilter,
    ) -> Result<Arc<Vec<CallRow>>, StoreError> {
        match &self.fresh {
            Some(fresh) => Ok(fresh
                .call_pages
                .get(self, (tenant_id.to_owned(), f.clone()))
                .await?
                .unwrap_or_default()),
            None => Ok(Arc::new(self.query_calls(tenant_id, f).await?)),
        }
    }

    async fn key_facts(
        &self,
        key_hashes: &[String],
    ) -> Result<HashMap<String, KeyFacts>, StoreError> {
        let mut out = HashMap::with_capacity(key_hashes.len());
        for chunk in key_hashes.chunks(MAX_BATCH) {
            let sql = format!("{KEY_FACTS_SQL}{}", placeholders(chunk.len()));
            let mut query = sqlx::query(&sql);
            for h in chunk {
                query = query.bind(h);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.insert(
                    r.try_get("key_hash")?,
                    KeyFacts {
                        tenant_id: r.try_get("tenant_id")?,
                        list_generation: r.try_get("list_generation")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Distinct pages run side by side, each on its own pooled connection.
    async fn call_pages(
        &self,
        pages: Vec<PageKey>,
    ) -> Result<HashMap<PageKey, Arc<Vec<CallRow>>>, StoreError> {
        let mut running = tokio::task::JoinSet::new();
        for (tenant_id, filter) in pages {
            let store = self.clone();
            running.spawn(async move {
                let rows = store.query_calls(&tenant_id, &filter).await;
                ((tenant_id, filter), rows)
            });
        }
        let mut out = HashMap::new();
        while let Some(done) = running.join_next().await {
            let (page, rows) = match done {
                Ok(done) => done,
                // Nothing cancels these tasks; a panic in one is this batch's panic.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            out.insert(page, Arc::new(rows?));
        }
        Ok(out)
    }

    /// In the transaction that writes a trunk: other instances' copies of the owner's list
    /// stop being current when, and only when, the write commits. Shared databases only.
    pub(crate) async fn bump_list_generation(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        trunk_id: &str,
    ) -> Result<(), StoreError> {
        if self.fresh.is_none() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE tenants SET list_generation = list_generation + 1 \
             WHERE id = (SELECT tenant_id FROM trunks WHERE id = $1)",
        )
        .bind(trunk_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
