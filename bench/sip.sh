#!/usr/bin/env bash
# bench/sip.sh: the SIP bridge (issue 4, item 6), measured in one run on this machine.
#
#   RTP relay: N concurrent G.711 calls (default 1,000), 50 packets/s of 172 bytes (160 B
#   payload + 12 B RTP header) each way per call, for 20 s through trunkline's relay and then
#   20 s through rtpengine (Debian rtpengine-daemon, userspace forwarding, --table=-1, set up
#   over its ng control protocol as Kamailio does), each in its own process; trunkline's relay
#   on its own threads, one per core, as `trunkline bridge` runs it (RtpRelay::new), rtpengine
#   with two threads (--num-threads=2).
#   The reference is the same load sent socket to socket, in the same run. For each relay:
#   added latency p50/p99/p99.9 (the relay's minus the reference's), loss, cross-talk, CPU per
#   packet (utime+stime from /proc over its window), memory per call; then the ratios
#   trunkline/rtpengine, and a histogram of stalls (10 ms windows whose worst latency passed
#   2 ms) per phase, with how many of them canary calls (socket to socket, beside every phase)
#   shared: those are the machine's, the rest the relay's.
#   Goals: p99 added < 1 ms at 1,000 calls and no worse than rtpengine's, CPU per packet at most
#   rtpengine's, no loss.
#
#   SIP signalling (bench/sip_calls.sh): calls/s through the bridge and through Kamailio on the
#   same SIPp scenario, and their ratio.
#
# Usage: bench/sip.sh [--rtp-only] [bench-rtp options]
#   --calls N (1000), --secs S per relay (20), --ref-secs S (10), --rounds R (1: the relays
#   measured in turn R times), --no-rtpengine, --list-stalls (each stalled window with its
#   time), --relay-threads N (trunkline's relay threads; 0: one per core),
#   --relay-on-runtime W (trunkline's relay as tasks on a tokio runtime of W workers instead,
#   RtpRelay::on_runtime), --rtpengine-threads N, --relay-cpus 1 --gen-cpus 0 (pin the relays
#   and the generator);
#   target/release/bench-rtp --help lists them all. BENCH_RTP_CALLS, BENCH_RTP_SECS and
#   BENCH_RTP_REF_SECS set the first three too.
#   Nothing else should run meanwhile: the machine has two cores and the figures are only
#   compared within one run.
set -euo pipefail
cd "$(dirname "$0")/.."

RTP_ONLY=0
ARGS=()
for a in "$@"; do
  if [ "$a" = --rtp-only ]; then RTP_ONLY=1; else ARGS+=("$a"); fi
done

NO_ENGINE=0
for a in "${ARGS[@]}"; do [ "$a" = --no-rtpengine ] && NO_ENGINE=1; done
if [ "$NO_ENGINE" = 0 ] && ! command -v rtpengine >/dev/null; then
  echo "missing: rtpengine (apt-get install rtpengine-daemon; or --no-rtpengine)" >&2
  exit 1
fi

cargo build --release -q -p trunkline-bench --bin bench-rtp

# Four sockets per call in each relay.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== RTP relay: trunkline and rtpengine"
target/release/bench-rtp --calls "${BENCH_RTP_CALLS:-1000}" --secs "${BENCH_RTP_SECS:-20}" \
  --ref-secs "${BENCH_RTP_REF_SECS:-10}" --clk-tck "$(getconf CLK_TCK)" ${ARGS[@]+"${ARGS[@]}"}

[ "$RTP_ONLY" = 1 ] && exit 0
# SIP signalling: calls/s through the bridge with SIPp as LiveKit (UAC) and as Exotel (UAS),
# next to Kamailio (transaction-stateful t_relay) on the same scenario, in the same run.
# Goal: the bridge at >= 100% of Kamailio's rate, no failed calls.
echo "== SIP signalling"
bash bench/sip_calls.sh
