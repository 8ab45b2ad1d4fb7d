#!/usr/bin/env bash
# Real third-party clients against linetime-dataplane.
#
#   dataplane_clients.sh [af_packet|af_xdp]      (root; LT_BUILD=build dir)
#
# linetime-publish-local serves the local clock at stratum 10; the dataplane
# answers on 198.18.0.1 and fd00:198:18::1 over one end of a veth pair, with a
# TAP exception interface whose kernel side also carries 198.18.0.1. From the
# client namespace: ntpdig (IPv4 and IPv6), ntpdate, chronyd -Q (basic and
# interleaved mode), ping, ping -6,
# arping, and a TCP fetch that only the kernel behind the TAP can answer. At the
# end the dataplane's final counters must show what the clients did.
#
# The client and the dataplane share the CPUs with whatever else runs, so one
# NTP sample can be hit by a scheduling delay of milliseconds. Each NTP check
# therefore does what NTP clients do and keeps the sample with the smallest
# synchronization distance (delay/2 + dispersion), collecting a bounded number
# of samples, and asserts |offset| < 1 ms on that one.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${1:-af_packet}
case "$MODE" in
  af_packet|af_xdp) ;;
  *) echo "usage: $0 [af_packet|af_xdp]" >&2; exit 2 ;;
esac

STRATUM=10
OFFSET_LIMIT=0.001   # seconds
NTP_SAMPLES=8        # per ntpdig run; ntpdate runs at least this many
HTTP_PORT=8123
T0=$SECONDS

lt_setup
lt_require_tools ntpdig ntpdate chronyd ping arping ss
[ "$MODE" = af_xdp ] && lt_require_af_xdp
lt_make_net
lt_log "test $LT_ID: $MODE, namespaces $LT_NS_SRV/$LT_NS_CLI, veth $LT_IF_SRV/$LT_IF_CLI, tap $LT_IF_TAP, shm $LT_SHM"

# Upper bounds only: the test stops the dataplane itself well before.
lt_start_publisher "$STRATUM" 150
lt_start_dataplane "$MODE" 140 --address "$LT_V4_SRV" --address "$LT_V6_SRV" --tap "$LT_IF_TAP" --stats 0.5
if lt_wait_for 10 grep -q "answering at stratum $STRATUM" "$LT_DP_LOG"; then
  lt_pass dataplane-synchronized "'answering at stratum $STRATUM' in the dataplane's log"
else
  lt_fail dataplane-synchronized "no 'answering at stratum $STRATUM' within 10 s"
  lt_show "$LT_DP_LOG"
fi

# --- the exception interface ----------------------------------------------------
# The server kernel's side of the TAP carries the server's IPv4 address, as in
# a deployment, before any client speaks: the dataplane alone must answer ARP,
# ping and NTP (no duplicates), and hand TCP to the kernel. The kernel drops
# frames not addressed to its own MAC, so the dataplane must have given the TAP
# the data port's MAC.
tap_mac=$(ip -n "$LT_NS_SRV" -o link show "$LT_IF_TAP" 2>/dev/null | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[ "$tap_mac" = "$LT_DP_MAC" ]
lt_check tap-has-data-mac $? "$LT_IF_TAP: MAC ${tap_mac:-none}, data port $LT_DP_MAC"
lt_sysctl "$LT_NS_SRV" "net/ipv6/conf/$LT_IF_TAP/disable_ipv6" 1 &&
  ip -n "$LT_NS_SRV" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP" &&
  ip -n "$LT_NS_SRV" link set "$LT_IF_TAP" up
lt_check tap-configured $? "$LT_IF_TAP: $LT_V4_SRV/$LT_V4_LEN"

C=$LT_NS_CLI
OUT=$LT_TMP

# --- ntpdig and ntpdate: the best sample -----------------------------------------
# A sample is as good as its synchronization distance (delay/2 + dispersion):
# a scheduling delay on either side inflates the delay and moves the offset by
# up to half of it. Like ntpdate of old, keep the sample with the smallest
# distance; collect (bounded) until one has a distance below half the offset
# limit, so the assertion is about the server's time, not this machine's load.
GOOD_DIST=$(awk -v l="$OFFSET_LIMIT" 'BEGIN { print l / 2 }')
MAX_ROUNDS=4         # ntpdig runs of $NTP_SAMPLES samples; ntpdate runs: x $NTP_SAMPLES

# best_of FILE : "offset distance stratum leap adjusted" of the sample with the
# smallest distance among FILE's lines of the same form.
best_of() {
  sort -g -k 2,2 "$1" | head -n 1
}
# is_good DIST
is_good() { awk -v d="$1" -v g="$GOOD_DIST" 'BEGIN { exit !(d + 0 < g + 0) }'; }

# check_ntp NAME SAMPLES_FILE RUNS ANSWERED_RUNS SAMPLES_PER_LINE
check_ntp() {
  local name=$1 samples=$2 runs=$3 answered=$4 per=$5 offset dist stratum leap adjusted n
  n=$(wc -l <"$samples")
  [ "$answered" -eq "$runs" ]
  lt_check "$name-answered" $? "$answered of $runs runs answered"
  if [ "$n" -eq 0 ]; then
    lt_fail "$name-offset" "no sample to judge"
    return
  fi
  read -r offset dist stratum leap adjusted <<<"$(best_of "$samples")"
  [ "$stratum" = "$STRATUM" ]
  lt_check "$name-stratum" $? "stratum=$stratum (published $STRATUM)"
  [ "$leap" = no-leap ]
  lt_check "$name-leap" $? "leap=$leap"
  lt_abs_below "$offset" "$OFFSET_LIMIT"
  lt_check "$name-offset" $? "offset=${offset}s sync-distance=${dist}s (best of $((n * per)), limit ${OFFSET_LIMIT}s)"
  if [ -n "$adjusted" ]; then
    [ "$adjusted" = false ]
    lt_check "$name-no-adjust" $? "adjusted=$adjusted"
  fi
  is_good "$dist" || lt_log "    note: no sample had a distance below ${GOOD_DIST}s in $runs runs: the machine is loaded"
}

# ntpdig -j prints the best of its -p samples as one JSON line.
# ntpdig_samples NAME ADDRESS [options]
ntpdig_samples() {
  local name=$1 addr=$2 r out answered=0
  shift 2
  local samples=$OUT/$name.samples
  : >"$samples"
  for ((r = 1; r <= MAX_ROUNDS; r++)); do
    out=$OUT/$name-$r.out
    lt_run 30 "$out" "$C" ntpdig -j -t 2 -p "$NTP_SAMPLES" -g 50 "$@" "$addr"
    python3 - "$out" >>"$samples" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        j = json.loads(line)
        print("%+.6f %.6f %s %s %s" % (j["offset"], j["precision"], j["stratum"], j["leap"], str(j["adjusted"]).lower()))
        break
PY
    if [ "$(wc -l <"$samples")" -gt "$answered" ]; then answered=$((answered + 1)); else lt_show "$out"; fi
    [ "$answered" -gt 0 ] && is_good "$(best_of "$samples" | awk '{ print $2 }')" && break
  done
  check_ntp "$name" "$samples" "$((r > MAX_ROUNDS ? MAX_ROUNDS : r))" "$answered" "$NTP_SAMPLES"
}
ntpdig_samples ntpdig-ipv4 "$LT_V4_SRV"
ntpdig_samples ntpdig-ipv6 "$LT_V6_SRV" -6

# The ntpsec ntpdate shim takes one sample per run and prints
#   2026-11-21 15:17:06.945048 (+0000) -0.002419 +/- 0.002632 198.18.0.1 s10 no-leap
# Run it at least $NTP_SAMPLES times (classic ntpdate took 4 samples).
samples=$OUT/ntpdate.samples
: >"$samples"
answered=0
for ((r = 1; r <= MAX_ROUNDS * NTP_SAMPLES; r++)); do
  out=$OUT/ntpdate-$r.out
  lt_run 10 "$out" "$C" ntpdate -q "$LT_V4_SRV"
  if awk -v a="$LT_V4_SRV" '$5 == "+/-" && $7 == a { sub(/^s/, "", $8); print $4, $6, $8, $9; found = 1; exit }
                          END { exit !found }' "$out" >>"$samples"; then
    answered=$((answered + 1))
  else
    lt_show "$out"
  fi
  [ "$r" -ge "$NTP_SAMPLES" ] && [ "$answered" -gt 0 ] && is_good "$(best_of "$samples" | awk '{ print $2 }')" && break
done
check_ntp ntpdate "$samples" "$((r > MAX_ROUNDS * NTP_SAMPLES ? MAX_ROUNDS * NTP_SAMPLES : r))" "$answered" 1

# --- chronyd -Q: query only, never sets the clock ------------------------------
# Its own configuration only (no system file), a private pid file, no command
# socket, no NTP server port.
chrony_conf=$OUT/chrony.conf
cat >"$chrony_conf" <<EOF
server $LT_V4_SRV iburst maxsamples 4
pidfile $OUT/chronyd.pid
cmdport 0
port 0
EOF
out=$OUT/chronyd.out
lt_run 40 "$out" "$C" chronyd -Q -f "$chrony_conf" -u root -L 0
rc=$?
offset=$(sed -n 's/.*System clock wrong by \([-+0-9.e]*\) seconds.*/\1/p' "$out" | tail -n 1)
if [ "$rc" -eq 0 ] && [ -n "$offset" ]; then
  lt_abs_below "$offset" "$OFFSET_LIMIT"
  lt_check chronyd-offset $? "offset=${offset}s (chronyd -Q after its iburst samples, limit ${OFFSET_LIMIT}s; clock not set)"
else
  lt_fail chronyd-offset "no offset printed (exit $rc)"
  lt_show "$out"
fi
grep -q "Disabled control of system clock" "$out"
lt_check chronyd-query-only $? "'Disabled control of system clock' in chronyd's log"

# --- chronyd -Q in interleaved mode (xleave) -------------------------------------
# From its third request on, the client echoes the receive timestamp of the
# dataplane's previous answer and must get that answer's precise (post-send)
# transmit time. chronyd's measurements log marks each measurement's mode in
# its last columns: "4I" interleaved, "4B" basic.
xleave_conf=$OUT/chrony-xleave.conf
mkdir -p "$OUT/chrony-xleave"
cat >"$xleave_conf" <<EOF
server $LT_V4_SRV iburst xleave maxsamples 6
pidfile $OUT/chronyd-xleave.pid
cmdport 0
port 0
logdir $OUT/chrony-xleave
log measurements
EOF
out=$OUT/chronyd-xleave.out
lt_run 40 "$out" "$C" chronyd -Q -f "$xleave_conf" -u root -L 0
rc=$?
measurements=$OUT/chrony-xleave/measurements.log
# mode_counts: "4B=2 4I=4" from the measurement lines (the ones with a time).
mode_counts() {
  awk '$2 ~ /^[0-9][0-9]:/ { for (i = NF; i > NF - 4 && i > 0; i--) if ($i ~ /^4[BI]$/) { n[$i]++; break } }
       END { for (m in n) printf "%s=%d ", m, n[m] }' "$measurements" 2>/dev/null
}
modes=$(mode_counts)
interleaved=$(printf '%s\n' "$modes" | tr ' ' '\n' | sed -n 's/^4I=//p')
[ "$rc" -eq 0 ] && [ "${interleaved:-0}" -ge 1 ]
lt_check chronyd-xleave-interleaved $? "measurements by mode: ${modes:-none}(want at least one 4I), exit $rc"
if [ "${interleaved:-0}" -lt 1 ]; then lt_show "$out"; lt_show "$measurements"; fi
offset=$(sed -n 's/.*System clock wrong by \([-+0-9.e]*\) seconds.*/\1/p' "$out" | tail -n 1)
if [ -n "$offset" ]; then
  lt_abs_below "$offset" "$OFFSET_LIMIT"
  lt_check chronyd-xleave-offset $? "offset=${offset}s (interleaved measurements, limit ${OFFSET_LIMIT}s; clock not set)"
else
  lt_fail chronyd-xleave-offset "no offset printed (exit $rc)"
fi

# --- ping, ping -6 ---------------------------------------------------------------
# check_ping NAME COUNT ADDRESS [options]: all answered, no duplicates (which
# would mean the server kernel answered too).
check_ping() {
  local name=$1 count=$2 addr=$3
  shift 3
  local out=$OUT/$name.out
  lt_run 20 "$out" "$C" ping "$@" -c "$count" -i 0.3 -W 2 "$addr"
  local rx dup
  rx=$(sed -n 's/.* transmitted, \([0-9]*\) received.*/\1/p' "$out")
  dup=$(sed -n 's/.*+\([0-9]*\) duplicates.*/\1/p' "$out")
  [ "${rx:-0}" -eq "$count" ] && [ -z "$dup" ]
  lt_check "$name" $? "${rx:-0} of $count answered, ${dup:-0} duplicates"
  [ "${rx:-0}" -eq "$count" ] || lt_show "$out"
}
check_ping ping-ipv4 3 "$LT_V4_SRV"
check_ping ping-ipv6 2 "$LT_V6_SRV" -6

# --- arping ----------------------------------------------------------------------
# Thomas Habets' arping takes -i for the interface, iputils' arping -I.
out=$OUT/arping.out
if arping --help 2>&1 | grep -q Habets; then
  lt_run 15 "$out" "$C" arping -d -c 2 -W 0.5 -w 5 -i "$LT_IF_CLI" "$LT_V4_SRV"
else
  lt_run 15 "$out" "$C" arping -c 2 -w 5 -I "$LT_IF_CLI" "$LT_V4_SRV"
fi
rc=$?
replies=$(grep -ci "bytes from\|reply from" "$out")
macs=$(grep -io "[0-9a-f]\{2\}\(:[0-9a-f]\{2\}\)\{5\}" "$out" | tr 'A-F' 'a-f' | sort -u | tr '\n' ' ')
macs=${macs% }
[ "$rc" -eq 0 ] && [ "$replies" -ge 2 ] && [ "$macs" = "$LT_DP_MAC" ]
lt_check arping $? "$replies replies from ${macs:-nobody} (dataplane MAC $LT_DP_MAC), exit $rc"
[ "$rc" -eq 0 ] || lt_show "$out"

# --- TCP through the exception path ------------------------------------------
# Client -> dataplane -> TAP -> server kernel (python http.server on the
# server's address) -> TAP -> dataplane -> client.
token=linetime-it-$LT_ID-$RANDOM
mkdir -p "$OUT/www"
echo "$token" >"$OUT/www/token.txt"
lt_bg http "$LT_NS_SRV" python3 -m http.server --bind "$LT_V4_SRV" --directory "$OUT/www" "$HTTP_PORT"
lt_wait_for 10 sh -c "ip netns exec $LT_NS_SRV ss -ltn | grep -q '$LT_V4_SRV:$HTTP_PORT'"
# (A file, not a here-document: a background command's stdin is /dev/null.)
cat >"$OUT/fetch.py" <<'PY'
import sys, time, urllib.request
last = None
for attempt in range(5):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=4) as r:
            print(r.read().decode().strip())
            sys.exit(0)
    except Exception as e:
        last = e
        time.sleep(0.5)
print("error:", last)
sys.exit(1)
PY
before=$(lt_counters_now)
out=$OUT/tcp.out
lt_run 30 "$out" "$C" python3 "$OUT/fetch.py" "http://$LT_V4_SRV:$HTTP_PORT/token.txt"
rc=$?
got=$(head -n 1 "$out")
[ "$rc" -eq 0 ] && [ "$got" = "$token" ]
lt_check tcp-via-tap $? "GET http://$LT_V4_SRV:$HTTP_PORT/token.txt -> '$got' (expected '$token')"
[ "$got" = "$token" ] || { lt_show "$out"; lt_show "$OUT/http.log"; }
# That the segments really took the TAP both ways, not a shortcut through the
# server kernel's own veth: the dataplane's exception counters during the fetch
# (a TCP handshake, request, answer and close are several frames each way).
after=$(lt_counters_now)
d_exc=$(( $(lt_counter_in "$after" exception) - $(lt_counter_in "$before" exception) ))
d_krn=$(( $(lt_counter_in "$after" exception-from-kernel) - $(lt_counter_in "$before" exception-from-kernel) ))
[ -n "$before" ] && [ -n "$after" ] && [ "$d_exc" -ge 4 ] && [ "$d_krn" -ge 4 ]
lt_check tcp-via-tap-counted $? "during the fetch: exception +$d_exc (to the kernel), exception-from-kernel +$d_krn (want >= 4 each)"

# --- the dataplane's own account -------------------------------------------------
lt_stop_dataplane
counters=$(sed -n 's/.*final counters: *//p' "$LT_DP_LOG" | tail -n 1)
if [ -z "$counters" ]; then
  lt_fail final-counters "no 'final counters:' line"
  lt_show "$LT_DP_LOG"
else
  lt_log "final counters: $counters"
  # At least one per NTP sample above (chronyd sends more).
  min_answered=$((3 * NTP_SAMPLES))
  for spec in "answered:$min_answered" answered-interleaved:1 tx-timestamp-hit:2 arp-replied:1 icmp-echo-replied:3 icmpv6-echo-replied:2 nd-advertised:1 \
              exception:1 exception-from-kernel:1; do
    name=${spec%%:*}
    min=${spec##*:}
    v=$(lt_counter "$name")
    [ "$v" -ge "$min" ]
    lt_check "counter-$name" $? "$name=$v (want >= $min)"
  done
  v=$(lt_counter answered-unsync)
  [ "$v" -eq 0 ]
  lt_check counter-answered-unsync $? "answered-unsync=$v (want 0: the control was publishing)"
fi

lt_log "runtime: $((SECONDS - T0)) s"
lt_finish
