#!/usr/bin/env bash
# bench/dashboard.sh: the dashboard's server-side render time for a big tenant, next to the
# JSON API's trunk list, measured in the same run on the same machine.
#
#   1. One tenant with 1,000 outbound trunks (created through POST /sip/create-outbound-trunk,
#      no LiveKit: stored as unprovisioned) and 100,000 calls (written straight into the
#      SQLite file: the dialer would take hours to make that many), the last 20 of them in
#      progress. The hourly outcome counters that each call's final move keeps are filled
#      with the same query as migration 0120's.
#   2. A dashboard session, signed in through the sign-in form as a browser does.
#   3. Sequential GETs of the overview (/), the trunk list (/ui/trunks), the calls list
#      (/ui/calls) and the JSON GET /sip/list: p50 and p99 of each, and each page's p99 as a
#      ratio of the JSON list's.
#
# Goal: every page's p99 under 50 ms. SQLite only. BENCH_PROFILE=debug uses the debug build
# (a quick look, not a figure to quote); BENCH_REQUESTS sets the requests per page (300).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${BENCH_PROFILE:-release}"
REQUESTS="${BENCH_REQUESTS:-300}"
if [[ "$PROFILE" == release ]]; then
  cargo build --release -q -p trunkline
else
  cargo build -q -p trunkline
fi
BIN="target/$PROFILE"
WORK=$(mktemp -d)
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DATABASE_URL="sqlite://$WORK/trunkline.db"
export TRUNKLINE_MASTER_KEY=$(python3 -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())')
export TRUNKLINE_LOG=warn TRUNKLINE_RECONCILE_INTERVAL=3600 TRUNKLINE_QUOTA_TRUNKS=1000000
unset LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET
TRUNKLINE_LISTEN="127.0.0.1:$PORT" "$BIN/trunkline" serve 2>"$WORK/serve.log" & PID=$!
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
KEY=$("$BIN/trunkline" keys create --name Bench --email bench@example.com | tail -n1)

python3 - "$PORT" "$KEY" "$WORK/trunkline.db" "$REQUESTS" <<'PY'
import http.client, json, re, sqlite3, statistics, sys, time, urllib.parse, uuid, os
port, key, db, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", int(port))

def req(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.getheaders(), r.read()

auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
trunks = []
for i in range(1000):
    body = json.dumps({"trunk_name": f"Trunk {i}", "trunk_type": "sip", "trunk_config": {
        "address": f"sip{i}.example.com", "numbers": [f"+1555{i:07d}"]}})
    s, _, b = req("POST", "/sip/create-outbound-trunk", body, auth)
    assert s == 200, b
    trunks.append(json.loads(b)["data"]["trunk_id"])

d = sqlite3.connect(db)
tenant = d.execute("SELECT tenant_id FROM api_keys LIMIT 1").fetchone()[0]
now = int(time.time() * 1e6)
statuses = ["completed"] * 6 + ["busy", "no_answer", "failed", "cancelled"]
rows = []
for i in range(100_000):
    t = now - (100_000 - i) * 1_000_000  # one call a second, the last 28 hours
    st = statuses[i % len(statuses)] if i < 100_000 - 20 else "answered"
    rows.append(("CL_" + uuid.uuid4().hex, tenant, "AS_" + "0" * 32, trunks[i % 1000],
                 f"+1415{i:07d}", f"+1555{i % 1000:07d}", "{}", "", st, 1, 3, t, t, t + 500_000,
                 t + 3_000_000 if st in ("completed", "answered") else None,
                 None if st == "answered" else t + 60_000_000, t + 60_000_000))
d.executemany("INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, from_number, "
              "plan, request_hash, status, attempts, max_attempts, next_attempt_at, created_at, "
              "dialed_at, answered_at, ended_at, updated_at) VALUES "
              "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
d.execute("INSERT INTO call_outcome_counts (tenant_id, hour, status, calls) "
          "SELECT tenant_id, created_at / 3600000000 * 3600000000, status, COUNT(*) FROM calls "
          "WHERE status NOT IN ('queued', 'claimed', 'dialing', 'ringing', 'answered') "
          "GROUP BY tenant_id, created_at / 3600000000 * 3600000000, status")
d.commit()
d.close()

# Sign in as a browser does: the form's token and cookie, then the session cookie.
s, h, b = req("GET", "/ui/sign-in")
pre = [v.split(";")[0] for k, v in h if k.lower() == "set-cookie"][0]
csrf = re.search(rb'name="csrf" value="([^"]+)"', b).group(1).decode()
form = urllib.parse.urlencode({"csrf": csrf, "api_key": key})
s, h, b = req("POST", "/ui/sign-in", form,
              {"Content-Type": "application/x-www-form-urlencoded", "Cookie": pre})
assert s == 303, (s, b)
session = [v.split(";")[0] for k, v in h if k.lower() == "set-cookie" and v.startswith("tl_session=")][0]

def measure(path, headers):
    for _ in range(10):
        req("GET", path, headers=headers)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s, _, b = req("GET", path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert s == 200, (path, s)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], len(b)

print("load average before:", os.getloadavg(), "cores:", os.cpu_count())
json_p50, json_p99, json_len = measure("/sip/list", {"Authorization": f"Bearer {key}"})
print(f"GET /sip/list (JSON, 1,000 trunks): p50 {json_p50:.2f} ms, p99 {json_p99:.2f} ms, {json_len} bytes")
ok = True
for path in ["/", "/ui/trunks", "/ui/calls"]:
    p50, p99, size = measure(path, {"Cookie": session})
    ok &= p99 < 50
    print(f"GET {path} (HTML): p50 {p50:.2f} ms, p99 {p99:.2f} ms, {size} bytes; "
          f"p99 ratio to the JSON list {p99 / json_p99:.2f}; goal p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}")
print("load average after:", os.getloadavg())
sys.exit(0 if ok else 3)
PY
