#!/usr/bin/env bash
# bench/dispatch.sh: outbound call dispatch (issue 3), measured in one run on this machine.
#
#   1. Reference: CreateSIPParticipant sent straight at the LiveKit double (zero latency,
#      every call answered at once) by one client: the ceiling here.
#   2. Dispatch: N calls queued through POST /call/outbound while their trunk is held, then
#      released at 1,000 calls/s: calls dialed per second by trunkline's dispatcher (claim,
#      CreateRoom, CreateDispatch, CreateSIPParticipant, status writes), and the ratio to 1.
#   3. Pacing: a trunk limited to 10 calls/s, measured over 30 s of steady state.
#
# Goals: dispatch >= 500 calls/s; pacing within ±5%.
# Usage: bench/dispatch.sh [--database-url postgres://…/db] (default: a fresh SQLite file).
# With PostgreSQL a scratch database is created and dropped; the named one only connects.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL_ARG=""
if [[ "${1:-}" == "--database-url" ]]; then DATABASE_URL_ARG="$2"; fi

cargo build --release -q -p trunkline -p trunkline-bench
WORK=$(mktemp -d)
SCRATCH_DB=""
cleanup() {
  if [[ -n "$SCRATCH_DB" ]]; then psql "$DATABASE_URL_ARG" -qc "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Thousands of calls queued by one tenant: past the default per-tenant quotas.
export TRUNKLINE_QUOTA_QUEUED_CALLS=1000000 TRUNKLINE_QUOTA_TRUNKS=1000000 TRUNKLINE_QUOTA_ASSISTANTS=1000000

DB_ARGS=()
if [[ "$DATABASE_URL_ARG" == postgres* ]]; then
  SCRATCH_DB="tl_bench_dispatch_$$"
  psql "$DATABASE_URL_ARG" -qc "CREATE DATABASE $SCRATCH_DB" >/dev/null
  DB_ARGS=(--database-url "${DATABASE_URL_ARG%/*}/$SCRATCH_DB")
  export TRUNKLINE_MASTER_KEY=$(python3 -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())')
fi

target/release/bench-dispatch --trunkline "$PWD/target/release/trunkline" --work "$WORK" \
  --calls "${BENCH_CALLS:-5000}" --pacing-secs "${BENCH_PACING_SECS:-30}" "${DB_ARGS[@]}"
