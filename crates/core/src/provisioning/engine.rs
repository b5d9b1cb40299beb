//! The converge engine: one pass over one kind of provisioned resource compares the stored
//! rows with the remote side's objects and repairs the difference. It provisions rows stored
//! while the remote side was not configured or down, recreates objects deleted out of band,
//! pushes configurations that drifted, retires creates a crash interrupted, removes objects
//! that name one of our retired rows (or duplicate a live one), and leaves alone every object
//! that names no row of this database.
//!
//! A kind plugs in what differs ([`ConvergeKind`]): the object a row wants, how to tell drift,
//! how an object names its owner row. A pass works from snapshots, so every change re-reads its
//! row first and every write is conditional on the version it acted on: a PATCH or DELETE
//! landing mid-pass wins.

use super::remote::{Failure, Remote};
use super::{ownership, Counts, Provisioner};
use crate::ServiceError;
use std::future::Future;
use trunkline_store::{Resource, Resources, Status};

/// What the remote side should hold for a row.
pub(super) enum Wanted<O> {
    /// This object.
    Object(O),
    /// Nothing can be said yet (the row was just given what it lacked, or has no remote side
    /// in this configuration): the row stays as it is until a later pass.
    Later,
    /// Nothing, and the row shows this status until it can be sent (a dispatch rule whose
    /// trunks LiveKit does not hold: without trunk ids it would take every account's calls).
    Wait(Status),
}

/// What a kind of provisioned resource plugs into the engine.
pub(super) trait ConvergeKind: Sync {
    type Row: Resource;
    type Object: Clone + Send + Sync;
    /// How logs name a row of this kind.
    const NOUN: &'static str;
    /// How the `last_error` of a refused row names the object ("… rejected the {OBJECT}: …").
    const OBJECT: &'static str;

    fn remote_id(object: &Self::Object) -> &str;
    /// The row id an object names as its owner (a marker in its metadata), if any.
    fn owner(object: &Self::Object) -> Option<String>;
    /// Whether the pass leaves this (non-pending) row alone: a refused configuration stays
    /// refused until a PATCH changes it, and retrying it every pass would only fill the log.
    fn skips(&self, p: &Provisioner, row: &Self::Row) -> bool;
    /// Whether this instance of the kind answers for `row` at all. A kind whose remote side
    /// is one of many (a provider account's API) converges only the rows of that account;
    /// the others are neither provisioned nor retired by its pass.
    fn covers(&self, _row: &Self::Row) -> bool {
        true
    }
    /// What the remote side should hold for `row`. `Err` when the row cannot be read.
    fn wanted(
        &self,
        p: &Provisioner,
        row: &Self::Row,
    ) -> impl Future<Output = Result<Wanted<Self::Object>, ServiceError>> + Send;
    /// Whether the remote copy differs from the wanted one in the fields we own.
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool;
}

impl Provisioner {
    /// Whether a `pending` row is old enough to be an interrupted create.
    pub(super) fn past_grace(&self, created_at: i64) -> bool {
        trunkline_store::now_micros() - created_at >= self.pending_grace.as_micros() as i64
    }

    /// One pass over one kind. `Err` when the remote side or the database could not be read
    /// at all.
    pub(super) async fn converge_kind<K, R>(
        &self,
        kind: &K,
        remote: &R,
        report: &mut Counts,
    ) -> Result<(), String>
    where
        K: ConvergeKind,
        R: Remote<K::Object>,
    {
        let rows = self.store.resources::<K::Row>();
        let mut snapshots = rows.all_live().await.map_err(|e| e.to_string())?;
        snapshots.retain(|r| kind.covers(r));
        let objects = remote.list().await.map_err(|e| e.to_string())?;
        let index = rows
            .liveness(&ownership::owners(&objects, K::owner))
            .await
            .map_err(|e| e.to_string())?;
        let sorted = ownership::sort(
            &objects,
            K::remote_id,
            K::owner,
            &index,
            snapshots.iter().map(|r| {
                let l = r.lifecycle();
                ownership::RowPointer {
                    id: l.id,
                    livekit_id: l.remote_id,
                    pending: l.status == Status::Pending,
                }
            }),
        );
        for (owner, object) in &sorted.unwanted {
            // A stray object still acts (a trunk answers calls, a rule routes them): remove it.
            let remote_id = K::remote_id(object);
            match remote.delete(remote_id).await {
                Ok(()) => {
                    tracing::info!(kind = K::NOUN, id = %owner, remote_id, "removed a {} {} trunkline no longer uses", R::NAME, K::NOUN);
                    report.removed += 1;
                }
                Err(_) => report.failed += 1,
            }
        }
        for snapshot in &snapshots {
            // Re-read: the snapshot may be minutes old by now.
            let Ok(Some(row)) = rows.live(snapshot.lifecycle().id).await else {
                continue;
            };
            let l = row.lifecycle();
            if l.status == Status::Pending {
                if self.past_grace(l.created_at) {
                    let object = sorted.by_owner.get(l.id).copied();
                    abandon::<K, R>(&rows, remote, &row, object, report).await;
                }
                continue;
            }
            if kind.skips(self, &row) {
                continue;
            }
            let current = l.remote_id.and_then(|id| sorted.by_id.get(id).copied());
            let adopted = current.or_else(|| sorted.by_owner.get(l.id).copied());
            let step = Step {
                rows: &rows,
                remote,
                row: &row,
                pointer_valid: current.is_some(),
                adopted,
            };
            if let Err(e) = step.converge(self, kind, report).await {
                tracing::warn!(kind = K::NOUN, id = %l.id, error = %e, "reconcile failed for {}", K::NOUN);
                report.failed += 1;
            }
        }
        Ok(())
    }
}

/// Retires an interrupted create: the row first (with its claims, in one transaction, so a
/// create finishing right now sees it is no longer pending and undoes its own remote object),
/// then any object naming it.
async fn abandon<K: ConvergeKind, R: Remote<K::Object>>(
    rows: &Resources<'_, K::Row>,
    remote: &R,
    row: &K::Row,
    object: Option<&K::Object>,
    report: &mut Counts,
) {
    let l = row.lifecycle();
    match rows.abandon_pending(l.tenant_id, l.id).await {
        Ok(true) => {}
        Ok(false) => return, // it completed meanwhile
        Err(_) => {
            report.failed += 1;
            return;
        }
    }
    tracing::info!(kind = K::NOUN, id = %l.id, "retired an interrupted {} create", K::NOUN);
    report.abandoned += 1;
    if let Some(o) = object {
        // If this fails, the next pass finds the object naming a retired row.
        if remote.delete(K::remote_id(o)).await.is_err() {
            report.failed += 1;
        }
    }
}

/// One live row and the remote object it may adopt.
struct Step<'a, K: ConvergeKind, R> {
    rows: &'a Resources<'a, K::Row>,
    remote: &'a R,
    row: &'a K::Row,
    /// Whether the object the row records is one the remote side still holds.
    pointer_valid: bool,
    adopted: Option<&'a K::Object>,
}

impl<K: ConvergeKind, R: Remote<K::Object>> Step<'_, K, R> {
    async fn converge(&self, p: &Provisioner, kind: &K, report: &mut Counts) -> Result<(), String> {
        let l = self.row.lifecycle();
        let wanted = kind.wanted(p, self.row).await;
        let wanted =
            match wanted.map_err(|e| format!("cannot derive the {} object: {e:?}", R::NAME))? {
                Wanted::Object(o) => o,
                Wanted::Later => return Ok(()),
                Wanted::Wait(status) => return self.wait(status, report).await,
            };
        let in_sync = l.synced_version == l.desired_version && l.status == Status::Provisioned;
        let (result, created) = match self.adopted {
            Some(o) if in_sync && self.pointer_valid && !K::drifted(o, &wanted) => return Ok(()),
            Some(o) => {
                report.repaired += 1;
                (self.remote.replace(K::remote_id(o), wanted).await, false)
            }
            None => {
                if l.remote_id.is_some() {
                    tracing::warn!(kind = K::NOUN, id = %l.id, "{} {} was deleted out of band; recreating it", R::NAME, K::NOUN);
                    report.recreated += 1;
                } else {
                    report.provisioned += 1;
                }
                (self.remote.create(wanted).await, true)
            }
        };
        match result {
            Ok(object) => {
                let remote_id = K::remote_id(&object);
                let saved = self
                    .rows
                    .mark_synced(
                        l.id,
                        l.desired_version,
                        Some(remote_id),
                        Status::Provisioned,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                // The row changed meanwhile. If it is gone, so must be what we just made; if
                // it was edited, the next pass pushes the new version.
                if !saved && created && !matches!(self.rows.live(l.id).await, Ok(Some(_))) {
                    let _ = self.remote.delete(remote_id).await;
                }
                Ok(())
            }
            Err(e) => match R::failure(&e) {
                Failure::Refused(words) => {
                    let msg = format!("{} rejected the {}: {words}", R::NAME, K::OBJECT);
                    let _ = self
                        .rows
                        .set_status(l.id, Some(l.desired_version), Status::Error, Some(&msg))
                        .await;
                    Err(msg)
                }
                _ => Err(e.to_string()),
            },
        }
    }

    /// The remote side must hold nothing for the row, which shows `status` meanwhile.
    async fn wait(&self, status: Status, report: &mut Counts) -> Result<(), String> {
        let l = self.row.lifecycle();
        if l.status == status && l.remote_id.is_none() && self.adopted.is_none() {
            return Ok(());
        }
        if let Some(o) = self.adopted {
            if self.remote.delete(K::remote_id(o)).await.is_err() {
                return Err(format!(
                    "could not remove the {} copy of a {} that must wait",
                    R::NAME,
                    K::NOUN
                ));
            }
        }
        report.repaired += 1;
        // `false`: changed meanwhile; the next pass looks again.
        self.rows
            .mark_synced(l.id, l.desired_version, None, status)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
