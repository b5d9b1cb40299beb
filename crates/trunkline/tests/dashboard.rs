//! The Grafana dashboard (ops/grafana/trunkline.json) queries only metrics the code exports:
//! a renamed metric fails here rather than as an empty panel in production.

use std::collections::BTreeSet;

/// Every metric name the crates define, and the process metrics of `metrics-process`.
fn exported() -> BTreeSet<&'static str> {
    use trunkline_api::metrics as api;
    use trunkline_core::metrics as core;
    use trunkline_livekit::metrics as lk;
    use trunkline_sip::bridge::metrics as bridge;
    BTreeSet::from([
        api::HTTP_REQUESTS,
        api::HTTP_DURATION,
        lk::RPCS,
        lk::RPC_DURATION,
        core::CALL_OUTCOMES,
        core::DIAL_LAG,
        core::CALLS_OPEN,
        core::WEBHOOK_DELIVERIES,
        core::PROBE_RUNS,
        core::HEALTH_CHECKED_TRUNKS,
        core::SCRAPE_ERRORS,
        core::RECONCILER_PASSES,
        core::RECONCILER_DRIFT,
        bridge::CALLS_ACTIVE,
        bridge::CALLS,
        bridge::SIP_MESSAGES,
        bridge::EDGE_DROPS,
        bridge::CONNECTIONS,
        bridge::RTP_PACKETS,
        bridge::RTP_BYTES,
        bridge::RTP_DROPPED,
        bridge::RELAY_PORTS,
        // Checked against a real scrape in metrics_serve.rs.
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ])
}

#[test]
fn the_dashboard_queries_only_exported_metrics() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../ops/grafana/trunkline.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exported = exported();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !(word.starts_with("trunkline_") || word.starts_with("process_")) {
                    continue;
                }
                let name = word.strip_suffix("_bucket").unwrap_or(word);
                assert!(
                    exported.contains(name),
                    "panel {:?} queries {word}, which nothing exports",
                    panel["title"]
                );
                queried += 1;
            }
        }
    }
    assert!(queried > 20, "only {queried} metric references found");
    // Prometheus names: lowercase snake case.
    for name in exported.iter().filter(|n| n.starts_with("trunkline_")) {
        assert!(
            !name.contains("__") && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{name}"
        );
    }
}
