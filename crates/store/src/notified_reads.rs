//! Answers from memory that stay exact across instances sharing one PostgreSQL database.
//!
//! Every request checks its API key, and through it the tenant's trunk-list generation. Asked
//! of the database, even shared between concurrent requests ([`crate::coalesce`]), that trip
//! costs more than the rest of a `GET /sip/list`. Here an instance keeps the answers in memory
//! and the database tells it when they stop being true:
//!
//! - **Numbered writes.** A write that changes what an answer says (a trunk write, a key
//!   revoked) takes the next number from `sync_counter` and sends it on the `trunkline_sync`
//!   channel (`NOTIFY`), both in its transaction. The counter's row lock orders the commits, so
//!   numbers arrive in order and a listener that sees a gap knows it missed one.
//! - **Leases.** An instance answers from memory only while it holds a lease: a row in
//!   `serving_instances` valid for [`LEASE`] on the database's clock, renewed every
//!   [`RENEW_EVERY`]. A renewal is numbered and announced like a write (a heartbeat), and the
//!   lease counts only once the instance has heard its own heartbeat: by then it has heard
//!   every write committed before the renewal, and a dead or stalled listener lets the lease
//!   run out instead of answering from stale memory.
//! - **Acknowledgements.** Each instance records in its row the highest number it has heard
//!   (having first dropped what it remembered). After its commit, a writer waits until every
//!   other instance with a live lease has heard its number, or until that lease has run out,
//!   and only then acknowledges the write. So a read on any instance that starts after the
//!   acknowledgement is answered after the instance forgot the old answer.
//!
//! A lost connection or a gap drops everything remembered and the lease with it; until the
//! next heartbeat is heard, reads go to the database as before. The price is on writes: a
//! round trip or two while the other instances acknowledge (up to [`LEASE`] when one has died
//! without leaving).

use crate::fresh_reads::KeyFacts;
use crate::{Store, StoreError};
use sqlx::postgres::PgListener;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The `LISTEN`/`NOTIFY` channel.
const CHANNEL: &str = "trunkline_sync";
/// How long a renewed lease lasts, on the database's clock.
pub(crate) const LEASE: Duration = Duration::from_millis(1000);
const RENEW_EVERY: Duration = Duration::from_millis(200);
/// Taken off the lease locally: the local deadline counts from before the renewal was sent,
/// so it already ends before the database's; this also covers clocks that tick a little apart.
const MARGIN: Duration = Duration::from_millis(100);
/// How long a renewal waits to hear its own heartbeat before the listener is deemed stalled.
const HEARTBEAT_WAIT: Duration = Duration::from_millis(300);
/// After a heartbeat went unheard, renewals pause this long, or until the listener hears
/// anything: a renewed lease makes writers wait for this instance, which cannot acknowledge
/// while its listener is stalled.
const AFTER_SILENCE: Duration = Duration::from_secs(5);
/// A writer waits at most this long for acknowledgements (leases run out well before).
const FENCE_LIMIT: Duration = Duration::from_secs(5);
/// Remembered keys; past it, the map starts over.
const MAX_KEYS: usize = 10_000;

/// The database's clock in µs since the epoch (PostgreSQL).
const DB_NOW_MICROS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";

/// One instance's memory and lease.
#[derive(Debug)]
pub(crate) struct NotifiedReads {
    /// This instance's row in `serving_instances`.
    pub(crate) me: String,
    base: Instant,
    /// Nanoseconds after `base` until which the lease holds; 0: none.
    valid_until: AtomicU64,
    /// Grows each time memory is dropped: an answer read from the database before a drop is
    /// not remembered after it.
    epoch: AtomicU64,
    keys: Mutex<HashMap<String, KeyFacts>>,
    /// Key checks answered from memory, for tests and operators to see the lease at work.
    hits: AtomicU64,
    /// The highest number heard since the listener (re)connected; None right after.
    heard: watch::Sender<Option<i64>>,
}

impl NotifiedReads {
    fn new(me: String) -> Self {
        Self {
            me,
            base: Instant::now(),
            valid_until: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            keys: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            heard: watch::Sender::new(None),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_nanos() as u64
    }

    fn holds_lease(&self) -> bool {
        self.nanos(Instant::now()) < self.valid_until.load(Ordering::Acquire)
    }

    /// A remembered key, while the lease holds.
    pub(crate) fn key(&self, key_hash: &str) -> Option<KeyFacts> {
        if !self.holds_lease() {
            return None;
        }
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let facts = keys.get(key_hash).cloned();
        if facts.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        facts
    }

    /// Take before reading the database; pass to [`Self::remember`].
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps an answer read from the database, unless memory was dropped since `epoch`.
    pub(crate) fn remember(&self, key_hash: &str, facts: &KeyFacts, epoch: u64) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock that `forget` holds while it bumps the epoch.
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(key_hash.to_owned(), facts.clone());
    }

    /// Drops every remembered answer (a write was heard, or made here).
    pub(crate) fn forget(&self) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        keys.clear();
    }

    /// Drops memory and lease: something may have been missed.
    fn lose(&self) {
        self.valid_until.store(0, Ordering::Release);
        self.forget();
    }

    /// What one notification says: its number, and whether it is a write (or a heartbeat).
    fn parse(payload: &str) -> Option<(bool, i64)> {
        let (kind, n) = payload.split_once(':')?;
        let n = n.parse().ok()?;
        match kind {
            "w" => Some((true, n)),
            "h" => Some((false, n)),
            _ => None,
        }
    }

    fn heard(&self, payload: &str) {
        let Some((write, n)) = Self::parse(payload) else {
            return;
        };
        let last = *self.heard.borrow();
        if matches!(last, Some(last) if n > last + 1) {
            tracing::warn!(
                missed_after = last,
                heard = n,
                "a cross-instance notification was missed; answering from the database until the next heartbeat"
            );
            self.lose();
        } else if write {
            self.forget();
        }
        self.heard
            .send_modify(|h| *h = Some(h.map_or(n, |h: i64| h.max(n))));
    }

    /// Waits until number `n` has been heard.
    async fn hear(&self, n: i64) -> bool {
        let mut rx = self.heard.subscribe();
        tokio::time::timeout(
            HEARTBEAT_WAIT,
            rx.wait_for(|h| matches!(h, Some(h) if *h >= n)),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }
}

impl Store {
    /// How many key checks were answered from memory (`TRUNKLINE_SHARED_READS=notified`).
    pub fn keys_answered_from_memory(&self) -> u64 {
        self.notified
            .as_ref()
            .map_or(0, |r| r.hits.load(Ordering::Relaxed))
    }

    /// Starts answering key checks from memory (PostgreSQL): listens for other instances'
    /// writes and keeps a lease. `url` is the database's (the listener holds a connection of
    /// its own, outside the pool).
    pub(crate) async fn start_notified_reads(
        &mut self,
        url: &str,
    ) -> Result<Arc<NotifiedReads>, StoreError> {
        let me = format!(
            "{}-{}",
            std::process::id(),
            crate::now_micros() // with the pid, unique among instances sharing a database
        );
        let reads = Arc::new(NotifiedReads::new(me));
        let mut listener = PgListener::connect(url).await?;
        listener.eager_reconnect(true);
        listener.listen(CHANNEL).await?;
        tokio::spawn(listen(listener, reads.clone()));
        tokio::spawn(renew(self.clone(), reads.clone()));
        tokio::spawn(acknowledge(self.clone(), reads.clone()));
        Ok(reads)
    }

    /// In the transaction of a write that other instances' memory must learn of: numbers it
    /// and announces it at commit. None where nothing is shared (SQLite).
    pub(crate) async fn announce(
        &self,
        tx: &mut Transaction<'static, Any>,
    ) -> Result<Option<i64>, StoreError> {
        if self.fresh.is_none() {
            return Ok(None);
        }
        Ok(Some(numbered(tx, "w").await?))
    }

    /// After the announced write `n` committed, before it is acknowledged: this instance's
    /// memory is dropped, and every other instance holding a lease has heard `n` (or its
    /// lease ran out).
    pub(crate) async fn confirm_heard(&self, n: Option<i64>) {
        if let Some(reads) = &self.notified {
            reads.forget();
        }
        let Some(n) = n else { return };
        let me = self.notified.as_ref().map_or("", |r| r.me.as_str());
        let sql = format!(
            "SELECT COUNT(*) FROM serving_instances \
             WHERE id <> $1 AND seen < $2 AND until_micros > {DB_NOW_MICROS}"
        );
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let waiting: Result<i64, _> = sqlx::query_scalar(&sql)
                .bind(me)
                .bind(n)
                .fetch_one(&self.pool)
                .await;
            match waiting {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    // Unknown who heard it: outwait every lease instead.
                    tracing::warn!(error = %e, "cannot read other instances' acknowledgements; waiting out their leases");
                    tokio::time::sleep(LEASE + MARGIN).await;
                    return;
                }
            }
            if started.elapsed() > FENCE_LIMIT {
                tracing::warn!(
                    write = n,
                    "other instances did not acknowledge a write within 5 s; acknowledging it anyway"
                );
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// Takes the next number, holding `sync_counter`'s row until commit so that numbers commit
/// in order, and announces it at commit as `kind` (`w` a write, `h` a heartbeat).
async fn numbered(tx: &mut Transaction<'static, Any>, kind: &str) -> Result<i64, StoreError> {
    let n: i64 = sqlx::query_scalar("UPDATE sync_counter SET n = n + 1 WHERE id = 1 RETURNING n")
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{kind}:{n}"))
        .execute(&mut **tx)
        .await?;
    Ok(n)
}

/// Hears notifications; a lost connection (reconnected by the listener) drops the lease.
async fn listen(mut listener: PgListener, reads: Arc<NotifiedReads>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(note)) => reads.heard(note.payload()),
            Ok(None) => {
                tracing::warn!("the cross-instance listener reconnected; answering from the database until the next heartbeat");
                reads.lose();
                reads.heard.send_replace(None);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the cross-instance listener failed; retrying in 1 s");
                reads.lose();
                reads.heard.send_replace(None);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Renews the lease and makes it count once its heartbeat is heard.
async fn renew(store: Store, reads: Arc<NotifiedReads>) {
    // After an unheard heartbeat: until when renewals pause, and what had been heard then
    // (hearing anything new shows the listener alive again and ends the pause early).
    let mut paused: Option<(Instant, Option<i64>)> = None;
    loop {
        let resume = paused.is_none_or(|(until, heard_then)| {
            Instant::now() >= until
                || matches!(*reads.heard.borrow(), Some(h) if Some(h) != heard_then)
        });
        if resume {
            paused = None;
            let sent = Instant::now();
            let seen = reads.heard.borrow().unwrap_or(0);
            match renewal(&store, &reads.me, seen).await {
                Ok(n) if reads.hear(n).await => {
                    let until = reads.nanos(sent + LEASE - MARGIN);
                    reads.valid_until.store(until, Ordering::Release);
                }
                Ok(_) => {
                    tracing::warn!("the cross-instance listener did not hear this instance's heartbeat; answering from the database");
                    reads.lose();
                    paused = Some((Instant::now() + AFTER_SILENCE, *reads.heard.borrow()));
                }
                // The lease runs out on its own.
                Err(e) => tracing::warn!(error = %e, "cannot renew this instance's lease"),
            }
        }
        tokio::time::sleep(RENEW_EVERY).await;
    }
}

/// One renewal: a numbered heartbeat and the lease row, in one transaction.
async fn renewal(store: &Store, me: &str, seen: i64) -> Result<i64, StoreError> {
    let mut tx = store.writer.begin().await?;
    let n = numbered(&mut tx, "h").await?;
    sqlx::query(&format!(
        "INSERT INTO serving_instances (id, until_micros, seen) VALUES ($1, {DB_NOW_MICROS} + $2, $3) \
         ON CONFLICT (id) DO UPDATE SET until_micros = EXCLUDED.until_micros, \
         seen = GREATEST(serving_instances.seen, EXCLUDED.seen)"
    ))
    .bind(me)
    .bind(LEASE.as_micros() as i64)
    .bind(seen)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// Records what was heard, for writers waiting on it.
async fn acknowledge(store: Store, reads: Arc<NotifiedReads>) {
    let mut rx = reads.heard.subscribe();
    while rx.changed().await.is_ok() {
        let Some(n) = *rx.borrow_and_update() else {
            continue;
        };
        let done =
            sqlx::query("UPDATE serving_instances SET seen = GREATEST(seen, $2) WHERE id = $1")
                .bind(&reads.me)
                .bind(n)
                .execute(&store.writer)
                .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "cannot record what this instance heard");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(gen: i64) -> KeyFacts {
        KeyFacts {
            tenant_id: "TN_1".into(),
            list_generation: gen,
        }
    }

    fn leased() -> NotifiedReads {
        let r = NotifiedReads::new("me".into());
        r.valid_until
            .store(r.nanos(Instant::now() + LEASE), Ordering::Release);
        r
    }

    #[test]
    fn an_answer_read_before_a_write_is_not_remembered_after_it() {
        let r = leased();
        let epoch = r.epoch();
        // ... the database answers; a write is heard meanwhile ...
        r.heard("w:1");
        r.remember("k", &facts(1), epoch);
        assert_eq!(r.key("k"), None);
        let epoch = r.epoch();
        r.remember("k", &facts(2), epoch);
        assert_eq!(r.key("k"), Some(facts(2)));
    }

    #[test]
    fn a_write_drops_memory_and_a_heartbeat_does_not() {
        let r = leased();
        r.remember("k", &facts(1), r.epoch());
        r.heard("h:1");
        assert_eq!(r.key("k"), Some(facts(1)));
        r.heard("w:2");
        assert_eq!(r.key("k"), None);
    }

    #[test]
    fn a_gap_in_the_numbers_drops_the_lease() {
        let r = leased();
        r.heard("h:1");
        r.remember("k", &facts(1), r.epoch());
        // Number 2 never arrived: whatever it changed is unknown.
        r.heard("h:3");
        assert_eq!(r.key("k"), None);
        assert!(!r.holds_lease());
        assert_eq!(*r.heard.borrow(), Some(3));
    }

    #[test]
    fn nothing_is_answered_from_memory_without_a_lease() {
        let r = NotifiedReads::new("me".into());
        r.remember("k", &facts(1), r.epoch());
        assert_eq!(r.key("k"), None);
    }

    #[test]
    fn payloads_that_are_not_ours_are_ignored() {
        assert_eq!(NotifiedReads::parse("w:12"), Some((true, 12)));
        assert_eq!(NotifiedReads::parse("h:3"), Some((false, 3)));
        assert_eq!(NotifiedReads::parse("x:3"), None);
        assert_eq!(NotifiedReads::parse("w:"), None);
        assert_eq!(NotifiedReads::parse("hello"), None);
    }
}
