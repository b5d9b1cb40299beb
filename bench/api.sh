#!/usr/bin/env bash
# bench/api.sh: trunkline's API against a bare axum handler, measured in the same run on the
# same machine, reported as ratios.
#
#   1. 100 tenants create 100 trunks each through POST /sip/create-outbound-trunk (10,000 in
#      the database), provisioned into the LiveKit double (a separate process speaking Twirp).
#   2. GET /sip/list for one tenant (100 trunks), closed loop: requests/s and p99.
#   3. The same list at a fixed 1,000 requests/s (open loop): p99.
#   4. The bare handler (same response bytes, no auth, no database) under the same loads.
#
# Goals: authenticated list >= 50% of the bare rate; p99 < 5 ms at 1,000 req/s. With
# PostgreSQL, TWO instances of `serve` share the database and the list load is spread over both
# (connection i to instance i mod 2), as several instances behind a load balancer run.
# Usage: bench/api.sh [--database-url postgres://…/db] (default: a fresh SQLite file). With
# PostgreSQL, a scratch database is created on that server and dropped afterwards; the database
# named in the URL is only used to connect.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL_ARG=""
if [[ "${1:-}" == "--database-url" ]]; then DATABASE_URL_ARG="$2"; fi
DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"

cargo build --release -q -p trunkline -p livekit-double -p trunkline-bench
BIN=target/release
WORK=$(mktemp -d)
PIDS=()
SCRATCH_DB=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "$SCRATCH_DB" ]]; then psql "$DATABASE_URL_ARG" -qc "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; exit 1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

LK_PORT=$(free_port); API_PORT=$(free_port); API2_PORT=$(free_port); BARE_PORT=$(free_port)
export LIVEKIT_URL="http://127.0.0.1:$LK_PORT" LIVEKIT_API_KEY=APIbench LIVEKIT_API_SECRET=bench-secret-0123456789abcdef
if [[ "$DATABASE_URL_ARG" == postgres* ]]; then
  SCRATCH_DB="tl_bench_$$"
  psql "$DATABASE_URL_ARG" -qc "CREATE DATABASE $SCRATCH_DB" >/dev/null
  export DATABASE_URL="${DATABASE_URL_ARG%/*}/$SCRATCH_DB"
else
  export DATABASE_URL="sqlite://$WORK/trunkline.db"
fi
export TRUNKLINE_MASTER_KEY=$(python3 -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())')
export TRUNKLINE_LOG=warn TRUNKLINE_RECONCILE_INTERVAL=3600
# The load is 100+ trunks per tenant: past the default per-tenant quota.
export TRUNKLINE_QUOTA_TRUNKS=1000000

"$BIN/livekit-double" --listen "127.0.0.1:$LK_PORT" --api-key "$LIVEKIT_API_KEY" --api-secret "$LIVEKIT_API_SECRET" >/dev/null & PIDS+=($!)
# The instances of `serve` (SERVE_PIDS), started with the environment given (e.g.
# TRUNKLINE_SHARED_READS=per-request); a second one where the database is shared.
SERVE_PIDS=()
start_instances() {
  SERVE_PIDS=()
  TRUNKLINE_LISTEN="127.0.0.1:$API_PORT" env "$@" "$BIN/trunkline" serve 2>>"$WORK/serve.log" & PIDS+=($!); SERVE_PIDS+=($!)
  wait_http "http://127.0.0.1:$API_PORT/health"
  if [[ -n "$SCRATCH_DB" ]]; then
    TRUNKLINE_LISTEN="127.0.0.1:$API2_PORT" env "$@" "$BIN/trunkline" serve 2>>"$WORK/serve2.log" & PIDS+=($!); SERVE_PIDS+=($!)
    wait_http "http://127.0.0.1:$API2_PORT/health"
  fi
}
stop_instances() {
  for p in "${SERVE_PIDS[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
}
start_instances TRUNKLINE_SHARED_READS=notified
LIST_URL="http://127.0.0.1:$API_PORT/sip/list"
INSTANCES=1
if [[ -n "$SCRATCH_DB" ]]; then
  LIST_URL="$LIST_URL,http://127.0.0.1:$API2_PORT/sip/list"
  INSTANCES=2
fi

# Where a request's time goes, counted over a measured run: CPU seconds (utime + stime from
# /proc) of the serve instances, of the PostgreSQL backends serving the benchmark's database,
# and the database's transactions (one per query here), each divided by the requests served.
ticks() { python3 -c '
import sys
total = 0
for pid in sys.argv[1:]:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])
    except (FileNotFoundError, ProcessLookupError):
        pass
print(total)' "$@"; }
pg_backends() { [[ -n "$SCRATCH_DB" ]] && psql "$DATABASE_URL" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" | tr '\n' ' '; true; }
pg_xacts() { if [[ -n "$SCRATCH_DB" ]]; then psql "$DATABASE_URL" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"; else echo 0; fi; }
# Runs bench-load with the given arguments and prints its JSON result with a "profile" field
# added: CPU µs per request in the serve instances and in PostgreSQL, and queries per request.
profiled_load() {
  local backends serve0 pg0 x0 out serve1 pg1 x1
  backends=$(pg_backends)
  serve0=$(ticks "${SERVE_PIDS[@]}"); pg0=$(ticks $backends); x0=$(pg_xacts)
  out=$("$LOAD" "$@")
  backends=$(echo $backends $(pg_backends) | tr ' ' '\n' | sort -u | tr '\n' ' ')
  serve1=$(ticks "${SERVE_PIDS[@]}"); pg1=$(ticks $backends); x1=$(pg_xacts)
  python3 -c '
import json, sys
r = json.loads(sys.argv[1]); tck = int(sys.argv[2])
serve, pg, xacts = (int(b) - int(a) for a, b in zip(sys.argv[3:6], sys.argv[6:9]))
n = max(r["requests"], 1)
r["profile"] = {"serve_us": 1e6 * serve / tck / n, "postgres_us": 1e6 * pg / tck / n, "queries": xacts / n}
print(json.dumps(r))' "$out" "$(getconf CLK_TCK)" "$serve0" "$pg0" "$x0" "$serve1" "$pg1" "$x1"
}
for i in $(seq 100); do "$BIN/trunkline" keys create --name "bench $i" --email "tenant$i@bench.test" 2>/dev/null | tail -n1; done > "$WORK/keys"
head -n1 "$WORK/keys" > "$WORK/key0"

cat > "$WORK/create.json" <<'JSON'
{"trunk_name":"Twilio Production","trunk_type":"twilio","trunk_config":{"address":"example.pstn.twilio.com","numbers":["+15550100000"],"username":"ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","password":"your_auth_token_here"}}
JSON
LOAD="$BIN/bench-load"
echo "machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); database: ${DATABASE_URL%%:*}; instances: $INSTANCES; LiveKit: double over loopback"

# 1. Creates: 10,000 (100 per tenant, keys rotate per request), the first second as warm-up.
CREATE=$("$LOAD" --label create --url "http://127.0.0.1:$API_PORT/sip/create-outbound-trunk" --method POST \
  --body-file "$WORK/create.json" --keys-file "$WORK/keys" --connections 8 --requests 10000 --warmup 0 --duration 600)
COUNT=$(curl -s "http://127.0.0.1:$API_PORT/sip/list" -H "Authorization: Bearer $(cat "$WORK/key0")" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
[[ "$COUNT" == 100 ]] || { echo "expected 100 trunks for tenant 0, found $COUNT" >&2; exit 1; }

# The bare handler answers with the very bytes of the real list response.
curl -s "http://127.0.0.1:$API_PORT/sip/list" -H "Authorization: Bearer $(cat "$WORK/key0")" > "$WORK/list.json"
"$BIN/bench-bare" --listen "127.0.0.1:$BARE_PORT" --body-file "$WORK/list.json" >/dev/null & PIDS+=($!); BARE_PID=$!
wait_http "http://127.0.0.1:$BARE_PORT/sip/list"

if [[ "$INSTANCES" == 2 ]]; then
  # Read-after-write across instances: a create acknowledged by one is listed by the other.
  NEW=$(curl -s -X POST "http://127.0.0.1:$API_PORT/sip/create-outbound-trunk" -H "Authorization: Bearer $(cat "$WORK/key0")" \
    -H 'Content-Type: application/json' --data-binary @"$WORK/create.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["trunk_id"])')
  curl -s "http://127.0.0.1:$API2_PORT/sip/list" -H "Authorization: Bearer $(cat "$WORK/key0")" | grep -q "$NEW" \
    || { echo "instance 2 does not list $NEW, just created through instance 1" >&2; exit 1; }
  curl -s -o /dev/null -X DELETE "http://127.0.0.1:$API2_PORT/sip/trunks/$NEW" -H "Authorization: Bearer $(cat "$WORK/key0")"
  ! curl -s "http://127.0.0.1:$API_PORT/sip/list" -H "Authorization: Bearer $(cat "$WORK/key0")" | grep -q "$NEW" \
    || { echo "instance 1 still lists $NEW, just deleted through instance 2" >&2; exit 1; }
  echo "read-after-write across the two instances: create on 1 listed by 2, delete on 2 gone from 1"
fi
uptime
LIST=$(profiled_load --label list --url "$LIST_URL" --keys-file "$WORK/key0" --connections "$CONNECTIONS" --duration "$DURATION")
BARE_T0=$(ticks "$BARE_PID")
BARE=$("$LOAD" --label bare --url "http://127.0.0.1:$BARE_PORT/sip/list" --connections "$CONNECTIONS" --duration "$DURATION")
BARE=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r["profile"] = {"serve_us": 1e6 * (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]) / max(r["requests"], 1)}
print(json.dumps(r))' "$BARE" "$BARE_T0" "$(ticks "$BARE_PID")" "$(getconf CLK_TCK)")
LIST_1K=$("$LOAD" --label list@1000 --url "$LIST_URL" --keys-file "$WORK/key0" --connections 16 --rate 1000 --duration "$DURATION")
BARE_1K=$("$LOAD" --label bare@1000 --url "http://127.0.0.1:$BARE_PORT/sip/list" --connections 16 --rate 1000 --duration "$DURATION")
BARE_POST=$("$LOAD" --label bare-post --url "http://127.0.0.1:$BARE_PORT/x" --method POST --body-file "$WORK/create.json" --connections 8 --duration "$DURATION")

# The alternative designs, in the same run: the key and generation read from the database for
# every request, concurrent requests sharing each query (coalesced), or each request on its
# own (per-request), instead of answered from memory that other instances' writes drop.
ALTS="[]"
if [[ "$INSTANCES" == 2 ]]; then
  for mode in coalesced per-request; do
    stop_instances
    start_instances TRUNKLINE_SHARED_READS=$mode
    A=$(profiled_load --label "list-$mode" --url "$LIST_URL" --keys-file "$WORK/key0" --connections "$CONNECTIONS" --duration "$DURATION")
    BARE_AGAIN=$("$LOAD" --label bare-again --url "http://127.0.0.1:$BARE_PORT/sip/list" --connections "$CONNECTIONS" --duration "$DURATION")
    ALTS=$(python3 -c 'import json,sys; l=json.loads(sys.argv[1]); a=json.loads(sys.argv[2]); a["mode"]=sys.argv[4]; a["bare_again"]=json.loads(sys.argv[3]); print(json.dumps(l+[a]))' "$ALTS" "$A" "$BARE_AGAIN" "$mode")
  done
fi

uptime
for r in "$CREATE" "$LIST" "$BARE" "$LIST_1K" "$BARE_1K" "$BARE_POST" "$ALTS"; do echo "$r"; done
python3 - "$CREATE" "$LIST" "$BARE" "$LIST_1K" "$BARE_POST" "$INSTANCES" "$ALTS" <<'PY'
import json, sys
create, lst, bare, lst1k, bare_post = (json.loads(a) for a in sys.argv[1:6])
instances = int(sys.argv[6])
alts = json.loads(sys.argv[7])
for r in [create, lst, bare, lst1k, bare_post] + alts:
    if r["errors"] or r["non2xx"]:
        sys.exit(f"{r['label']}: {r['errors']} transport errors, {r['non2xx']} non-2xx answers")
ratio = lst["rps"] / bare["rps"]
def profile(r):
    p = r["profile"]
    db = f", PostgreSQL {p['postgres_us']:.1f} µs CPU and {p['queries']:.3f} queries" if instances == 2 else ""
    return f"per request: serve {p['serve_us']:.1f} µs CPU{db}"
print(f"GET /sip/list (100 of 10,000 trunks, {instances} instance(s)): {lst['rps']:.0f} req/s, p99 {lst['p99_ms']:.2f} ms; {profile(lst)}")
print(f"bare axum handler, same bytes:        {bare['rps']:.0f} req/s, p99 {bare['p99_ms']:.2f} ms; per request: {bare['profile']['serve_us']:.1f} µs CPU")
print(f"ratio list/bare: {ratio:.2f}  (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
if instances == 2:
    print("  (TRUNKLINE_SHARED_READS=notified: keys answered from memory under a lease, writes acknowledged once every instance dropped what they change)")
for alt in alts:
    alt_ratio = alt["rps"] / alt["bare_again"]["rps"]
    print(f"alternative TRUNKLINE_SHARED_READS={alt['mode']} (key and generation read from the database per request"
          f"{', concurrent requests sharing each query' if alt['mode'] == 'coalesced' else ''}): "
          f"{alt['rps']:.0f} req/s, p99 {alt['p99_ms']:.2f} ms; {profile(alt)}; bare again {alt['bare_again']['rps']:.0f} req/s; "
          f"ratio {alt_ratio:.2f} (notified: {ratio:.2f})")
print(f"GET /sip/list at 1,000 req/s: p50 {lst1k['p50_ms']:.2f} ms, p99 {lst1k['p99_ms']:.2f} ms  (goal p99 < 5 ms: {'met' if lst1k['p99_ms'] < 5 else 'NOT met'})")
print(f"POST create-outbound-trunk (LiveKit double, 8 clients): {create['rps']:.0f} req/s, p99 {create['p99_ms']:.2f} ms; "
      f"bare POST {bare_post['rps']:.0f} req/s; ratio {create['rps'] / bare_post['rps']:.3f}")
PY
