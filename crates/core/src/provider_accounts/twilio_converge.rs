//! The converge pass of the provider side of automated trunks: for every account with
//! provider trunks (Twilio, Telnyx, Exotel), the engine (`provisioning::provider_side`) recreates trunks deleted out of
//! band (under a new domain, which LiveKit's trunk then follows), pushes drift back, removes
//! objects naming deleted rows, and leaves every object trunkline did not make alone. An
//! account whose provider cannot be reached shows `unprovisioned` on its trunks' provider side.

use crate::provisioning::Counts;
use crate::Services;
use std::time::Duration;

/// Accounts with a provider trunk deleted this recently are still looked at, so what a
/// half-failed delete left at the provider is removed.
const DELETED_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConvergeReport {
    pub trunks: Counts,
    /// Accounts whose API could not be read this pass.
    pub unreachable: usize,
    /// `POST /numbers` setups a crash left unfinished, undone this pass (and those whose
    /// undo failed, retried next pass).
    pub numbers_retired: usize,
    pub numbers_failed: usize,
}

impl Services {
    /// One pass over every account's provider trunks.
    pub async fn converge_provider_trunks(&self) -> ConvergeReport {
        let mut report = ConvergeReport::default();
        // First: an unfinished setup's parts are removed through their own delete paths.
        (report.numbers_retired, report.numbers_failed) = self.retire_unfinished_numbers().await;
        let accounts = match self
            .store
            .provider_trunk_accounts(DELETED_WINDOW.as_micros() as i64)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "provider trunks could not be read");
                return report;
            }
        };
        for (tenant_id, account_id) in accounts {
            let Ok(Some(account)) = self
                .store
                .get_provider_account(&tenant_id, &account_id)
                .await
            else {
                continue;
            };
            let Ok(creds) = self.open_credentials(&account) else {
                report.unreachable += 1;
                continue;
            };
            let Ok(client) = self.providers.client(&creds) else {
                continue;
            };
            if let Err(e) = self
                .provisioner
                .converge_account(&account_id, &client, &mut report.trunks)
                .await
            {
                report.unreachable += 1;
                tracing::warn!(provider_account = %account_id, error = %e, "provider account not converged; retried next pass");
            }
        }
        report
    }
}

/// Runs a pass every `interval` until `shutdown`; among instances sharing a database only
/// the holder of the lease works.
pub async fn run(
    services: Services,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let holder = trunkline_domain::TrunkId::generate().to_string();
    let lease = (interval * 3).max(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        let pass = async {
            if let Ok(true) = services
                .store
                .try_lease("provider-converger", &holder, lease)
                .await
            {
                let r = services.converge_provider_trunks().await;
                if r != ConvergeReport::default() {
                    tracing::info!(report = ?r, "provider converge pass");
                }
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
