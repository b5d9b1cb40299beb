//! The API-key check every request makes, kept exact where several instances share one
//! PostgreSQL database, at a fraction of a database trip per request.
//!
//! Exact means: an answer reflects every write committed before the request arrived (a key
//! revoked, or a trunk created, through any instance). Caching by time cannot promise that;
//! asking the database on every request can, but costs a round trip each. Here concurrent
//! checks share one: a check joins the batch that has not started yet, and a batch starts only
//! after every check in it arrived, so its single query still runs after each of them. Under
//! load a batch collects many requests; when idle it holds one and costs what a plain query
//! costs. The same query returns the tenant's list generation, so the trunk list needs no trip
//! of its own to know whether its in-memory copy is current.

use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What a valid (unrevoked) API key stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub tenant_id: String,
    /// Grows after every committed write to the tenant's trunks (shared databases only).
    pub list_generation: i64,
}

type Answers = Arc<HashMap<String, KeyFacts>>;
/// `None` until the batch's query has answered; `Some(None)` when it failed (each check then
/// asks on its own, so the error it reports is its own).
type Outcome = Option<Option<Answers>>;

#[derive(Debug, Default)]
pub(crate) struct KeyChecks {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The batch still collecting checks.
    next: Option<Batch>,
    /// Whether a task is running batches (at most one: one query in flight per instance).
    running: bool,
}

#[derive(Debug)]
struct Batch {
    key_hashes: Vec<String>,
    done: watch::Sender<Outcome>,
}

const KEY_FACTS_SQL: &str = "SELECT k.key_hash, k.tenant_id, t.list_generation \
     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
     WHERE k.revoked_at IS NULL AND k.key_hash IN ";

impl Store {
    /// The tenant of an unrevoked key with this hash and its list generation, exact as of the
    /// call. Coalesced with concurrent checks on a shared database; a plain query otherwise.
    pub async fn check_key(&self, key_hash: &str) -> Result<Option<KeyFacts>, StoreError> {
        let Some(checks) = &self.key_checks else {
            return self.key_facts_now(key_hash).await;
        };
        let (mut done, start) = {
            let mut state = checks.state.lock().unwrap_or_else(|p| p.into_inner());
            let batch = state.next.get_or_insert_with(|| Batch {
                key_hashes: Vec::new(),
                done: watch::channel(None).0,
            });
            if !batch.key_hashes.iter().any(|h| h == key_hash) {
                batch.key_hashes.push(key_hash.to_owned());
            }
            let done = batch.done.subscribe();
            let start = !std::mem::replace(&mut state.running, true);
            (done, start)
        };
        if start {
            tokio::spawn(run_batches(self.clone(), checks.clone()));
        }
        let answers = match done.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().flatten(),
            Err(_) => None,
        };
        match answers {
            Some(answers) => Ok(answers.get(key_hash).cloned()),
            None => self.key_facts_now(key_hash).await,
        }
    }

    /// One key, asked on its own.
    async fn key_facts_now(&self, key_hash: &str) -> Result<Option<KeyFacts>, StoreError> {
        Ok(self
            .key_facts(std::slice::from_ref(&key_hash.to_owned()))
            .await?
            .remove(key_hash))
    }

    async fn key_facts(
        &self,
        key_hashes: &[String],
    ) -> Result<HashMap<String, KeyFacts>, StoreError> {
        let mut out = HashMap::with_capacity(key_hashes.len());
        for chunk in key_hashes.chunks(MAX_BATCH) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{KEY_FACTS_SQL}({})", placeholders.join(", "));
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

    /// After a committed write to a trunk, before the write is acknowledged: other instances'
    /// copies of the owner's list stop being current. Shared databases only.
    pub(crate) async fn bump_list_generation(&self, trunk_id: &str) -> Result<(), StoreError> {
        if self.key_checks.is_none() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE tenants SET list_generation = list_generation + 1 \
             WHERE id = (SELECT tenant_id FROM trunks WHERE id = $1)",
        )
        .bind(trunk_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// Bounded statements stay under both databases' parameter limits.
const MAX_BATCH: usize = 500;

/// Runs batches one after the other until none is waiting.
async fn run_batches(store: Store, checks: Arc<KeyChecks>) {
    /// If this task ends early (a panic, runtime shutdown), the waiting checks ask on their
    /// own and the next check starts a new task.
    struct Running<'a>(&'a KeyChecks);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
            state.running = false;
            if let Some(b) = state.next.take() {
                let _ = b.done.send(Some(None));
            }
        }
    }
    let running = Running(&checks);
    loop {
        let batch = {
            let mut state = checks.state.lock().unwrap_or_else(|p| p.into_inner());
            match state.next.take() {
                Some(b) => b,
                None => {
                    // Decided under the lock: a check arriving now starts the next task.
                    state.running = false;
                    drop(state);
                    std::mem::forget(running);
                    return;
                }
            }
        };
        let answers = store.key_facts(&batch.key_hashes).await.ok().map(Arc::new);
        let _ = batch.done.send(Some(answers));
    }
}
