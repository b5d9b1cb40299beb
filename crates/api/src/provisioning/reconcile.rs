//! The reconciler: every pass compares the stored trunks with LiveKit's and repairs the
//! difference. It provisions trunks stored while LiveKit was not configured or down, recreates
//! LiveKit trunks deleted out of band, pushes configurations that drifted, and removes the
//! remains of creates a crash interrupted.

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
        let by_id: HashMap<&str, &proto::SipOutboundTrunkInfo> = remote
            .iter()
            .map(|t| (t.sip_trunk_id.as_str(), t))
            .collect();
        let by_owner: HashMap<String, &proto::SipOutboundTrunkInfo> = remote
            .iter()
            .filter_map(|t| livekit_info::owner(t).map(|o| (o, t)))
            .collect();
        let mut report = ReconcileReport::default();
        let grace = self.pending_grace.as_micros() as i64;
        for row in rows {
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
            self.converge(lk, &row, current, adopted, &mut report).await;
        }
        Ok(report)
    }

    async fn abandon(
        &self,
        lk: &LiveKitClient,
        row: &TrunkRow,
        remote: Option<&proto::SipOutboundTrunkInfo>,
        report: &mut ReconcileReport,
    ) {
        if let Some(t) = remote {
            if lk.delete_trunk(&t.sip_trunk_id).await.is_err() {
                report.failed += 1;
                return;
            }
        }
        match self.store.forget_pending_trunk(&row.id).await {
            Ok(()) => {
                tracing::info!(trunk_id = %row.id, "removed the remains of an interrupted create");
                report.abandoned += 1;
            }
            Err(_) => report.failed += 1,
        }
    }

    async fn converge(
        &self,
        lk: &LiveKitClient,
        row: &TrunkRow,
        current: Option<&proto::SipOutboundTrunkInfo>,
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
        let result = match adopted {
            Some(remote)
                if in_sync && current.is_some() && !livekit_info::drifted(remote, &wanted) =>
            {
                return
            }
            Some(remote) => {
                report.repaired += 1;
                lk.replace_outbound_trunk(&remote.sip_trunk_id, wanted)
                    .await
            }
            None => {
                if row.livekit_trunk_id.is_some() {
                    tracing::warn!(trunk_id = %row.id, "LiveKit trunk was deleted out of band; recreating it");
                    report.recreated += 1;
                } else {
                    report.provisioned += 1;
                }
                lk.create_outbound_trunk(wanted).await
            }
        };
        let outcome = match result {
            Ok(info) => self
                .store
                .mark_synced(
                    &row.id,
                    row.desired_version,
                    &info.sip_trunk_id,
                    status::PROVISIONED,
                )
                .await
                .map_err(|e| e.to_string()),
            Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                let msg = format!(
                    "LiveKit rejected the trunk: {}",
                    e.livekit_message().unwrap_or_default()
                );
                self.store
                    .set_trunk_status(
                        &row.id,
                        status::ERROR,
                        Some(&msg),
                        row.livekit_trunk_id.as_deref(),
                    )
                    .await
                    .map_err(|e| e.to_string())
                    .and(Err(msg))
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome {
            tracing::warn!(trunk_id = %row.id, error = %e, "reconcile failed for trunk");
            report.failed += 1;
        }
    }
}

/// Runs passes every `interval` until `shutdown` resolves. Among instances sharing one
/// database, only the holder of the `reconciler` lease works; the others stand by.
pub async fn run_reconciler(
    provisioner: Provisioner,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let holder = trunkline_domain::TrunkId::generate().to_string();
    let lease = (interval * 3).max(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
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
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
