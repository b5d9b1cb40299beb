#!/usr/bin/env bash
# bench/sip.sh: the SIP bridge (issue 4, item 6), measured in one run on this machine.
#
#   RTP relay: N concurrent G.711 calls (1,000, then 2,000), 50 packets/s of 172 bytes (160 B
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
#   shared: those are the machine's, the rest the relay's. Where `perf` can attach (root, or
#   perf_event_paranoid <= 1), a short run at 1,000 calls counts system calls and context
#   switches per packet for each relay: counts, so unlike CPU time they do not move with the
#   machine's load. Then, unless --no-callgrind, both relays again under valgrind's callgrind
#   with 20 calls: user-space instructions per packet, the load-independent side of CPU per
#   packet.
#   Goals: p99 added < 1 ms at 1,000 calls and no worse than rtpengine's, CPU per packet at most
#   rtpengine's, no loss.
#
#   SIP signalling (bench/sip_calls.sh): calls/s through the bridge and through Kamailio on the
#   same SIPp scenario, and their ratio.
#
# Usage: bench/sip.sh [--rtp-only] [--no-callgrind] [bench-rtp options]
#   --calls N (default: a run at 1000, then one at 2000), --secs S per relay (20),
#   --ref-secs S (10), --rounds R (1: the relays measured in turn R times), --no-rtpengine, --list-stalls (each stalled window with its
#   time), --relay-threads N (trunkline's relay threads; 0: one per core),
#   --relay-on-runtime W (trunkline's relay as tasks on a tokio runtime of W workers instead,
#   RtpRelay::on_runtime), --rtpengine-threads N, --relay-cpus 1 --gen-cpus 0 (pin the relays
#   and the generator);
#   target/release/bench-rtp --help lists them all. BENCH_RTP_CALLS ("1000 2000": the
#   runs' call counts), BENCH_RTP_SECS and BENCH_RTP_REF_SECS set the first three too.
#   Nothing else should run meanwhile: the machine has two cores and the figures are only
#   compared within one run.
set -euo pipefail
cd "$(dirname "$0")/.."

RTP_ONLY=0
CALLGRIND=1
ARGS=()
for a in "$@"; do
  case "$a" in
    --rtp-only) RTP_ONLY=1 ;;
    --no-callgrind) CALLGRIND=0 ;;
    *) ARGS+=("$a") ;;
  esac
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

# The issue's two loads, one run each (--calls or BENCH_RTP_CALLS picks others).
CALL_COUNTS=(${BENCH_RTP_CALLS:-1000 2000})
for a in ${ARGS[@]+"${ARGS[@]}"}; do [ "$a" = --calls ] && CALL_COUNTS=(given); done
for calls in "${CALL_COUNTS[@]}"; do
  CALLS_ARG=()
  [ "$calls" = given ] || CALLS_ARG=(--calls "$calls")
  echo "== RTP relay: trunkline and rtpengine, ${calls/given/the given} calls; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  target/release/bench-rtp ${CALLS_ARG[@]+"${CALLS_ARG[@]}"} --secs "${BENCH_RTP_SECS:-20}" \
    --ref-secs "${BENCH_RTP_REF_SECS:-10}" --clk-tck "$(getconf CLK_TCK)" ${ARGS[@]+"${ARGS[@]}"}
done

# CPU per packet compared by counting rather than timing. First the kernel's side: system calls
# and context switches per packet of each relay (perf stat on software events; the tracepoint
# slows each system call a little, hence a run of its own whose latencies are not quoted).
if command -v perf >/dev/null; then
  echo "== RTP relay, kernel work per packet (perf stat, 1000 calls, 5 s each); load: $(cut -d' ' -f1-3 /proc/loadavg)"
  target/release/bench-rtp ${ARGS[@]+"${ARGS[@]}"} --calls 1000 --secs 5 --ref-secs 2 \
    --clk-tck "$(getconf CLK_TCK)" --count-kernel-work \
    | grep -E "RTP relay:|kernel work|trunkline/rtpengine|^  (trunkline|rtpengine) \(" || true
else
  echo "== RTP relay, kernel work per packet: skipped (perf is missing: apt-get install linux-perf)"
fi
# Then the user-space side: user-space instructions per packet
# of each relay under callgrind (20 calls: valgrind runs a relay some 50 times slower, so only
# these counts of this run mean anything, not its latencies).
if [ "$CALLGRIND" = 1 ]; then
  if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
    CG_DIR=$(mktemp -d)
    echo "== RTP relay under callgrind: user-space instructions per packet (20 calls); load: $(cut -d' ' -f1-3 /proc/loadavg)"
    target/release/bench-rtp ${ARGS[@]+"${ARGS[@]}"} --calls 20 --secs 10 --ref-secs 3 \
      --clk-tck "$(getconf CLK_TCK)" --callgrind "$CG_DIR" \
      | grep -E "RTP relay:|instructions|trunkline/rtpengine|^  (trunkline|rtpengine) \(" || true
    rm -rf "$CG_DIR"
  else
    echo "== RTP relay under callgrind: skipped (apt-get install valgrind; or --no-callgrind)"
  fi
fi

[ "$RTP_ONLY" = 1 ] && exit 0
# SIP signalling: calls/s through the bridge with SIPp as LiveKit (UAC) and as Exotel (UAS),
# next to Kamailio (transaction-stateful t_relay) on the same scenario, in the same run.
# Goal: the bridge at >= 100% of Kamailio's rate, no failed calls.
echo "== SIP signalling"
bash bench/sip_calls.sh
