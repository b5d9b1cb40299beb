//! The service layer's metrics: names, help texts and the one function per event that the
//! call sites use, so each call site is one line and the label values stay bounded (statuses,
//! classes and diagnoses from closed sets; never a call, number or trunk id). A tenant id is
//! a label only where the operator opts in (`enable_tenant_labels`), and then at most
//! `MAX_TENANT_LABELS` of them, the rest sharing `other`.
//!
//! Recorded through the `metrics` facade: a no-op until the binary installs a recorder
//! (`TRUNKLINE_METRICS_LISTEN`).

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Label, Unit,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use trunkline_domain::call::CallStatus;
use trunkline_store::Store;

pub const CALL_OUTCOMES: &str = "trunkline_call_outcomes_total";
pub const DIAL_LAG: &str = "trunkline_dial_lag_seconds";
pub const CALLS_OPEN: &str = "trunkline_calls";
pub const WEBHOOK_DELIVERIES: &str = "trunkline_webhook_deliveries_total";
pub const PROBE_RUNS: &str = "trunkline_probe_runs_total";
pub const HEALTH_CHECKED_TRUNKS: &str = "trunkline_health_checked_trunks";
pub const SCRAPE_ERRORS: &str = "trunkline_metrics_refresh_errors_total";
pub const RECONCILER_PASSES: &str = "trunkline_reconciler_passes_total";
pub const RECONCILER_DRIFT: &str = "trunkline_reconciler_drift_repaired_total";

/// Registers the help texts (once, when the recorder is installed).
pub fn describe() {
    describe_counter!(
        CALL_OUTCOMES,
        "Outbound calls that reached a final status, by status and SIP status class (1xx..6xx, or none when no SIP answer was seen)"
    );
    describe_histogram!(
        DIAL_LAG,
        Unit::Seconds,
        "Time from when a queued call was due to when it was dialed (CPS pacing and concurrency waits included)"
    );
    describe_gauge!(
        CALLS_OPEN,
        "Outbound calls not yet ended, by status: queued and claimed are the queue, dialing, ringing and answered are in progress"
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "End-of-call webhook delivery attempts, by outcome: delivered, retry (will be tried again) or failed (given up)"
    );
    describe_counter!(
        PROBE_RUNS,
        "SIP trunk probes run, by source (test: the Test button; health_check) and diagnosis"
    );
    describe_gauge!(
        HEALTH_CHECKED_TRUNKS,
        "Trunks with health checks on, by state (up, down, unknown)"
    );
    describe_counter!(
        RECONCILER_PASSES,
        "Reconciler passes, by outcome: ok, or failed (LiveKit or the database could not be read)"
    );
    describe_counter!(
        RECONCILER_DRIFT,
        "What reconciler passes did to bring LiveKit to the stored configuration, by kind (outbound_trunk, inbound_trunk, dispatch_rule) and action (provisioned, recreated, repaired, abandoned, removed, failed)"
    );
    describe_counter!(
        trunkline_providers::PROVIDER_API_CALLS,
        "Requests to the providers' APIs (Twilio, Exotel, Telnyx), by provider and outcome: ok, rate_limited (429; retried with backoff), unavailable, credentials, invalid_input, not_found, conflict or other"
    );
    describe_counter!(
        SCRAPE_ERRORS,
        "Scrapes whose state gauges could not be read from the database (the gauges keep their last values)"
    );
}

/// Tenants that get a `tenant` label of their own, at most: Prometheus keeps a series per
/// label value, so a service with more tenants than this puts the rest under `other`.
pub const MAX_TENANT_LABELS: usize = 200;

/// The tenants given a label so far; `None` until the operator opts in.
static TENANT_LABELS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Adds a `tenant` label to the per-tenant series (HTTP requests, call outcomes, calls in
/// progress) from now on (`TRUNKLINE_METRICS_TENANT_LABELS`).
pub fn enable_tenant_labels() {
    let _ = TENANT_LABELS.set(Mutex::new(HashSet::new()));
}

pub fn tenant_labels_enabled() -> bool {
    TENANT_LABELS.get().is_some()
}

/// The `tenant` label of `tenant_id`: `None` unless enabled; the id for the first
/// `MAX_TENANT_LABELS` tenants seen, `other` after them.
pub fn tenant_label(tenant_id: &str) -> Option<String> {
    let admitted = TENANT_LABELS.get()?;
    let mut admitted = admitted.lock().unwrap_or_else(|p| p.into_inner());
    if admitted.contains(tenant_id) {
        return Some(tenant_id.to_owned());
    }
    if admitted.len() < MAX_TENANT_LABELS {
        admitted.insert(tenant_id.to_owned());
        return Some(tenant_id.to_owned());
    }
    Some("other".to_owned())
}

/// `486` is `4xx`; no SIP answer is `none`.
pub fn sip_class(code: Option<u16>) -> &'static str {
    match code {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(600..=699) => "6xx",
        _ => "none",
    }
}

/// A call of `tenant_id` reached its final status.
pub fn call_ended(tenant_id: &str, status: CallStatus, sip_status_code: Option<u16>) {
    let mut labels = vec![
        Label::new("status", status.as_str()),
        Label::new("sip_class", sip_class(sip_status_code)),
    ];
    if let Some(tenant) = tenant_label(tenant_id) {
        labels.push(Label::new("tenant", tenant));
    }
    counter!(CALL_OUTCOMES, labels).increment(1);
}

/// A call was dialed `lag_micros` after it was due.
pub fn dialed(lag_micros: i64) {
    histogram!(DIAL_LAG).record(lag_micros.max(0) as f64 / 1e6);
}

/// One webhook delivery attempt ended.
pub fn webhook_delivery(delivered: bool, will_retry: bool) {
    let outcome = match (delivered, will_retry) {
        (true, _) => "delivered",
        (false, true) => "retry",
        (false, false) => "failed",
    };
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

/// One trunk probe ran; `diagnosis` is a `Diagnosis::code()`, or `not_probed`.
pub fn probe_ran(source: &'static str, diagnosis: &'static str) {
    counter!(PROBE_RUNS, "source" => source, "diagnosis" => diagnosis).increment(1);
}

const OPEN_STATUSES: [&str; 5] = ["queued", "claimed", "dialing", "ringing", "answered"];
const HEALTH_STATES: [&str; 3] = ["up", "down", "unknown"];

/// Sets the state gauges from the database: run before each scrape. Every status is set,
/// zero included, so a series does not vanish when its last call ends.
pub async fn refresh_from_store(store: &Store) {
    if tenant_labels_enabled() {
        refresh_calls_by_tenant(store).await;
    } else {
        refresh_calls(store).await;
    }
    match store.checked_trunks_by_state().await {
        Ok(rows) => {
            for state in HEALTH_STATES {
                let n = rows.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
                gauge!(HEALTH_CHECKED_TRUNKS, "state" => state).set(n as f64);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count the health-checked trunks");
            counter!(SCRAPE_ERRORS).increment(1);
        }
    }
}

async fn refresh_calls(store: &Store) {
    match store.open_calls_by_status().await {
        Ok(rows) => {
            for status in OPEN_STATUSES {
                let n = rows
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                gauge!(CALLS_OPEN, "status" => status).set(n as f64);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count the calls");
            counter!(SCRAPE_ERRORS).increment(1);
        }
    }
}

/// Every tenant label given a calls gauge so far: each keeps its series (at zero once its
/// calls end), as the statuses do.
static CALLS_TENANTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

async fn refresh_calls_by_tenant(store: &Store) {
    let rows = match store.open_calls_by_tenant_status().await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count the calls");
            counter!(SCRAPE_ERRORS).increment(1);
            return;
        }
    };
    let mut counts: HashMap<(String, String), i64> = HashMap::new();
    let mut tenants = CALLS_TENANTS.lock().unwrap_or_else(|p| p.into_inner());
    for (tenant_id, status, n) in rows {
        let Some(tenant) = tenant_label(&tenant_id) else {
            continue;
        };
        tenants.insert(tenant.clone());
        *counts.entry((tenant, status)).or_default() += n;
    }
    for tenant in tenants.iter() {
        for status in OPEN_STATUSES {
            let n = counts
                .get(&(tenant.clone(), status.to_owned()))
                .copied()
                .unwrap_or(0);
            gauge!(CALLS_OPEN, "status" => status, "tenant" => tenant.clone()).set(n as f64);
        }
    }
}

/// One reconciler pass ran to its end, or could not run.
pub fn reconciler_pass(report: Result<&crate::provisioning::ReconcileReport, ()>) {
    let Ok(report) = report else {
        counter!(RECONCILER_PASSES, "outcome" => "failed").increment(1);
        return;
    };
    counter!(RECONCILER_PASSES, "outcome" => "ok").increment(1);
    for (kind, c) in [
        ("outbound_trunk", &report.outbound),
        ("inbound_trunk", &report.inbound),
        ("dispatch_rule", &report.rules),
    ] {
        for (action, n) in [
            ("provisioned", c.provisioned),
            ("recreated", c.recreated),
            ("repaired", c.repaired),
            ("abandoned", c.abandoned),
            ("removed", c.removed),
            ("failed", c.failed),
        ] {
            if n > 0 {
                counter!(RECONCILER_DRIFT, "kind" => kind, "action" => action).increment(n as u64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sip_class;

    #[test]
    fn sip_classes() {
        assert_eq!(sip_class(None), "none");
        assert_eq!(sip_class(Some(180)), "1xx");
        assert_eq!(sip_class(Some(200)), "2xx");
        assert_eq!(sip_class(Some(486)), "4xx");
        assert_eq!(sip_class(Some(503)), "5xx");
        assert_eq!(sip_class(Some(603)), "6xx");
        assert_eq!(sip_class(Some(0)), "none");
        assert_eq!(sip_class(Some(700)), "none");
    }
}
