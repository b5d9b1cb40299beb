"""Writes trunkline.json, the Grafana dashboard of trunkline's metrics (README: Operations).
Kept as a script so panels stay uniform: edit here, run `python3 ops/grafana/make_dashboard.py`,
commit both."""
import json
import os

panels = []
y = 0


def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "id": len(panels) + 1, "panels": []})
    y += 1


def ts(title, targets, unit="short", w=8, desc=""):
    global y
    x = sum(p["gridPos"]["w"] for p in panels if p["gridPos"]["y"] == y and p["type"] != "row")
    if x + w > 24:
        y += 8
        x = 0
    panels.append({
        "type": "timeseries", "title": title, "description": desc, "id": len(panels) + 1,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": l}
                    for i, (e, l) in enumerate(targets)],
    })


def end_row():
    global y
    y += 8


def q(p, metric, by, extra=""):
    return (f"histogram_quantile({p}, sum by (le{', ' + by if by else ''}) "
            f"(rate({metric}_bucket{{instance=~\"$instance\"{extra}}}[$__rate_interval])))")


I = '{instance=~"$instance"}'

row("API (trunkline serve)")
ts("Requests / s by route", [(f'sum by (route) (rate(trunkline_http_requests_total{I}[$__rate_interval]))', "{{route}}")], "reqps")
ts("Error ratio (5xx)", [(f'sum(rate(trunkline_http_requests_total{{instance=~"$instance",status=~"5.."}}[$__rate_interval])) / sum(rate(trunkline_http_requests_total{I}[$__rate_interval]))', "5xx")], "percentunit",
   desc="Alert above 1% for 5 minutes.")
ts("Latency p95 by route", [(q(0.95, "trunkline_http_request_duration_seconds", "route"), "{{route}}")], "s")
end_row()

row("LiveKit")
ts("RPCs / s by method and outcome", [(f'sum by (method, outcome) (rate(trunkline_livekit_rpcs_total{I}[$__rate_interval]))', "{{method}} {{outcome}}")], "reqps")
ts("RPC failure ratio", [(f'sum(rate(trunkline_livekit_rpcs_total{{instance=~"$instance",outcome=~"unreachable|timeout|unauthorized|bad_response|internal|unavailable"}}[$__rate_interval])) / sum(rate(trunkline_livekit_rpcs_total{I}[$__rate_interval]))', "failures")], "percentunit",
   desc="Transport failures, credentials and LiveKit's own errors; a callee's busy/no-answer codes are not failures. Alert above 5% for 5 minutes.")
ts("RPC latency p95 by method", [(q(0.95, "trunkline_livekit_rpc_duration_seconds", "method"), "{{method}}")], "s")
end_row()

row("Outbound calls")
ts("Call outcomes / min", [(f'sum by (status) (increase(trunkline_call_outcomes_total{I}[1m]))', "{{status}}")], "short")
ts("Outcomes by SIP class / min", [(f'sum by (sip_class) (increase(trunkline_call_outcomes_total{I}[1m]))', "{{sip_class}}")], "short")
ts("Queue and calls in progress", [('max by (status) (trunkline_calls{instance=~"$instance"})', "{{status}}")], "short",
   desc="Read from the database at each scrape: every instance reports the same numbers, hence max.")
end_row()
ts("Dial lag (due to dialed)", [(q(0.5, "trunkline_dial_lag_seconds", ""), "p50"), (q(0.95, "trunkline_dial_lag_seconds", ""), "p95"), (q(0.99, "trunkline_dial_lag_seconds", ""), "p99")], "s",
   desc="Grows with CPS pacing and concurrency limits; alert when p95 stays above 60 s.")
ts("End-of-call webhooks / min", [(f'sum by (outcome) (increase(trunkline_webhook_deliveries_total{I}[1m]))', "{{outcome}}")], "short")
ts("Trunks by health state", [('max by (state) (trunkline_health_checked_trunks{instance=~"$instance"})', "{{state}}")], "short")
end_row()
ts("Probe runs / min by diagnosis", [(f'sum by (source, diagnosis) (increase(trunkline_probe_runs_total{I}[1m]))', "{{source}} {{diagnosis}}")], "short", w=12)
ts("Metrics refresh errors", [(f'sum(increase(trunkline_metrics_refresh_errors_total{I}[5m]))', "errors")], "short", w=12)
end_row()
ts("Reconciler passes / 5 min", [(f'sum by (outcome) (increase(trunkline_reconciler_passes_total{I}[5m]))', "{{outcome}}")], "short", w=12,
   desc="Only the instance holding the reconciler lease runs passes.")
ts("Drift repaired / 5 min", [(f'sum by (kind, action) (increase(trunkline_reconciler_drift_repaired_total{I}[5m]))', "{{kind}} {{action}}")], "short", w=12,
   desc="LiveKit objects the reconciler provisioned, recreated, repaired or removed; failed ones are retried next pass.")
end_row()

row("Bridge (trunkline bridge)")
ts("Active calls", [(f'sum(trunkline_bridge_calls_active{I})', "active")], "short")
ts("Calls ended / min by final status", [(f'sum by (status) (increase(trunkline_bridge_calls_total{I}[1m]))', "{{status}}")], "short")
ts("SIP messages / s", [(f'sum by (direction, method, status_class) (rate(trunkline_bridge_sip_messages_total{I}[$__rate_interval]))', "{{direction}} {{method}} {{status_class}}")], "reqps")
end_row()
ts("Edge drops / s by reason", [(f'sum by (reason) (rate(trunkline_bridge_edge_drops_total{I}[$__rate_interval]))', "{{reason}}")], "reqps")
ts("RTP packets / s", [(f'sum by (channel, direction) (rate(trunkline_bridge_rtp_packets_total{I}[$__rate_interval]))', "{{channel}} {{direction}}")], "pps")
ts("RTP drops / s by reason", [(f'sum by (reason) (rate(trunkline_bridge_rtp_dropped_packets_total{I}[$__rate_interval]))', "{{reason}}")], "pps")
end_row()
ts("Relay ports", [(f'sum by (state) (trunkline_bridge_relay_ports{I})', "{{state}}")], "short", w=12,
   desc="Alert when free ports fall under 10% of the range: new calls then get 503.")
ts("TCP/TLS connections", [(f'sum by (role, transport) (trunkline_bridge_connections{I})', "{{role}} {{transport}}")], "short", w=12)
end_row()

row("Processes")
ts("CPU (cores)", [(f'rate(process_cpu_seconds_total{I}[$__rate_interval])', "{{instance}}")], "short")
ts("Resident memory", [(f'process_resident_memory_bytes{I}', "{{instance}}")], "bytes")
ts("Open file descriptors", [(f'process_open_fds{I}', "{{instance}}"), (f'process_max_fds{I}', "{{instance}} max")], "short")
end_row()

dashboard = {
    "title": "trunkline",
    "uid": "trunkline",
    "tags": ["trunkline", "sip", "livekit"],
    "schemaVersion": 39,
    "version": 1,
    "editable": True,
    "time": {"from": "now-6h", "to": "now"},
    "refresh": "30s",
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        {"name": "instance", "type": "query", "label": "Instance", "includeAll": True, "multi": True,
         "allValue": ".*", "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "query": {"query": "label_values(process_start_time_seconds, instance)", "refId": "instances"},
         "refresh": 2},
    ]},
    "panels": panels,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trunkline.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
