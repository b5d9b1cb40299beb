//! Periodic OPTIONS health checks of the trunks that opted in (`PUT
//! /sip/trunks/{id}/health-check`): the same probe as the "Test" button, without a test
//! number, on each trunk's own interval. A trunk is `down` after `down_after` failed checks in
//! a row and `up` again at the first success, on its own.

use crate::records;
use crate::trunk_probe::probe_request;
use crate::Services;
use std::time::Duration;
use trunkline_sip::ProbeOptions;
use trunkline_store::{now_micros, CheckResult, HealthRow};

/// Checks due at once are probed concurrently, at most this many per pass.
const BATCH: i64 = 32;

pub async fn run(state: Services, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        match pass(&state).await {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "health checks: pass failed"),
        }
    }
}

/// Runs every due check once; returns how many ran.
pub async fn pass(state: &Services) -> Result<usize, trunkline_store::StoreError> {
    pass_at(state, now_micros()).await
}

/// [`pass`] as if the clock read `now` (µs): what is due then runs (tests step time with it).
pub async fn pass_at(state: &Services, now: i64) -> Result<usize, trunkline_store::StoreError> {
    let due = state.store.claim_health_checks(now, BATCH).await?;
    let n = due.len();
    let mut set = tokio::task::JoinSet::new();
    for h in due {
        let state = state.clone();
        set.spawn(async move { check(&state, h).await });
    }
    while let Some(done) = set.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "health checks: could not record a check");
        }
    }
    Ok(n)
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
