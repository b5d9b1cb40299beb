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
TRUNKLINE_LISTEN="127.0.0.1:$API_PORT" "$BIN/trunkline" serve 2>"$WORK/serve.log" & PIDS+=($!)
wait_http "http://127.0.0.1:$API_PORT/health"
LIST_URL="http://127.0.0.1:$API_PORT/sip/list"
INSTANCES=1
if [[ -n "$SCRATCH_DB" ]]; then
  TRUNKLINE_LISTEN="127.0.0.1:$API2_PORT" "$BIN/trunkline" serve 2>"$WORK/serve2.log" & PIDS+=($!)
  wait_http "http://127.0.0.1:$API2_PORT/health"
  LIST_URL="$LIST_URL,http://127.0.0.1:$API2_PORT/sip/list"
  INSTANCES=2
fi
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
"$BIN/bench-bare" --listen "127.0.0.1:$BARE_PORT" --body-file "$WORK/list.json" >/dev/null & PIDS+=($!)
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
LIST=$("$LOAD" --label list --url "$LIST_URL" --keys-file "$WORK/key0" --connections "$CONNECTIONS" --duration "$DURATION")
BARE=$("$LOAD" --label bare --url "http://127.0.0.1:$BARE_PORT/sip/list" --connections "$CONNECTIONS" --duration "$DURATION")
LIST_1K=$("$LOAD" --label list@1000 --url "$LIST_URL" --keys-file "$WORK/key0" --connections 16 --rate 1000 --duration "$DURATION")
BARE_1K=$("$LOAD" --label bare@1000 --url "http://127.0.0.1:$BARE_PORT/sip/list" --connections 16 --rate 1000 --duration "$DURATION")
BARE_POST=$("$LOAD" --label bare-post --url "http://127.0.0.1:$BARE_PORT/x" --method POST --body-file "$WORK/create.json" --connections 8 --duration "$DURATION")

uptime
for r in "$CREATE" "$LIST" "$BARE" "$LIST_1K" "$BARE_1K" "$BARE_POST"; do echo "$r"; done
python3 - "$CREATE" "$LIST" "$BARE" "$LIST_1K" "$BARE_POST" "$INSTANCES" <<'PY'
import json, sys
create, lst, bare, lst1k, bare_post = (json.loads(a) for a in sys.argv[1:6])
instances = int(sys.argv[6])
for r in (create, lst, bare, lst1k, bare_post):
    if r["errors"] or r["non2xx"]:
        sys.exit(f"{r['label']}: {r['errors']} transport errors, {r['non2xx']} non-2xx answers")
ratio = lst["rps"] / bare["rps"]
print(f"GET /sip/list (100 of 10,000 trunks, {instances} instance(s)): {lst['rps']:.0f} req/s, p99 {lst['p99_ms']:.2f} ms")
print(f"bare axum handler, same bytes:        {bare['rps']:.0f} req/s, p99 {bare['p99_ms']:.2f} ms")
print(f"ratio list/bare: {ratio:.2f}  (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
print(f"GET /sip/list at 1,000 req/s: p50 {lst1k['p50_ms']:.2f} ms, p99 {lst1k['p99_ms']:.2f} ms  (goal p99 < 5 ms: {'met' if lst1k['p99_ms'] < 5 else 'NOT met'})")
print(f"POST create-outbound-trunk (LiveKit double, 8 clients): {create['rps']:.0f} req/s, p99 {create['p99_ms']:.2f} ms; "
      f"bare POST {bare_post['rps']:.0f} req/s; ratio {create['rps'] / bare_post['rps']:.3f}")
PY
