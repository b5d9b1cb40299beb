#!/usr/bin/env bash
# bench/sip_calls.sh: SIP calls per second through the Exotel bridge, next to Kamailio, on the
# same SIPp scenario, measured in this run on this machine (issue 4 item 6, signalling half).
#
#   SIPp UAC ("LiveKit", UDP) --> bridge or Kamailio --> SIPp UAS ("Exotel", TCP)
#
# Each call: INVITE, 401 and an authenticated INVITE, 100/180/200, ACK, a hold of
# BENCH_SIP_HOLD_MS, BYE/200 (crates/sip/tests/scenarios/bridge_lk_call.xml and
# bridge_exo_answer.xml, the interop tests' scenarios). Through the bridge, the bridge itself
# challenges and checks LiveKit's digest, places a new call to Exotel over a new TCP connection,
# answers Exotel's challenge (which SIPp checks with verifyauth), opens an RTP relay session per
# call (four sockets; no RTP is sent here, bench/sip.sh measures the relay) and rewrites SDP.
# Through Kamailio (tm + sl + rr, t_relay() to the UAS over TCP, record-routed), the same
# 401 exchange passes end to end: Kamailio itself authenticates nothing.
#
# For each, the offered rate R ramps (BENCH_SIP_RATES) for BENCH_SIP_SECS seconds per step until
# a step fails (a failed call, or SIPp not reaching 95% of R); the figure is the highest
# completed calls/s of a step with no failed call. Then the ratio bridge / Kamailio
# (goal: >= 100%, no failed calls).
#
# Usage: bench/sip_calls.sh
#   BENCH_SIP_SECS (20), BENCH_SIP_HOLD_MS (500), BENCH_SIP_RATES ("100 200 300 ..."),
#   BENCH_SIP_MEDIA (rtp|none: the bridge's media relay, default rtp)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${BENCH_SIP_SECS:-20}"
HOLD_MS="${BENCH_SIP_HOLD_MS:-500}"
RATES="${BENCH_SIP_RATES:-100 200 400 600 800 1000 1200 1500 2000 2500 3000 4000}"
MEDIA="${BENCH_SIP_MEDIA:-rtp}"
SCEN=crates/sip/tests/scenarios

for tool in sipp kamailio; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install sip-tester kamailio)" >&2; exit 1; }
done

cargo build --release -q -p trunkline-bench --bin bench-sip
BENCH=target/release/bench-sip

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A column of SIPp's statistics CSV (-trace_stat), last line.
stat() { # file column
  awk -F';' -v col="$2" 'NR==1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    { v = $c } END { print v + 0 }' "$1"
}

# One step: SIPp UAS on $1 (fresh port), UAC at rate $2 toward $3 with digest user $4/$5.
# Prints "ok|fail completed_per_s successful failed offered_achieved".
run_step() {
  local name=$1 rate=$2 target=$3 user=$4 pass=$5 uas_port=$6
  # The bridge checks that the digest uri is the Request-URI (RFC 3261 §22.4); SIPp's default
  # is sip:<remote host:port>. Through Kamailio the UAS checks nothing of the kind.
  local auth_uri=()
  if [ "$name" = bridge ]; then auth_uri=(-auth_uri "+919876543210@$target"); fi
  local calls=$((rate * SECS)) dir="$WORK/$name-$rate"
  local limit=$((rate * (HOLD_MS / 1000 + 5) + 100))
  mkdir -p "$dir"
  local ports media_uas media_uac uac_port
  mapfile -t ports < <($BENCH free-ports 3)
  media_uas=${ports[0]} media_uac=${ports[1]} uac_port=${ports[2]}
  (cd "$dir" && exec sipp -sf "$OLDPWD/$SCEN/bridge_exo_answer.xml" -i 127.0.0.1 -mi 127.0.0.1 \
     -p "$uas_port" -t t1 -mp "$media_uas" -m "$calls" -nostdin -timeout "$((SECS + 60))s" \
     -timeout_error -max_socket 60000 -trace_err -error_file uas_err.log \
     -trace_stat -stf uas_stat.csv -fd 1 >/dev/null 2>uas_stderr.log) &
  local uas=$!
  PIDS+=("$uas")
  $BENCH wait-listen "$uas_port" tcp 10
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$dir" && exec sipp "$target" -sf "$OLDPWD/$SCEN/bridge_lk_call.xml" -i 127.0.0.1 -mi 127.0.0.1 \
     -p "$uac_port" -t u1 -mp "$media_uac" -au "$user" -ap "$pass" "${auth_uri[@]}" -r "$rate" -m "$calls" \
     -l "$limit" -d "$HOLD_MS" -nostdin -timeout "$((SECS + 60))s" -timeout_error \
     -trace_err -error_file uac_err.log -trace_stat -stf uac_stat.csv -fd 1 \
     >/dev/null 2>uac_stderr.log) || true
  t1=$(date +%s.%N)
  wait "$uas" 2>/dev/null || true
  local ok failed
  ok=$(stat "$dir/uac_stat.csv" "SuccessfulCall(C)")
  failed=$(stat "$dir/uac_stat.csv" "FailedCall(C)")
  # Calls are started over SECS; the last ones end a hold later.
  awk -v ok="$ok" -v failed="$failed" -v calls="$calls" -v rate="$rate" -v t0="$t0" -v t1="$t1" \
    -v hold="$HOLD_MS" 'BEGIN {
      span = t1 - t0 - hold / 1000; if (span <= 0) span = 1
      cps = ok / span
      verdict = (failed == 0 && ok == calls && cps >= 0.95 * rate) ? "ok" : "fail"
      printf "%s %.1f %d %d\n", verdict, cps, ok, failed
    }'
}

# Ramps one system; prints the steps, sets BEST (calls/s) and BEST_RATE.
ramp() { # name target user pass uas_port
  local name=$1 target=$2 user=$3 pass=$4 uas_port=$5
  BEST=0
  BEST_RATE=0
  for rate in $RATES; do
    local verdict cps ok failed
    read -r verdict cps ok failed < <(run_step "$name" "$rate" "$target" "$user" "$pass" "$uas_port")
    printf '  %-8s offered %5d calls/s: %8.1f completed/s, %6d ok, %d failed  %s\n' \
      "$name" "$rate" "$cps" "$ok" "$failed" "$verdict"
    if [ "$verdict" != ok ]; then
      echo "    (SIPp logs of this step were in $WORK/$name-$rate)"
      grep -m 3 -h "Aborting\|Dead call" "$WORK/$name-$rate"/uac_err.log 2>/dev/null | cut -c1-240 | sed 's/^/    /' || true
      # (|| true: head closing the pipe early is no failure of the bench)
      if [ "$name" = bridge ]; then sort "$WORK/bridge.log" | uniq -c | sort -rn | head -3 | cut -c1-240 | sed 's/^/    /' || true; fi
      break
    fi
    BEST=$cps
    BEST_RATE=$rate
  done
}

mapfile -t PORTS < <($BENCH free-ports 2)
BRIDGE_PORT=${PORTS[0]} BRIDGE_EXO=${PORTS[1]}

echo "== SIP calls/s: SIPp UAC -> {bridge | Kamailio} -> SIPp UAS, ${SECS} s per step, hold ${HOLD_MS} ms"
echo "   machine: $(nproc) cores; sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1); $(kamailio -v | head -1)"

# --- the bridge (release build)
$BENCH bridge --listen "127.0.0.1:$BRIDGE_PORT" --exotel "127.0.0.1:$BRIDGE_EXO" --media "$MEDIA" \
  2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
$BENCH wait-listen "$BRIDGE_PORT" udp 10
echo "-- bridge (trunkline, media relay: $MEDIA; digest auth on both legs)"
ramp bridge "127.0.0.1:$BRIDGE_PORT" lkuser lkpass "$BRIDGE_EXO"
BRIDGE_BEST=$BEST
BRIDGE_BEST_RATE=$BEST_RATE
BRIDGE_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/$BRIDGE_PID/status" 2>/dev/null || echo 0)
kill "$BRIDGE_PID" 2>/dev/null || true
wait "$BRIDGE_PID" 2>/dev/null || true

# --- Kamailio: stateful t_relay, record-routed, to the same UAS scenario over TCP. Its ports
# are picked now: ones picked before the bridge's steps may since have gone to their sockets.
mapfile -t PORTS < <($BENCH free-ports 2)
KAM_PORT=${PORTS[0]} KAM_EXO=${PORTS[1]}
MODS=$(dirname "$(find /usr/lib -name tm.so -path '*kamailio*' -print -quit)")
cat >"$WORK/kamailio.cfg" <<EOF
#!KAMAILIO
debug=0
log_stderror=yes
children=2
tcp_children=2
listen=udp:127.0.0.1:$KAM_PORT
listen=tcp:127.0.0.1:$KAM_PORT
tcp_max_connections=60000
mpath="$MODS/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "maxfwd.so"

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  t_check_trans();
  if (is_method("INVITE")) { record_route(); }
  \$du = "sip:127.0.0.1:$KAM_EXO;transport=tcp";
  if (!t_relay()) { sl_reply_error(); }
  exit;
}
EOF
kamailio -f "$WORK/kamailio.cfg" -c >"$WORK/kamailio-check.log" 2>&1 || { cat "$WORK/kamailio-check.log"; exit 1; }
kamailio -f "$WORK/kamailio.cfg" -DD -E -m 2048 -M 64 -P "$WORK/kamailio.pid" 2>"$WORK/kamailio.log" &
KAM_PID=$!
PIDS+=("$KAM_PID")
$BENCH wait-listen "$KAM_PORT" udp 10 || { tail -20 "$WORK/kamailio.log"; exit 1; }
echo "-- Kamailio (tm + sl + rr, t_relay to the UAS over TCP; no auth of its own: the UAS's 401 passes end to end)"
ramp kamailio "127.0.0.1:$KAM_PORT" exouser exopass "$KAM_EXO"
KAM_BEST=$BEST
KAM_BEST_RATE=$BEST_RATE
kill "$KAM_PID" 2>/dev/null || true
wait "$KAM_PID" 2>/dev/null || true

echo "== result"
printf '  bridge:   %8.1f calls/s with no failed call (offered %d/s); peak RSS %d KiB\n' \
  "$BRIDGE_BEST" "$BRIDGE_BEST_RATE" "$BRIDGE_RSS"
printf '  kamailio: %8.1f calls/s with no failed call (offered %d/s)\n' "$KAM_BEST" "$KAM_BEST_RATE"
awk -v b="$BRIDGE_BEST" -v k="$KAM_BEST" 'BEGIN {
  if (k > 0) printf "  ratio bridge/kamailio: %.0f%% (goal >= 100%%)\n", 100 * b / k
  else print "  ratio: n/a (Kamailio completed no step)"
}'
echo "  note: the bridge authenticates LiveKit (digest) and answers Exotel's digest itself, with a"
echo "  new TCP connection and an RTP relay session per call; Kamailio relays the same messages"
echo "  and authenticates nothing. The rate cap may be SIPp's own (UAC, UAS and the system under"
echo "  test share $(nproc) cores): a step that fails by SIPp not keeping up counts as a failure."
