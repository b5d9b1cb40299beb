//! Concurrent reads that share one database trip and stay exact.
//!
//! Where several instances share one PostgreSQL database, only an answer read from the
//! database after a request arrived reflects every write committed before it, whichever
//! instance made the write. Asking once per request costs a round trip each; here concurrent
//! requests share one: a request joins the batch that has not started yet, and a batch starts
//! only after every request in it arrived, so its single query still runs after each of them.
//! Under load a batch collects many requests; when idle it holds one and costs what a plain
//! query costs. At most one batch per coalescer is in flight, so the database sees at most one
//! such query per instance at a time however many requests wait.

use crate::{Store, StoreError};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Answers one batch: the value of each key that has one (absent keys have none).
pub(crate) type RunBatch<K, V> =
    fn(Store, Vec<K>) -> Pin<Box<dyn Future<Output = Result<HashMap<K, V>, StoreError>> + Send>>;

type Answers<K, V> = Arc<HashMap<K, V>>;
/// `None` until the batch's query has answered; `Some(None)` when it failed (each request then
/// asks on its own, so the error it reports is its own).
type Outcome<K, V> = Option<Option<Answers<K, V>>>;

pub(crate) struct Coalescer<K, V> {
    run: RunBatch<K, V>,
    /// Off: every request asks on its own (exact too, one trip each; kept for comparison).
    share: bool,
    state: Mutex<State<K, V>>,
}

impl<K, V> std::fmt::Debug for Coalescer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

struct State<K, V> {
    /// The batch still collecting requests.
    next: Option<Batch<K, V>>,
    /// Whether a task is running batches (at most one: one query in flight).
    running: bool,
}

struct Batch<K, V> {
    keys: Vec<K>,
    done: watch::Sender<Outcome<K, V>>,
}

impl<K, V> Coalescer<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(run: RunBatch<K, V>, share: bool) -> Arc<Self> {
        Arc::new(Self {
            run,
            share,
            state: Mutex::new(State {
                next: None,
                running: false,
            }),
        })
    }

    /// The value of `key` as the database holds it after this call began.
    pub(crate) async fn get(
        self: &Arc<Self>,
        store: &Store,
        key: K,
    ) -> Result<Option<V>, StoreError> {
        if !self.share {
            return self.alone(store, key).await;
        }
        let (mut done, start) = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let batch = state.next.get_or_insert_with(|| Batch {
                keys: Vec::new(),
                done: watch::channel(None).0,
            });
            if !batch.keys.contains(&key) {
                batch.keys.push(key.clone());
            }
            let done = batch.done.subscribe();
            let start = !std::mem::replace(&mut state.running, true);
            (done, start)
        };
        if start {
            tokio::spawn(self.clone().run_batches(store.clone()));
        }
        let answers = match done.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().flatten(),
            Err(_) => None,
        };
        match answers {
            Some(answers) => Ok(answers.get(&key).cloned()),
            None => self.alone(store, key).await,
        }
    }

    /// One request's own query.
    async fn alone(&self, store: &Store, key: K) -> Result<Option<V>, StoreError> {
        Ok((self.run)(store.clone(), vec![key.clone()])
            .await?
            .remove(&key))
    }

    /// Runs batches one after the other until none is waiting.
    async fn run_batches(self: Arc<Self>, store: Store) {
        /// If this task ends early (a panic, runtime shutdown), the waiting requests ask on
        /// their own and the next request starts a new task.
        struct Running<'a, K, V>(&'a Coalescer<K, V>);
        impl<K, V> Drop for Running<'_, K, V> {
            fn drop(&mut self) {
                let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
                state.running = false;
                if let Some(b) = state.next.take() {
                    let _ = b.done.send(Some(None));
                }
            }
        }
        let running = Running(&self);
        loop {
            let batch = {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                match state.next.take() {
                    Some(b) => b,
                    None => {
                        // Decided under the lock: a request arriving now starts the next task.
                        state.running = false;
                        drop(state);
                        std::mem::forget(running);
                        return;
                    }
                }
            };
            let answers = (self.run)(store.clone(), batch.keys)
                .await
                .ok()
                .map(Arc::new);
            let _ = batch.done.send(Some(answers));
        }
    }
}
