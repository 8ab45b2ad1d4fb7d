#!/usr/bin/env bash
# A spoofed-source flood against linetime-dataplane while a real client keeps
# asking for the time.
#
#   dataplane_spoof_flood.sh      (root; LT_BUILD=build dir)
#
# The dataplane answers on 198.18.0.1 (af_packet on a veth pair) under
#   restrict default limited kod nomodify notrap nopeer noquery
#   discard average 3 minimum 2
# twice: with a client table that holds every source of the flood, and with
# one of 1024 entries, four times fewer than the flood's sources.
# linetime-loadgen on the client end of the veth sends FLOOD_RATE requests/s
# for FLOOD_SECONDS from 4096 addresses of 198.19.0.0/20 (8 source ports
# each), as a spoofing attacker would: none of them can receive the answers.
# Meanwhile ntpdig from 198.18.0.2, limited by the same default rule, asks
# every 2 s. Checks, both times: every ntpdig request is answered during the
# flood; no more answers than requests (each answer no longer than its
# request: the responder's own invariant); the dataplane's final counters
# account for every frame it received. With the large table most of the flood
# is rate limited; with the small one the flood's entries evict each other, so
# its requests look new and are answered, and the legitimate client is never
# locked out (eviction without locks or failures).
LT_ID=${LT_ID:-sf$$}
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STRATUM=3
FLOOD_RATE=20000
FLOOD_SECONDS=5
T0=$SECONDS

lt_setup
lt_require_tools ntpdig
LOADGEN=$LT_BUILD/dataplane/linetime-loadgen
[ -x "$LOADGEN" ] || lt_skip "$LOADGEN is not built (set LT_BUILD to the build directory)"
lt_make_net
lt_log "test $LT_ID: namespaces $LT_NS_SRV/$LT_NS_CLI, veth $LT_IF_SRV/$LT_IF_CLI, shm $LT_SHM"
LT_DPDK_PREFIX=lt-$LT_ID-sf

C=$LT_NS_CLI
OUT=$LT_TMP
cat >"$OUT/restrict.conf" <<EOF
restrict default limited kod nomodify notrap nopeer noquery
discard average 3 minimum 2
EOF

# ntpdig_stratum NAME : one ntpdig query from 198.18.0.2; the answer's stratum or nothing.
ntpdig_stratum() { lt_ntpdig_stratum "$OUT/$1.out" "$C" "$LT_V4_SRV"; }

# The counters live in the shared memory and carry over from one dataplane to
# the next: each run counts from the previous run's final line.
base=""
delta() { echo $(( $(lt_counter "$1") - $(lt_counter_in "$base" "$1") )); }

# flood TAG CLIENTS : a dataplane with a client table of CLIENTS entries, the
# flood and the legitimate client's queries, and the checks.
flood() {
local tag=$1 clients=$2
[ -n "${LT_DP_LOG:-}" ] && base=$(grep 'final counters:' "$LT_DP_LOG" | tail -n 1)
lt_start_dataplane af_packet 80 --address "$LT_V4_SRV" --restrict-file "$OUT/restrict.conf" --clients "$clients"
if lt_wait_for 10 grep -q "answering at stratum $STRATUM" "$LT_DP_LOG"; then
  lt_pass "dataplane-synchronized-$tag" "'answering at stratum $STRATUM' in the dataplane's log"
else
  lt_fail "dataplane-synchronized-$tag" "no 'answering at stratum $STRATUM' within 10 s"
  lt_show "$LT_DP_LOG"
  lt_finish
fi

if [ "$(nproc)" -ge 2 ]; then lg_cpu=1; else lg_cpu=0; fi
json=$OUT/flood-$tag.json
lt_bg "flood-$tag" "$C" "$LOADGEN" --no-huge -m 128 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error \
  --log-level=pmd.net.af_packet:error --file-prefix "$LT_DPDK_PREFIX-lg-$tag" -l "$lg_cpu" \
  --vdev "net_af_packet0,iface=$LT_IF_CLI" \
  -- --dst-mac "$LT_DP_MAC" --dst "$LT_V4_SRV" --src 198.19.0.0/20 --src-ports 8 \
  --rate "$FLOOD_RATE" --duration "$FLOOD_SECONDS" --count $((FLOOD_RATE * FLOOD_SECONDS)) --drain 0.5 --json "$json"
FLOOD_PID=$LT_LAST_PID
sleep 1
asked=0
answered=0
while kill -0 "$FLOOD_PID" 2>/dev/null && [ "$asked" -lt 3 ]; do
  asked=$((asked + 1))
  s=$(ntpdig_stratum "legit-$tag-$asked")
  [ "$s" = "$STRATUM" ] && answered=$((answered + 1))
  sleep 2
done
for _ in $(seq 100); do kill -0 "$FLOOD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$FLOOD_PID" 2>/dev/null
[ "$asked" -ge 2 ] && [ "$answered" -eq "$asked" ]
lt_check "legit-answered-during-flood-$tag" $? "ntpdig from $LT_V4_CLI (limited like the flood): $answered of $asked answered while the flood ran"

if [ ! -s "$json" ]; then
  lt_fail "flood-report-$tag" "no JSON report from linetime-loadgen"
  lt_show "$OUT/flood-$tag.log"
  lt_finish
fi
step() { lt_json_step "$json" "$@"; }
sent=$(step sent)
received=$(step received)
lt_log "flood: sent=$sent received=$received ($(step answered) answers to the spoofed sources)"
[ "$sent" -ge $((FLOOD_RATE * FLOOD_SECONDS / 2)) ]
lt_check "flood-sent-$tag" $? "$sent spoofed requests from 4096 addresses x 8 ports (asked for $((FLOOD_RATE * FLOOD_SECONDS)))"

lt_stop_dataplane
counters=$(sed -n 's/.*final counters: *//p' "$LT_DP_LOG" | tail -n 1)
if [ -z "$counters" ]; then
  lt_fail "final-counters-$tag" "no 'final counters:' line"
  lt_show "$LT_DP_LOG"
  lt_finish
fi
lt_log "final counters ($tag): $counters"
rx=$(delta rx-frames)
tx=$(delta tx-frames)
ans=$(delta answered)
kod=$(delta answered-kod-rate)
lim=$(delta drop-rate-limited)
other=$(( $(delta arp-replied) + $(delta exception) + $(delta drop-not-for-us) ))
# Frames the kernel dropped before the dataplane saw them are not in rx-frames;
# every frame it saw is accounted for.
[ $((ans + kod + lim + other)) -eq "$rx" ]
lt_check "every-frame-accounted-$tag" $? "rx-frames $rx = answered $ans + KoD $kod + rate-limited $lim + other $other"
[ "$rx" -ge $((sent * 9 / 10)) ]
lt_check "flood-received-$tag" $? "the dataplane saw $rx frames of $sent sent (>= 90 %: af_packet may drop under load)"
[ "$tx" -le "$rx" ]
lt_check "no-amplification-count-$tag" $? "tx-frames $tx <= rx-frames $rx"
if [ "$tag" = fits ]; then
  # Every source stays in the table: after its first requests it is limited.
  [ "$lim" -ge $((rx / 2)) ]
  lt_check "flood-limited-$tag" $? "$lim of $rx requests rate limited, $kod KoD RATE (want >= half: the sources repeat every ~0.2 s)"
else
  # Four sources per entry: each is evicted before it comes back and looks
  # new, so the flood is answered (never amplified) and nobody is locked out.
  [ "$ans" -ge $((rx / 2)) ]
  lt_check "flood-evicted-$tag" $? "$ans of $rx requests answered, $lim rate limited (want >= half answered: entries evicted)"
fi
}

lt_start_publisher "$STRATUM" 120
flood fits 65536      # the flood's 4096 addresses fit the table: they are rate limited
flood overflows 1024  # four times more addresses than entries: eviction
lt_log "runtime: $((SECONDS - T0)) s"
lt_finish
