//! The reconciler: every pass compares the stored trunks with LiveKit's and repairs the
//! difference. It provisions trunks stored while LiveKit was not configured or down, recreates
//! LiveKit trunks deleted out of band, pushes configurations that drifted, retires creates a
//! crash interrupted, and removes LiveKit trunks that name one of our retired rows. This file
//! holds the pass and outbound trunks; inbound trunks and dispatch rules get the same
//! treatment in `reconcile_inbound.rs` and `reconcile_rules.rs`.
//!
//! A pass works from snapshots, so every change re-reads its row first and every write is
//! conditional on the version it acted on: a PATCH or DELETE landing mid-pass wins.

use super::{livekit_info, ownership, Provisioner};
use crate::records;
use std::future::Future;
use std::time::Duration;
use trunkline_livekit::{proto, ErrorKind, LiveKitClient};
use trunkline_store::Status;
use trunkline_store::{now_micros, TrunkRow};

/// What one pass did to one kind of LiveKit object, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub provisioned: usize,
    pub recreated: usize,
    pub repaired: usize,
    pub abandoned: usize,
    /// LiveKit objects removed because they name a retired row or duplicate a live one.
    pub removed: usize,
    pub failed: usize,
}

/// What one pass did, per kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub outbound: Counts,
    pub inbound: Counts,
    pub rules: Counts,
}

/// A create still `pending` after this long was interrupted (requests time out well before).
pub(super) const PENDING_GRACE: Duration = Duration::from_secs(120);

impl Provisioner {
    /// One pass: outbound trunks, inbound trunks, then dispatch rules (which name inbound
    /// trunks by their LiveKit ids, so they follow a trunk recreated in the same pass). `Err`
    /// when LiveKit or the database could not be read at all.
    pub async fn reconcile_once(&self) -> Result<ReconcileReport, String> {
        let Some(lk) = &self.livekit else {
            return Ok(ReconcileReport::default());
        };
        let mut report = ReconcileReport::default();
        self.reconcile_outbound(lk, &mut report.outbound).await?;
        self.reconcile_inbound(lk, &mut report.inbound).await?;
        self.reconcile_rules(lk, &mut report.rules).await?;
        Ok(report)
    }

    /// Whether a `pending` row is old enough to be an interrupted create.
    pub(super) fn past_grace(&self, created_at: i64) -> bool {
        now_micros() - created_at >= self.pending_grace.as_micros() as i64
    }

    async fn reconcile_outbound(
        &self,
        lk: &LiveKitClient,
        report: &mut Counts,
    ) -> Result<(), String> {
        let rows = self
            .store
            .outbound_trunks()
            .all_live()
            .await
            .map_err(|e| e.to_string())?;
        let remote = lk.list_outbound_trunks().await.map_err(|e| e.to_string())?;
        let index = self
            .store
            .outbound_trunks()
            .liveness(&ownership::owners(&remote, livekit_info::owner))
            .await
            .map_err(|e| e.to_string())?;
        let sorted = ownership::sort(
            &remote,
            |t: &proto::SipOutboundTrunkInfo| t.sip_trunk_id.as_str(),
            livekit_info::owner,
            &index,
            rows.iter().map(|r| ownership::RowPointer {
                id: &r.id,
                livekit_id: r.livekit_trunk_id.as_deref(),
                pending: r.status == Status::Pending,
            }),
        );
        for (owner, t) in &sorted.unwanted {
            match lk.delete_trunk(&t.sip_trunk_id).await {
                Ok(()) => {
                    tracing::info!(trunk_id = %owner, livekit_trunk_id = %t.sip_trunk_id, "removed a LiveKit trunk trunkline no longer uses");
                    report.removed += 1;
                }
                Err(_) => report.failed += 1,
            }
        }

        for snapshot in &rows {
            // Re-read: the snapshot may be minutes old by now.
            let Ok(Some(row)) = self.store.outbound_trunks().live(&snapshot.id).await else {
                continue;
            };
            if row.status == Status::Pending {
                if self.past_grace(row.created_at) {
                    self.abandon(lk, &row, sorted.by_owner.get(&row.id).copied(), report)
                        .await;
                }
                continue;
            }
            let Ok(kind) = records::trunk_type(&row) else {
                continue;
            };
            // A refused configuration stays refused until a PATCH changes it (which provisions
            // synchronously); retrying it every pass would only fill the log.
            if !self.provisionable(kind) || row.status == Status::Error {
                continue;
            }
            let current = row
                .livekit_trunk_id
                .as_deref()
                .and_then(|id| sorted.by_id.get(id).copied());
            let adopted = current.or_else(|| sorted.by_owner.get(&row.id).copied());
            self.converge(lk, &row, current.is_some(), adopted, report)
                .await;
        }
        Ok(())
    }

    /// Retires an interrupted create: the row first (so a create finishing right now sees it
    /// is no longer pending and undoes its own LiveKit trunk), then any LiveKit trunk naming it.
    async fn abandon(
        &self,
        lk: &LiveKitClient,
        row: &TrunkRow,
        remote: Option<&proto::SipOutboundTrunkInfo>,
        report: &mut Counts,
    ) {
        match self
            .store
            .outbound_trunks()
            .abandon_pending(&row.tenant_id, &row.id)
            .await
        {
            Ok(true) => {}
            Ok(false) => return, // it completed meanwhile
            Err(_) => {
                report.failed += 1;
                return;
            }
        }
        tracing::info!(trunk_id = %row.id, "retired an interrupted create");
        report.abandoned += 1;
        if let Some(t) = remote {
            // If this fails, the next pass finds the trunk naming a retired row.
            if lk.delete_trunk(&t.sip_trunk_id).await.is_err() {
                report.failed += 1;
            }
        }
    }

    async fn converge(
        &self,
        lk: &LiveKitClient,
        row: &TrunkRow,
        pointer_valid: bool,
        adopted: Option<&proto::SipOutboundTrunkInfo>,
        report: &mut Counts,
    ) {
        let config = match records::open(&self.keyring, row) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(trunk_id = %row.id, error = ?e, "cannot read stored trunk");
                report.failed += 1;
                return;
            }
        };
        // An Exotel trunk stored before a bridge was configured has no bridge password yet:
        // give it one (conditionally on the secrets read), and provision on the next pass.
        let secrets = self.with_bridge_password(&row.id, &config, &row.secrets);
        if secrets != row.secrets {
            if let Err(e) = self
                .store
                .outbound_trunks()
                .replace_secrets(&row.id, &row.secrets, &secrets)
                .await
            {
                tracing::warn!(trunk_id = %row.id, error = %e, "could not store a bridge password");
                report.failed += 1;
            }
            return;
        }
        let wanted = match self.wanted(&row.id, &row.name, &config, &row.secrets) {
            Ok(Some(w)) => w,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(trunk_id = %row.id, error = ?e, "cannot derive the LiveKit trunk");
                report.failed += 1;
                return;
            }
        };
        let in_sync =
            row.synced_version == row.desired_version && row.status == Status::Provisioned;
        let (result, created) = match adopted {
            Some(remote) if in_sync && pointer_valid && !livekit_info::drifted(remote, &wanted) => {
                return
            }
            Some(remote) => {
                report.repaired += 1;
                (
                    lk.replace_outbound_trunk(&remote.sip_trunk_id, wanted)
                        .await,
                    false,
                )
            }
            None => {
                if row.livekit_trunk_id.is_some() {
                    tracing::warn!(trunk_id = %row.id, "LiveKit trunk was deleted out of band; recreating it");
                    report.recreated += 1;
                } else {
                    report.provisioned += 1;
                }
                (lk.create_outbound_trunk(wanted).await, true)
            }
        };
        let outcome = match result {
            Ok(info) => match self
                .store
                .outbound_trunks()
                .mark_synced(
                    &row.id,
                    row.desired_version,
                    Some(&info.sip_trunk_id),
                    Status::Provisioned,
                )
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => {
                    // The row changed meanwhile. If it is gone, so must be what we just made;
                    // if it was edited, the next pass pushes the new version.
                    if created
                        && !matches!(
                            self.store.outbound_trunks().live(&row.id).await,
                            Ok(Some(_))
                        )
                    {
                        let _ = lk.delete_trunk(&info.sip_trunk_id).await;
                    }
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            },
            Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                let msg = format!(
                    "LiveKit rejected the trunk: {}",
                    e.livekit_message().unwrap_or_default()
                );
                let _ = self
                    .store
                    .outbound_trunks()
                    .set_status(
                        &row.id,
                        Some(row.desired_version),
                        Status::Error,
                        Some(&msg),
                    )
                    .await;
                Err(msg)
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome {
            tracing::warn!(trunk_id = %row.id, error = %e, "reconcile failed for trunk");
            report.failed += 1;
        }
    }
}

/// Runs passes every `interval` until `shutdown` resolves (which also interrupts a pass: every
/// step of one is safe to stop between). Among instances sharing one database, only the holder
/// of the `reconciler` lease works; the others stand by.
pub async fn run_reconciler(
    provisioner: Provisioner,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let holder = trunkline_domain::TrunkId::generate().to_string();
    let lease = (interval * 3).max(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        let pass = async {
            match provisioner
                .store
                .try_lease("reconciler", &holder, lease)
                .await
            {
                Ok(true) => match provisioner.reconcile_once().await {
                    Ok(r) if r != ReconcileReport::default() => {
                        tracing::info!(report = ?r, "reconcile pass")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reconcile pass could not run"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "reconciler lease unavailable"),
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = pass => {}
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
