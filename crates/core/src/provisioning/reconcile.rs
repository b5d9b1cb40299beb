//! The reconciler: every pass runs the converge engine (`engine.rs`) over each kind of
//! provisioned resource, in dependency order (`kinds.rs`), so LiveKit ends up holding what the
//! store says. Among instances sharing one database, one holds the lease and works.

use super::kinds::{DispatchRules, InboundTrunks, OutboundTrunks};
use super::Provisioner;
use std::future::Future;
use std::time::Duration;

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
        self.converge_kind(&OutboundTrunks, lk, &mut report.outbound)
            .await?;
        self.converge_kind(&InboundTrunks, lk, &mut report.inbound)
            .await?;
        self.converge_kind(&DispatchRules, lk, &mut report.rules)
            .await?;
        Ok(report)
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
                Ok(true) => {
                    let result = provisioner.reconcile_once().await;
                    crate::metrics::reconciler_pass(result.as_ref().map_err(|_| ()));
                    match result {
                        Ok(r) if r != ReconcileReport::default() => {
                            tracing::info!(report = ?r, "reconcile pass")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "reconcile pass could not run"),
                    }
                }
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
