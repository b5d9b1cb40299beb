//! Periodic OPTIONS health checks of the trunks that opted in (`PUT
//! /sip/trunks/{id}/health-check`): the same probe as the "Test" button, without a test
//! number, on each trunk's own interval. A trunk is `down` after `down_after` failed checks in
//! a row and `up` again at the first success, on its own.

use crate::fair_work::{self, FairWork, Limits};
use crate::records;
use crate::trunk_probe::probe_request;
use crate::Services;
use std::time::Duration;
use trunkline_sip::ProbeOptions;
use trunkline_store::{now_micros, CheckResult, FairClaim, HealthRow, StoreError};

/// Checks run at once, all tenants together and per tenant; a check (DNS, connect, one
/// OPTIONS transaction, each bounded by the quick probe's timers) is stopped past `per_item`.
pub const LIMITS: Limits = Limits {
    total: 64,
    per_tenant: 16,
    per_item: Duration::from_secs(15),
    idle: Duration::from_secs(1),
};

/// Checks due trunks until `stop`, fairly across tenants (see [`crate::fair_work`]).
pub async fn run(state: Services, stop: impl std::future::Future<Output = ()>) {
    fair_work::run(Checks { state, now: None }, LIMITS, None, stop).await
}

/// Runs every due check once; returns how many ran.
pub async fn pass(state: &Services) -> Result<usize, trunkline_store::StoreError> {
    fair_work::pass(
        &Checks {
            state: state.clone(),
            now: None,
        },
        &LIMITS,
    )
    .await
}

/// [`pass`] as if the clock read `now` (µs): what is due then runs (tests step time with it).
pub async fn pass_at(state: &Services, now: i64) -> Result<usize, trunkline_store::StoreError> {
    fair_work::pass(
        &Checks {
            state: state.clone(),
            now: Some(now),
        },
        &LIMITS,
    )
    .await
}

/// Health checks as [`FairWork`]: claimed at `now` (the clock unless a test sets it).
#[derive(Clone)]
struct Checks {
    state: Services,
    now: Option<i64>,
}

impl FairWork for Checks {
    type Item = HealthRow;

    fn tenant(item: &HealthRow) -> &str {
        &item.tenant_id
    }

    async fn claim(&self, claim: FairClaim) -> Result<Vec<HealthRow>, StoreError> {
        let now = self.now.unwrap_or_else(now_micros);
        self.state.store.claim_health_checks(now, &claim).await
    }

    async fn work(&self, h: HealthRow) {
        let trunk = h.trunk_id.clone();
        if let Err(e) = check(&self.state, h).await {
            tracing::warn!(trunk_id = %trunk, error = %e, "health checks: could not record a check");
        }
    }

    async fn overdue(&self, h: HealthRow) {
        let result = CheckResult {
            healthy: false,
            diagnosis: format!(
                "the check took longer than {} s and was stopped",
                LIMITS.per_item.as_secs()
            ),
            rtt_us: None,
            at: now_micros().max(h.next_check_at),
        };
        if let Err(e) = self
            .state
            .store
            .record_health_check(&h.trunk_id, &result)
            .await
        {
            tracing::warn!(trunk_id = %h.trunk_id, error = %e, "health checks: could not record a check");
        }
    }
}

async fn check(state: &Services, h: HealthRow) -> Result<(), trunkline_store::StoreError> {
    let Some(row) = state
        .store
        .outbound_trunks()
        .get(&h.tenant_id, &h.trunk_id)
        .await?
    else {
        return Ok(()); // deleted since: nothing to check
    };
    let at = now_micros().max(h.next_check_at);
    let result = match records::open(&state.keyring, &row)
        .map_err(|_| "the trunk's configuration cannot be opened".to_owned())
        .and_then(|config| {
            probe_request(state.allow_private_targets, &config, None)
                .map_err(|_| "this trunk cannot be probed".to_owned())
        }) {
        Ok(request) => {
            let report = trunkline_sip::run_probe(&request, &ProbeOptions::quick()).await;
            crate::metrics::probe_ran("health_check", report.diagnosis.code());
            CheckResult {
                healthy: report.diagnosis.healthy(),
                diagnosis: report.diagnosis.code().to_owned(),
                rtt_us: report.rtt.map(|d| d.as_micros() as i64),
                at,
            }
        }
        Err(why) => {
            crate::metrics::probe_ran("health_check", "not_probed");
            CheckResult {
                healthy: false,
                diagnosis: why,
                rtt_us: None,
                at,
            }
        }
    };
    let before = h.state.clone();
    if let Some(after) = state
        .store
        .record_health_check(&h.trunk_id, &result)
        .await?
    {
        if after != before {
            tracing::info!(trunk_id = %h.trunk_id, from = %before, to = %after, diagnosis = %result.diagnosis, "trunk health changed");
        }
    }
    Ok(())
}
