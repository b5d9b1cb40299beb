//! The API's create, change and delete of a provisioned resource, for every kind: one path,
//! built on the converge engine's plug-ins (`engine.rs`, `kinds.rs`) and its remote
//! (`remote.rs`), so a client hears the remote side's verdict before it is answered.
//!
//! - Create: the row is stored first as `pending` (invisible to reads) with its claims, then
//!   the remote object is made, then the row is confirmed. If the process dies mid-way the
//!   reconciler finds the pending row and removes both halves: no row points at nothing and
//!   no acknowledged resource is lost.
//! - Change: new claims are reserved (a conflict changes nothing), then the remote side is
//!   told (its refusal leaves everything as it was), then the row is written, conditional on
//!   the version the change was based on.
//! - Delete: the remote object first (if the remote side cannot be reached nothing changes:
//!   a resource must not stay alive there while we call it deleted), then the row.
//!
//! A kind adds to its [`ConvergeKind`] plug-in what a request needs ([`RequestKind`]): how a
//! configuration becomes a row, what the row claims, and optional hooks.

use super::engine::{ConvergeKind, Wanted};
use super::remote::{Failure, Remote};
use super::Provisioner;
use crate::ServiceError;
use std::future::Future;
use trunkline_store::{Resource, Status};

/// What a create does when the remote side may or may not have made the object (a timeout,
/// a reset, a 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Uncertain {
    /// Leave the row `pending`: once the grace period is over the reconciler retires it and
    /// removes any object naming it.
    LeaveToReconciler,
    /// Remove any object naming the row now, then retire the row (the object would hold a
    /// claim, such as a phone number, until the reconciler came by).
    SweepNow,
}

/// What a kind's rows hold exclusively besides the row itself (an inbound trunk's numbers,
/// a rule's keys): stored with the row in one transaction, reserved ahead of a change and
/// settled after it. [`NoClaims`] for a kind that claims nothing.
pub(super) trait ClaimSet<Row>: Send + Sync {
    /// Stores a new row holding these claims; a 409 if another row holds one.
    fn insert(
        &self,
        p: &Provisioner,
        row: &Row,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
    /// Adds these claims to the row's ahead of a change; a 409 if another row holds one.
    fn reserve(
        &self,
        p: &Provisioner,
        row: &Row,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
    /// Leaves the row holding exactly these claims.
    fn settle(
        &self,
        p: &Provisioner,
        row: &Row,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
}

/// The claims of a kind whose rows claim nothing.
pub(super) struct NoClaims;

impl<R: Resource> ClaimSet<R> for NoClaims {
    async fn insert(&self, p: &Provisioner, row: &R) -> Result<(), ServiceError> {
        Ok(p.store.resources::<R>().insert(row).await?)
    }
    async fn reserve(&self, _: &Provisioner, _: &R) -> Result<(), ServiceError> {
        Ok(())
    }
    async fn settle(&self, _: &Provisioner, _: &R) -> Result<(), ServiceError> {
        Ok(())
    }
}

/// What a kind adds to its [`ConvergeKind`] plug-in so API requests can create, change and
/// delete its rows. The remote object a row wants is the engine's `wanted`, computed from the
/// row as the request would leave it.
pub(super) trait RequestKind: ConvergeKind {
    /// A configuration as validated from a client's request.
    type Config: Sync;
    type Claims: ClaimSet<Self::Row>;
    /// How a create ends when the remote side may have made the object.
    const UNCERTAIN: Uncertain = Uncertain::LeaveToReconciler;

    /// A new row with a fresh id and the configuration sealed: `pending` when `remote` is set
    /// (the remote side is asked right away), else the status it waits in (`unprovisioned`,
    /// or a kind's own, such as `awaiting_bridge`). A row not `pending` is stored as it is.
    fn new_row(
        &self,
        p: &Provisioner,
        tenant_id: &str,
        name: &str,
        config: &Self::Config,
        remote: bool,
    ) -> impl Future<Output = Result<Self::Row, ServiceError>> + Send;
    /// `row` as a change leaves it: the new name and configuration (sealed), all else as is.
    fn changed_row(
        &self,
        p: &Provisioner,
        row: &Self::Row,
        name: &str,
        config: &Self::Config,
    ) -> Result<Self::Row, ServiceError>;
    /// What `row` claims; a 400 naming the field when it would claim more than a row may.
    fn claims(&self, p: &Provisioner, row: &Self::Row) -> Result<Self::Claims, ServiceError>;

    /// Refuses a delete the kind does not allow now (an inbound trunk a rule names).
    fn may_delete(
        &self,
        _p: &Provisioner,
        _row: &Self::Row,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send {
        async { Ok(()) }
    }
    /// Tombstones the row and releases its claims; `false` when it was not live.
    fn delete_row(
        &self,
        p: &Provisioner,
        row: &Self::Row,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send {
        async move {
            let l = row.lifecycle();
            Ok(p.store
                .resources::<Self::Row>()
                .mark_deleted(l.tenant_id, l.id)
                .await?)
        }
    }
    /// After a row's remote object appeared, moved to a new id or went: remote objects that
    /// name it follow (rules on every inbound trunk of the account).
    fn followers(&self, _p: &Provisioner, _tenant_id: &str) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A resource as its create left it.
pub struct Created {
    pub id: String,
    pub status: Status,
    /// The remote object's id, when the remote side holds one.
    pub remote_id: Option<String>,
}

/// A remote failure as the client hears it: a refusal names the object the kind sends.
fn service_error<K: ConvergeKind, R: Remote<K::Object>>(e: R::Error) -> ServiceError
where
    R::Error: Into<ServiceError>,
{
    match R::failure(&e) {
        Failure::Refused(words) => {
            let words = if words.is_empty() {
                "invalid argument"
            } else {
                &words
            };
            ServiceError::BadRequest(format!("{} rejected the {}: {words}", R::NAME, K::OBJECT))
        }
        _ => e.into(),
    }
}

/// Makes the remote side hold `wanted` for a row whose object is `current`. Returns the
/// object's id afterwards and the status that gives the row, or `None` when there is nothing
/// to do yet (`Wanted::Later`). An object deleted out of band is made anew.
pub(super) async fn push<K: ConvergeKind, R: Remote<K::Object>>(
    remote: &R,
    current: Option<&str>,
    wanted: Wanted<K::Object>,
) -> Result<Option<(Option<String>, Status)>, R::Error> {
    let made = match (wanted, current) {
        (Wanted::Later, _) => return Ok(None),
        (Wanted::Wait(status), current) => {
            if let Some(id) = current {
                match remote.delete(id).await {
                    Err(e) if !matches!(R::failure(&e), Failure::Gone) => return Err(e),
                    _ => {}
                }
            }
            return Ok(Some((None, status)));
        }
        (Wanted::Object(o), Some(id)) => match remote.replace(id, o.clone()).await {
            Err(e) if matches!(R::failure(&e), Failure::Gone) => remote.create(o).await?,
            other => other?,
        },
        (Wanted::Object(o), None) => remote.create(o).await?,
    };
    Ok(Some((
        Some(K::remote_id(&made).to_owned()),
        Status::Provisioned,
    )))
}

impl Provisioner {
    /// Stores a new resource and, when the remote side is configured, makes its remote
    /// object before answering.
    pub(super) async fn create_resource<K, R>(
        &self,
        kind: &K,
        remote: Option<&R>,
        tenant_id: &str,
        name: &str,
        config: &K::Config,
    ) -> Result<Created, ServiceError>
    where
        K: RequestKind,
        R: Remote<K::Object>,
        R::Error: Into<ServiceError>,
    {
        let row = kind
            .new_row(self, tenant_id, name, config, remote.is_some())
            .await?;
        kind.claims(self, &row)?.insert(self, &row).await?;
        let l = row.lifecycle();
        let id = l.id.to_owned();
        let (Some(remote), Status::Pending) = (remote, l.status) else {
            return Ok(Created {
                id,
                status: l.status,
                remote_id: None,
            });
        };
        let rows = self.store.resources::<K::Row>();
        let abandon = || async {
            if let Err(e) = rows.abandon_pending(tenant_id, &id).await {
                tracing::warn!(kind = K::NOUN, id = %id, error = %e, "could not retire a failed create; the reconciler will");
            }
        };
        let wanted = match kind.wanted(self, &row).await {
            Ok(w) => w,
            Err(e) => {
                abandon().await;
                return Err(e);
            }
        };
        let pushed = match push::<K, R>(remote, None, wanted).await {
            // Nothing to send yet: stored for the reconciler to provision.
            Ok(None) => Ok((None, Status::Unprovisioned)),
            Ok(Some(pushed)) => Ok(pushed),
            Err(e) => Err(e),
        };
        let (remote_id, status) = match pushed {
            Ok(pushed) => pushed,
            Err(e) => {
                match (R::failure(&e), K::UNCERTAIN) {
                    (Failure::Unknown, Uncertain::LeaveToReconciler) => {}
                    (Failure::Unknown, Uncertain::SweepNow) => {
                        self.sweep::<K, R>(remote, &id).await;
                        abandon().await;
                    }
                    _ => abandon().await,
                }
                return Err(service_error::<K, R>(e));
            }
        };
        match rows.confirm(&id, remote_id.as_deref(), status).await {
            Ok(true) => {
                if remote_id.is_some() {
                    kind.followers(self, tenant_id).await;
                }
                Ok(Created {
                    id,
                    status,
                    remote_id,
                })
            }
            outcome => {
                // Not recorded (the reconciler gave up on this create, or the database
                // failed): undo the remote object rather than acknowledge or orphan it. If
                // this delete fails too, the reconciler removes the object by its owner mark.
                if let Some(remote_id) = &remote_id {
                    let _ = remote.delete(remote_id).await;
                }
                let _ = rows.abandon_pending(tenant_id, &id).await;
                Err(match outcome {
                    Err(e) => e.into(),
                    Ok(_) => ServiceError::Unavailable(format!(
                        "{} took too long to create the {} and the create was abandoned; try again",
                        R::NAME,
                        K::OBJECT
                    )),
                })
            }
        }
    }

    /// Removes whatever remote object names row `id` (after a create whose outcome is unknown).
    async fn sweep<K: ConvergeKind, R: Remote<K::Object>>(&self, remote: &R, id: &str) {
        if let Ok(all) = remote.list().await {
            for o in all.iter().filter(|o| K::owner(o).as_deref() == Some(id)) {
                let _ = remote.delete(K::remote_id(o)).await;
            }
        }
    }

    /// Applies a new desired configuration to `row`: its new claims, then the remote side,
    /// then the row (if nobody changed it meanwhile), then the claims it no longer needs go.
    /// If the remote side fails, the claims go back to what they were and nothing changed.
    pub(super) async fn update_resource<K, R>(
        &self,
        kind: &K,
        remote: Option<&R>,
        row: &K::Row,
        name: &str,
        config: &K::Config,
    ) -> Result<(), ServiceError>
    where
        K: RequestKind,
        R: Remote<K::Object>,
        R::Error: Into<ServiceError>,
    {
        let changed = kind.changed_row(self, row, name, config)?;
        let new_claims = kind.claims(self, &changed)?;
        let old_claims = kind.claims(self, row)?;
        new_claims.reserve(self, row).await?;
        let l = row.lifecycle();
        let pushed = match remote {
            Some(remote) => {
                let pushed = match kind.wanted(self, &changed).await {
                    Ok(wanted) => push::<K, R>(remote, l.remote_id, wanted)
                        .await
                        .map_err(service_error::<K, R>),
                    Err(e) => Err(e),
                };
                match pushed {
                    Ok(pushed) => pushed,
                    Err(e) => {
                        old_claims.settle(self, row).await?;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let rows = self.store.resources::<K::Row>();
        let c = changed.lifecycle();
        let saved = rows
            .update_desired(l.id, l.desired_version, c.name, c.config, c.secrets)
            .await;
        if pushed.is_some() && !matches!(saved, Ok(true)) {
            // The remote side took a configuration the database did not: make the next
            // reconciler pass push the stored one back.
            let _ = rows.mark_unsynced(l.id).await;
        }
        if !saved? {
            return Err(ServiceError::Conflict(format!(
                "the {} was changed by another request at the same time; fetch it and try again",
                K::NOUN
            )));
        }
        new_claims.settle(self, row).await?;
        if let Some((remote_id, status)) = pushed {
            // `false` only if yet another change landed meanwhile; that one records its sync.
            rows.mark_synced(l.id, l.desired_version + 1, remote_id.as_deref(), status)
                .await?;
            if remote_id.as_deref() != l.remote_id {
                kind.followers(self, l.tenant_id).await;
            }
        }
        Ok(())
    }

    /// Removes the remote object, then tombstones the row. `false` when the row was not live.
    pub(super) async fn delete_resource<K, R>(
        &self,
        kind: &K,
        remote: Option<&R>,
        row: &K::Row,
    ) -> Result<bool, ServiceError>
    where
        K: RequestKind,
        R: Remote<K::Object>,
        R::Error: Into<ServiceError>,
    {
        kind.may_delete(self, row).await?;
        let l = row.lifecycle();
        if let Some(remote_id) = l.remote_id {
            match remote {
                Some(remote) => match remote.delete(remote_id).await {
                    Err(e) if !matches!(R::failure(&e), Failure::Gone) => {
                        return Err(service_error::<K, R>(e))
                    }
                    _ => {}
                },
                None => tracing::warn!(
                    kind = K::NOUN,
                    id = %l.id,
                    remote_id,
                    "{} is not configured; its copy of this deleted {} remains there",
                    R::NAME,
                    K::NOUN
                ),
            }
        }
        let done = kind.delete_row(self, row).await?;
        if done {
            kind.followers(self, l.tenant_id).await;
        }
        Ok(done)
    }
}
