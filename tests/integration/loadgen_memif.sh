#!/usr/bin/env bash
# linetime-loadgen drives linetime-dataplane over net_memif (two processes on
# this host, no network at all) at a modest fixed rate for a few seconds; both
# sides' counters must agree:
#   the dataplane received every request the generator sent (rx-frames = sent),
#   answered every one (answered = rx-frames = tx-frames),
#   and the generator received every answer and matched it to its request
#   (received = answered = the dataplane's tx-frames, no unmatched, no loss).
# The generator's figures come from its JSON report, the dataplane's from its
# final counters line. The four timestamps of every answer must also make
# sense: as many residence (T3 - T2) samples as answers, none negative, and the
# medians of residence and of the measured offset within 10 ms (a wrong epoch,
# scale or clock domain would be off by far more; scheduling on a shared
# machine is not).
#
#   loadgen_memif.sh        (root; LT_BUILD=build dir)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=20000       # requests/s
SECONDS_SENT=3
MAC=02:00:00:00:00:01

lt_setup
LOADGEN=$LT_BUILD/dataplane/linetime-loadgen
[ -x "$LOADGEN" ] || lt_skip "$LOADGEN is not built (set LT_BUILD to the build directory)"
[ -n "$(find /usr/lib /usr/local/lib -name 'librte_net_memif.so*' -print -quit 2>/dev/null)" ] ||
  lt_skip "DPDK's memif driver (librte_net_memif) is not installed"

LT_DPDK_PREFIX=lt-$LT_ID-lgm

if [ "$(nproc)" -ge 2 ]; then dp_cpu=1; lg_cpu=0; else dp_cpu=0; lg_cpu=0; fi
sock=$LT_TMP/memif.sock
eal=(--no-huge -m 128 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error --log-level=pmd.net.memif:error)
lt_log "test $LT_ID: memif socket $sock, shm $LT_SHM, dataplane on CPU $dp_cpu, generator on CPU $lg_cpu"

lt_bg publish - "$LT_PUBLISH" --shm "$LT_SHM" --stratum 1 --duration 90
ready=$LT_TMP/dataplane.ready
lt_bg dataplane - "$LT_DATAPLANE" "${eal[@]}" --file-prefix "$LT_DPDK_PREFIX-dp" -l "$dp_cpu" \
  --vdev "net_memif0,role=server,socket=$sock,rsize=12,mac=$MAC" \
  -- --shm "$LT_SHM" --address 198.18.0.1 --duration 80 --ready-file "$ready"
LT_DP_PID=$LT_LAST_PID
LT_DP_LOG=$LT_TMP/dataplane.log
if lt_wait_for 20 test -s "$ready" && lt_wait_for 10 grep -q 'answering at stratum 1' "$LT_DP_LOG"; then
  lt_pass dataplane-start "memif server up, answering at stratum 1"
else
  lt_fail dataplane-start "not answering at stratum 1 within 30 s"
  lt_show "$LT_DP_LOG"
  lt_finish
fi

json=$LT_TMP/loadgen.json
lt_run 60 "$LT_TMP/loadgen.out" - "$LOADGEN" "${eal[@]}" --file-prefix "$LT_DPDK_PREFIX-lg" -l "$lg_cpu" \
  --vdev "net_memif0,role=client,socket=$sock,rsize=12" \
  -- --dst-mac "$MAC" --dst 198.18.0.1 --src 198.18.1.0/28 --src-ports 64 \
  --rate "$RATE" --duration "$SECONDS_SENT" --drain 0.5 --json "$json"
rc=$?
lt_check loadgen-exit "$rc" "exit status $rc, $RATE/s for $SECONDS_SENT s"
if [ "$rc" -ne 0 ] || [ ! -s "$json" ]; then
  lt_show "$LT_TMP/loadgen.out"
  lt_finish
fi
lt_stop_dataplane

# step FIELD [SUBFIELD]: a value of the generator's only step.
step() { lt_json_step "$json" "$@"; }

sent=$(step sent)
received=$(step received)
answered=$(step answered)
unmatched=$(step unmatched)
dp_rx=$(lt_counter rx-frames)
dp_tx=$(lt_counter tx-frames)
dp_answered=$(lt_counter answered)
lt_log "generator: sent=$sent received=$received answered=$answered unmatched=$unmatched"
lt_log "dataplane: $(grep 'final counters:' "$LT_DP_LOG" | tail -n 1 | sed 's/.*final counters://')"

[ "$sent" -gt 0 ]
lt_check generator-sent $? "$sent requests (asked for $RATE/s x $SECONDS_SENT s)"
[ "$dp_rx" -eq "$sent" ]
lt_check rx-equals-sent $? "dataplane rx-frames $dp_rx, generator sent $sent"
[ "$dp_answered" -eq "$dp_rx" ]
lt_check every-request-answered $? "dataplane answered $dp_answered of rx-frames $dp_rx"
[ "$dp_tx" -eq "$dp_answered" ]
lt_check tx-equals-answered $? "dataplane tx-frames $dp_tx, answered $dp_answered"
[ "$received" -eq "$dp_tx" ]
lt_check received-equals-tx $? "generator received $received, dataplane tx-frames $dp_tx"
[ "$answered" -eq "$dp_answered" ] && [ "$unmatched" -eq 0 ]
lt_check answers-matched $? "generator answered $answered (unmatched $unmatched), dataplane answered $dp_answered"
loss=$(step loss)
awk -v l="$loss" 'BEGIN { exit !(l == 0) }'
lt_check no-loss $? "generator's loss $loss"

res_count=$(step residence_ns count)
res_min=$(step residence_ns min)
res_p50=$(step residence_ns p50)
off_p50=$(step offset_ns p50)
[ "$res_count" -eq "$answered" ]
lt_check residence-samples $? "$res_count residence samples for $answered answers"
[ "$res_min" -ge 0 ] && [ "$res_p50" -lt 10000000 ]
lt_check residence-sane $? "min $res_min ns, median $res_p50 ns (0 to 10 ms)"
lt_abs_below "$off_p50" 10000000
lt_check offset-sane $? "median offset $off_p50 ns (|x| < 10 ms)"

lt_finish
