//! Runs background work that every tenant shares (trunk health checks, end-of-call webhook
//! deliveries) so that one tenant cannot hold up another's:
//!
//! - work is claimed fairly across tenants ([`FairClaim`]): the oldest due item of every
//!   tenant before the second of any;
//! - at most [`Limits::per_tenant`] items of one tenant run at once, [`Limits::total`] in all;
//! - each item has its own time bound ([`Limits::per_item`]);
//! - a slot that frees is filled at once: nothing waits for the slowest item of a batch.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use trunkline_store::{FairClaim, StoreError};

/// The bounds of one kind of background work.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Items in progress at once, all tenants together.
    pub total: usize,
    /// Items of one tenant in progress at once.
    pub per_tenant: usize,
    /// The longest one item may take; past it, it is stopped and [`FairWork::overdue`] records it.
    pub per_item: Duration,
    /// How often to look for due work when nothing wakes the runner.
    pub idle: Duration,
}

/// One kind of work: how to claim it and how to do one item.
pub trait FairWork: Clone + Send + Sync + 'static {
    type Item: Clone + Send + 'static;
    fn tenant(item: &Self::Item) -> &str;
    fn claim(
        &self,
        claim: FairClaim,
    ) -> impl Future<Output = Result<Vec<Self::Item>, StoreError>> + Send;
    fn work(&self, item: Self::Item) -> impl Future<Output = ()> + Send;
    /// Records that `item` ran past [`Limits::per_item`] and was stopped.
    fn overdue(&self, item: Self::Item) -> impl Future<Output = ()> + Send;
}

/// Claims and runs work until `stop`. Work in progress when it stops is dropped: each kind's
/// claim lapses (a lease, a next-check time) so another pass takes it up again.
pub async fn run<W: FairWork>(
    work: W,
    limits: Limits,
    wake: Option<Arc<Notify>>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut running = Running::default();
    loop {
        running.fill(&work, &limits).await;
        let notified = async {
            match &wake {
                Some(w) => w.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            Some(done) = running.set.join_next(), if !running.set.is_empty() => running.finished(done),
            _ = notified => {}
            _ = tokio::time::sleep(limits.idle) => {}
        }
    }
}

/// Claims what is due once and runs it to the end; returns how many items ran. For tests and
/// for callers that step time themselves.
pub async fn pass<W: FairWork>(work: &W, limits: &Limits) -> Result<usize, StoreError> {
    let items = work
        .claim(FairClaim {
            limit: limits.total as i64,
            per_tenant: limits.per_tenant as i64,
            skip_tenants: Vec::new(),
        })
        .await?;
    let n = items.len();
    let mut set = JoinSet::new();
    for item in items {
        set.spawn(bounded(work.clone(), item, limits.per_item));
    }
    while set.join_next().await.is_some() {}
    Ok(n)
}

/// Runs one item within `limit`; returns its tenant, also when the item panicked.
async fn bounded<W: FairWork>(work: W, item: W::Item, limit: Duration) -> String {
    let tenant = W::tenant(&item).to_owned();
    let task = {
        let (work, item) = (work.clone(), item.clone());
        AbortOnDrop(tokio::spawn(async move { work.work(item).await }))
    };
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => tracing::error!(tenant = %tenant, "background work: an item panicked"),
        Err(_) => {
            tracing::warn!(tenant = %tenant, limit_secs = limit.as_secs_f64(), "background work: an item ran past its time bound and was stopped");
            work.overdue(item).await;
        }
    }
    tenant
}

/// A task that ends with its handle: dropping the runner (at stop, or past an item's time
/// bound) stops the item too.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Future for AbortOnDrop {
    type Output = Result<(), tokio::task::JoinError>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

#[derive(Default)]
struct Running {
    set: JoinSet<String>,
    per_tenant: HashMap<String, usize>,
}

impl Running {
    /// Claims as much as the free slots and every tenant's share allow, and starts it.
    async fn fill<W: FairWork>(&mut self, work: &W, limits: &Limits) {
        let free = limits.total.saturating_sub(self.set.len());
        if free == 0 {
            return;
        }
        let skip_tenants: Vec<String> = self
            .per_tenant
            .iter()
            .filter(|(_, n)| **n >= limits.per_tenant)
            .map(|(t, _)| t.clone())
            .collect();
        // A tenant below its share may still have some running: one claim takes no more of
        // any tenant than the smallest room left, so no tenant goes over its share.
        let busiest_below = self
            .per_tenant
            .values()
            .filter(|n| **n < limits.per_tenant)
            .max()
            .copied()
            .unwrap_or(0);
        let claim = FairClaim {
            limit: free as i64,
            per_tenant: (limits.per_tenant - busiest_below) as i64,
            skip_tenants,
        };
        let items = match work.claim(claim).await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, "background work: could not claim due items");
                return;
            }
        };
        for item in items {
            *self
                .per_tenant
                .entry(W::tenant(&item).to_owned())
                .or_default() += 1;
            self.set.spawn(bounded(work.clone(), item, limits.per_item));
        }
    }

    fn finished(&mut self, done: Result<String, tokio::task::JoinError>) {
        // `bounded` returns the tenant even for a panicked item; only a cancelled runner
        // task (never cancelled while the set lives) would lose it.
        let Ok(tenant) = done else { return };
        if let Some(n) = self.per_tenant.get_mut(&tenant) {
            *n -= 1;
            if *n == 0 {
                self.per_tenant.remove(&tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Items `(tenant, how long it takes)`, claimed in order as the store's claim does.
    #[derive(Clone, Default)]
    struct Queue {
        due: Arc<Mutex<Vec<(String, Duration)>>>,
        running: Arc<Mutex<HashMap<String, usize>>>,
        most: Arc<Mutex<HashMap<String, usize>>>,
        overdue: Arc<AtomicUsize>,
        done: Arc<AtomicUsize>,
    }

    impl FairWork for Queue {
        type Item = (String, Duration);
        fn tenant(item: &Self::Item) -> &str {
            &item.0
        }
        async fn claim(&self, c: FairClaim) -> Result<Vec<Self::Item>, StoreError> {
            let mut due = self.due.lock().unwrap();
            let mut taken: HashMap<String, i64> = HashMap::new();
            let mut out = Vec::new();
            due.retain(|(t, d)| {
                let n = taken.entry(t.clone()).or_default();
                if (out.len() as i64) < c.limit && *n < c.per_tenant && !c.skip_tenants.contains(t)
                {
                    *n += 1;
                    out.push((t.clone(), *d));
                    false
                } else {
                    true
                }
            });
            Ok(out)
        }
        async fn work(&self, (tenant, takes): Self::Item) {
            {
                let mut r = self.running.lock().unwrap();
                let n = r.entry(tenant.clone()).or_default();
                *n += 1;
                let mut most = self.most.lock().unwrap();
                let m = most.entry(tenant.clone()).or_default();
                *m = (*m).max(*n);
            }
            let _leave = scopeguard(self.running.clone(), tenant);
            tokio::time::sleep(takes).await;
            self.done.fetch_add(1, Ordering::SeqCst);
        }
        async fn overdue(&self, _: Self::Item) {
            self.overdue.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Counts a stopped item out of `running` too.
    fn scopeguard(running: Arc<Mutex<HashMap<String, usize>>>, tenant: String) -> impl Drop {
        struct Leave(Arc<Mutex<HashMap<String, usize>>>, String);
        impl Drop for Leave {
            fn drop(&mut self) {
                *self.0.lock().unwrap().get_mut(&self.1).unwrap() -= 1;
            }
        }
        Leave(running, tenant)
    }

    #[tokio::test(start_paused = true)]
    async fn one_tenant_holds_at_most_its_share_and_a_stuck_item_is_stopped() {
        let q = Queue::default();
        {
            let mut due = q.due.lock().unwrap();
            // The noisy tenant first: 40 slow items and one that would never end.
            due.push(("noisy".into(), Duration::from_secs(3600)));
            for _ in 0..40 {
                due.push(("noisy".into(), Duration::from_secs(5)));
            }
            due.push(("quiet".into(), Duration::from_millis(10)));
        }
        let limits = Limits {
            total: 8,
            per_tenant: 3,
            per_item: Duration::from_secs(30),
            idle: Duration::from_millis(100),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runner = tokio::spawn(run(q.clone(), limits, None, async move {
            let _ = rx.await;
        }));
        // The quiet tenant's item is done long before the noisy tenant's first ones.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(q.done.load(Ordering::SeqCst), 1);
        // All of it runs, never more than 3 of one tenant at once; the stuck one is stopped.
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(q.done.load(Ordering::SeqCst), 41);
        assert_eq!(q.overdue.load(Ordering::SeqCst), 1);
        assert_eq!(q.most.lock().unwrap()["noisy"], 3);
        assert_eq!(q.running.lock().unwrap()["noisy"], 0);
        tx.send(()).unwrap();
        runner.await.unwrap();
    }
}
