#!/usr/bin/env bash
# bench/sip.sh: the SIP bridge (issue 4, item 6), measured in one run on this machine.
#
#   RTP relay: N concurrent G.711 calls (default 1,000), 50 packets/s of 172 bytes (160 B
#   payload + 12 B RTP header) each way per call, through trunkline's relay for 20 s, with the
#   relay in its own process (`bench-rtp relay`). The reference is the same load sent socket
#   to socket, in the same run; added latency is the relay's p50/p99 minus the reference's.
#   Also: loss, cross-talk, relay CPU and RSS (from /proc) per call.
#   Goals: >= 1,000 concurrent calls on 2 cores, p99 added latency < 1 ms, no loss.
#
#   SIP signalling (bench/sip_calls.sh): calls/s through the bridge and through Kamailio on the
#   same SIPp scenario, and their ratio.
#
# Usage: bench/sip.sh [bench-rtp options, e.g. --relay-threads 0 for a current-thread relay,
#   --relay-cpus 1 --gen-cpus 0 to pin the two processes]
#   BENCH_RTP_CALLS, BENCH_RTP_SECS, BENCH_RTP_REF_SECS change the load; BENCH_RTP_STALLS=1 also
#   prints each 100 ms window whose worst latency passed 2 ms (a stall, not a steady delay).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p trunkline-bench --bin bench-rtp

# Four sockets per call in the relay.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== RTP relay"
target/release/bench-rtp --calls "${BENCH_RTP_CALLS:-1000}" --secs "${BENCH_RTP_SECS:-20}" \
  --ref-secs "${BENCH_RTP_REF_SECS:-10}" --clk-tck "$(getconf CLK_TCK)" "$@"

# SIP signalling: calls/s through the bridge with SIPp as LiveKit (UAC) and as Exotel (UAS),
# next to Kamailio (transaction-stateful t_relay) on the same scenario, in the same run.
# Goal: the bridge at >= 100% of Kamailio's rate, no failed calls.
echo "== SIP signalling"
bash bench/sip_calls.sh
