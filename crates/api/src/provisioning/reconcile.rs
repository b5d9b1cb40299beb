//! The reconciler: every pass compares the stored trunks with LiveKit's and repairs the
//! difference. It provisions trunks stored while LiveKit was not configured or down, recreates
//! LiveKit trunks deleted out of band, pushes configurations that drifted, retires creates a
//! crash interrupted, and removes LiveKit trunks that name one of our retired rows.
//!
//! A pass works from snapshots, so every change re-reads its row first and every write is
//! conditional on the version it acted on: a PATCH or DELETE landing mid-pass wins.

use super::{direct, livekit_info, status, Provisioner};
use crate::records;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use trunkline_domain::TrunkConfig;
use trunkline_livekit::{proto, ErrorKind, LiveKitClient};
use trunkline_store::{now_micros, TrunkRow};

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub provisioned: usize,
    pub recreated: usize,
    pub repaired: usize,
    pub abandoned: usize,
    /// LiveKit trunks removed because they name a retired row or duplicate a live one.
    pub removed: usize,
    pub failed: usize,
}

/// A create still `pending` after this long was interrupted (requests time out well before).
pub(super) const PENDING_GRACE: Duration = Duration::from_secs(120);

impl Provisioner {
    /// One pass. `Err` when LiveKit or the database could not be read at all.
    pub async fn reconcile_once(&self) -> Result<ReconcileReport, String> {
        let Some(lk) = &self.livekit else {
            return Ok(ReconcileReport::default());
        };
        let rows = self
            .store
            .all_live_trunks()
            .await
            .map_err(|e| e.to_string())?;
        let remote = lk.list_outbound_trunks().await.map_err(|e| e.to_string())?;
        let owners: Vec<String> = remote.iter().filter_map(livekit_info::owner).collect();
        let index = self
            .store
            .trunk_liveness(&owners)
            .await
            .map_err(|e| e.to_string())?;
        let mut report = ReconcileReport::default();

        let by_id: HashMap<&str, &proto::SipOutboundTrunkInfo> = remote
            .iter()
            .map(|t| (t.sip_trunk_id.as_str(), t))
            .collect();
        let live_pointer: HashMap<&str, &str> = rows
            .iter()
            .filter(|r| r.status != status::PENDING)
            .filter_map(|r| {
                r.livekit_trunk_id
                    .as_deref()
                    .filter(|id| by_id.contains_key(id))
                    .map(|id| (r.id.as_str(), id))
            })
            .collect();
        let mut by_owner: HashMap<String, &proto::SipOutboundTrunkInfo> = HashMap::new();
        for t in &remote {
            let Some(owner) = livekit_info::owner(t) else {
                continue;
            };
            // Only ids our own database holds count: another deployment's trunks (or ones made
            // by hand) are never touched.
            let unwanted = match index.get(&owner) {
                None => false,
                Some(false) => true, // the row was deleted or abandoned
                Some(true) => live_pointer
                    .get(owner.as_str())
                    .is_some_and(|&id| id != t.sip_trunk_id),
            };
            if unwanted {
                match lk.delete_trunk(&t.sip_trunk_id).await {
                    Ok(()) => {
                        tracing::info!(trunk_id = %owner, livekit_trunk_id = %t.sip_trunk_id, "removed a LiveKit trunk trunkline no longer uses");
                        report.removed += 1;
                    }
                    Err(_) => report.failed += 1,
                }
            } else if index.get(&owner) == Some(&true) {
                by_owner.insert(owner, t);
            }
        }

        let grace = self.pending_grace.as_micros() as i64;
        for snapshot in rows {
            // Re-read: the snapshot may be minutes old by now.
            let Ok(Some(row)) = self.store.live_trunk(&snapshot.id).await else {
                continue;
            };
            if row.status == status::PENDING {
                if now_micros() - row.created_at >= grace {
                    self.abandon(lk, &row, by_owner.get(&row.id).copied(), &mut report)
                        .await;
                }
                continue;
            }
            let Ok(kind) = records::trunk_type(&row) else {
                continue;
            };
            // A refused configuration stays refused until a PATCH changes it (which provisions
            // synchronously); retrying it every pass would only fill the log.
            if !direct(kind) || row.status == status::ERROR {
                continue;
            }
            let current = row
                .livekit_trunk_id
                .as_deref()
                .and_then(|id| by_id.get(id).copied());
            let adopted = current.or_else(|| by_owner.get(&row.id).copied());
            self.converge(lk, &row, current.is_some(), adopted, &mut report)
                .await;
        }
        Ok(report)
    }

    /// Retires an interrupted create: the row first (so a create finishing right now sees it
    /// is no longer pending and undoes its own LiveKit trunk), then any LiveKit trunk naming it.
    async fn abandon(
        &self,
        lk: &LiveKitClient,
        row: &TrunkRow,
        remote: Option<&proto::SipOutboundTrunkInfo>,
        report: &mut ReconcileReport,
    ) {
        match self.store.abandon_pending_trunk(&row.id).await {
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
        report: &mut ReconcileReport,
    ) {
        let config = match records::open(&self.keyring, row) {
            Ok(TrunkConfig::Sip(c)) => c,
            Ok(TrunkConfig::Exotel(_)) => return,
            Err(e) => {
                tracing::error!(trunk_id = %row.id, error = ?e, "cannot read stored trunk");
                report.failed += 1;
                return;
            }
        };
        let wanted = livekit_info::outbound_trunk(&row.id, &row.name, &config);
        let in_sync =
            row.synced_version == row.desired_version && row.status == status::PROVISIONED;
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
                .mark_synced(
                    &row.id,
                    row.desired_version,
                    &info.sip_trunk_id,
                    status::PROVISIONED,
                )
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => {
                    // The row changed meanwhile. If it is gone, so must be what we just made;
                    // if it was edited, the next pass pushes the new version.
                    if created && !matches!(self.store.live_trunk(&row.id).await, Ok(Some(_))) {
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
                    .set_trunk_status(&row.id, row.desired_version, status::ERROR, Some(&msg))
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
