#!/usr/bin/env bash
# linetime-control in node mode against real upstream servers.
#
# Three Debian chronyd servers (-x, `local stratum 1`), each in its own network
# namespace behind its own veth pair, serve the node's namespace; one of them
# runs under faketime 0.5 s ahead (a falseticker). linetime-control runs in the
# node namespace in node mode with no clock control (-x), polling every 2 s with
# iburst, with the seeds' local clock (127.127.1.0, stratum 10) and a short
# orphan wait. Checks:
#   - it synchronizes to the good servers, marks the falseticker 'x', and its
#     offset to the good servers is within 1 ms;
#   - it serves NTP on a kernel socket (--serve): ntpdig sees stratum 2;
#   - SIGHUP reloads the configuration keeping the sources' state;
#   - with every upstream stopped it falls back to the local clock at
#     stratum 10 (ntpdig sees it);
#   - linetimectl: `peers` prints the ntpq -p table, `status` prints ntpstat's
#     text and exits 0 when synchronised (2 once the daemon is gone),
#     `metrics` and the HTTP endpoint on the node's loopback serve the
#     Prometheus text, `query` measures the servers (the falseticker 0.5 s
#     ahead) without adjusting anything;
#   - SIGTERM writes the drift file and the daemon exits 0.
# The host clock is never touched.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/integration/control_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/control_lib.sh"

OFFSET_LIMIT_MS=1

lt_setup
lt_require_tools chronyd faketime ntpdig curl
[ -x "$LT_CONTROL" ] || lt_skip "$LT_CONTROL is not built"
[ -x "$LT_CTL" ] || lt_skip "$LT_CTL is not built"
[ -e "$LT_SHIM" ] || lt_skip "$LT_SHIM is not built"

NODE=$LT_NS_CLI
lt_make_upstream_net

cat >"$LT_TMP/node.conf" <<EOF
# A cluster node as the seeds configure it, pointed at the test's servers.
driftfile $LT_TMP/ntp.drift
server 198.18.1.1 iburst minpoll 1 maxpoll 1
server 198.18.2.1 iburst minpoll 1 maxpoll 1
server 198.18.3.1 iburst minpoll 1 maxpoll 1
server 127.127.1.0
fudge 127.127.1.0 stratum 10
tos orphanwait 4
restrict default nomodify notrap nopeer noquery
restrict 127.0.0.1
EOF

SOCK=$LT_TMP/control.sock
lt_bg control "$NODE" "$LT_CONTROL" -n -x -c "$LT_TMP/node.conf" -s "$SOCK" \
  --serve 198.18.1.2:123 -p "$LT_TMP/control.pid" --duration 150
CONTROL_PID=$LT_LAST_PID

peers() { lt_peers "$SOCK"; }
ntpstat_text() { lt_ntpstat "$SOCK"; }
status_field() { lt_status_field "$SOCK" "$1"; }
synced_to_good() {
  local peer
  peer=$(status_field system_peer 2>/dev/null) || return 1
  [ "$peer" = 198.18.1.1 ] || [ "$peer" = 198.18.2.1 ]
}

lt_wait_for 10 test -S "$SOCK"
lt_check control-started $? "management socket $SOCK"

lt_wait_for 60 synced_to_good
lt_check synchronized $? "system peer $(status_field system_peer 2>/dev/null) after $SECONDS s"
sleep 6  # a few more polls so the falseticker's status settles
peers >"$LT_TMP/peers1.txt" 2>&1
lt_show "$LT_TMP/peers1.txt"
ntpstat_text >"$LT_TMP/status1.txt" 2>&1
status_rc=$?
lt_show "$LT_TMP/status1.txt"
[ "$status_rc" = 0 ] && grep -Eq '^synchronised to NTP server \(198\.18\.[12]\.1\) at stratum 2$' "$LT_TMP/status1.txt" &&
  grep -Eq '^   time correct to within [0-9]+ ms$' "$LT_TMP/status1.txt" &&
  grep -Eq '^   polling server every [0-9.]+ s$' "$LT_TMP/status1.txt"
lt_check linetimectl-status $? "exit code $status_rc, $(head -n 1 "$LT_TMP/status1.txt")"
head -n 1 "$LT_TMP/peers1.txt" | grep -q '^     remote           refid      st t when poll reach   delay   offset  jitter$' &&
  [ "$(awk 'NR > 2 && length($0) != 78' "$LT_TMP/peers1.txt" | wc -l)" = 0 ] &&
  [ "$(grep -c '^[*+]198\.18\.[12]\.1 ' "$LT_TMP/peers1.txt")" = 2 ]
lt_check linetimectl-peers $? "ntpq -p layout (78 columns), both good servers '*' or '+'"

lt_run 10 "$LT_TMP/metrics.txt" - "$LT_CTL" -s "$SOCK" metrics
grep -q '^linetime_synchronized 1$' "$LT_TMP/metrics.txt" &&
  grep -q '^linetime_source_state{remote="198.18.3.1",state="falseticker",tally="x"} 1$' "$LT_TMP/metrics.txt"
lt_check linetimectl-metrics $? "$(grep -c '^linetime_' "$LT_TMP/metrics.txt") samples over the management socket"
lt_run 10 "$LT_TMP/metrics_http.txt" "$NODE" curl -sS --noproxy '*' --max-time 3 http://127.0.0.1:9123/metrics
grep -q '^linetime_stratum 2$' "$LT_TMP/metrics_http.txt"
lt_check metrics-http $? "GET http://127.0.0.1:9123/metrics in the node's namespace: $(grep '^linetime_stratum' "$LT_TMP/metrics_http.txt")"

# One-shot query from the node's namespace: it measures, it never adjusts.
lt_run 15 "$LT_TMP/query.txt" "$NODE" "$LT_CTL" query -t 4 198.18.1.1 198.18.3.1
query_rc=$?
lt_show "$LT_TMP/query.txt"
q_good=$(sed -n 's/^server 198\.18\.1\.1, stratum 1, offset \([-+0-9.]*\), .*/\1/p' "$LT_TMP/query.txt")
q_false=$(sed -n 's/^server 198\.18\.3\.1, stratum 1, offset \([-+0-9.]*\), .*/\1/p' "$LT_TMP/query.txt")
[ "$query_rc" = 0 ] && lt_abs_below "${q_good:-x}" 0.001 && awk -v x="${q_false:-0}" 'BEGIN { exit !(x > 0.49 && x < 0.51) }'
lt_check linetimectl-query $? "exit $query_rc; offsets ${q_good:-none} s (good) and ${q_false:-none} s (faketime +0.5 s)"

grep -q '^x198.18.3.1 ' "$LT_TMP/peers1.txt"
lt_check falseticker-marked $? "198.18.3.1 (faketime +0.5 s) shown with tally 'x'"
offset=$(status_field offset_ms)
lt_abs_below "$offset" "$OFFSET_LIMIT_MS"
lt_check offset-to-good $? "system offset ${offset} ms (limit ${OFFSET_LIMIT_MS} ms; the good servers share this host's clock)"
stratum=$(status_field stratum)
[ "$stratum" = 2 ]
lt_check stratum-2 $? "stratum $stratum"

lt_run 10 "$LT_TMP/ntpdig1.out" "lt-$LT_ID-up1" ntpdig -j -t 2 198.18.1.2
served=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["stratum"], d["offset"])' "$LT_TMP/ntpdig1.out" 2>/dev/null)
[ "${served%% *}" = 2 ]
lt_check serves-stratum-2 $? "ntpdig against the node's --serve socket: stratum and offset (s) = ${served:-none}"

# SIGHUP with an unchanged file: every source keeps its reach register.
reach_before=$(grep '^\*' "$LT_TMP/peers1.txt" | awk '{print $7}')
kill -HUP "$CONTROL_PID"
sleep 1
grep -q 'reloaded .*3 sources kept with their state, 0 added, 0 removed' "$LT_TMP/control.log"
lt_check sighup-reload $? "$(grep -o 'reloaded .*' "$LT_TMP/control.log" | tail -n 1)"
peers >"$LT_TMP/peers2.txt" 2>&1
reach_after=$(grep '^\*' "$LT_TMP/peers2.txt" | awk '{print $7}')
[ -n "$reach_before" ] && [ "$reach_after" = 377 ]
lt_check reload-keeps-state $? "system peer's reach ${reach_before} before, ${reach_after} after"

# All upstreams gone: holdover, then the local clock at stratum 10. (faketime
# runs chronyd as its child: stop whatever runs in the servers' namespaces.)
# shellcheck disable=SC2046
lt_kill_pids $(ip netns pids "lt-$LT_ID-up1") $(ip netns pids "lt-$LT_ID-up2") $(ip netns pids "lt-$LT_ID-up3")
local_clock() { [ "$(status_field stratum 2>/dev/null)" = 10 ]; }
lt_wait_for 60 local_clock
lt_check local-clock-fallback $? "stratum $(status_field stratum 2>/dev/null), mode $(status_field mode 2>/dev/null)"
peers >"$LT_TMP/peers3.txt" 2>&1
lt_show "$LT_TMP/peers3.txt"
lt_run 10 "$LT_TMP/ntpdig2.out" "lt-$LT_ID-up1" ntpdig -j -t 2 198.18.1.2
served=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["stratum"])' "$LT_TMP/ntpdig2.out" 2>/dev/null)
[ "$served" = 10 ]
lt_check serves-stratum-10 $? "ntpdig sees stratum ${served:-none}"

kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID"
rc=$?
[ "$rc" = 0 ]
lt_check clean-exit $? "exit status $rc after SIGTERM"
[ -s "$LT_TMP/ntp.drift" ]
lt_check drift-written $? "drift file: $(cat "$LT_TMP/ntp.drift" 2>/dev/null)"
[ ! -e "$LT_TMP/control.pid" ] && [ ! -e "$SOCK" ]
lt_check pidfile-socket-removed $? "pid file and management socket removed at exit"
ntpstat_text >"$LT_TMP/status_gone.txt" 2>&1
status_rc=$?
[ "$status_rc" = 2 ]
lt_check linetimectl-status-unreachable $? "exit code $status_rc without a daemon: $(head -c 100 "$LT_TMP/status_gone.txt")"
lt_log "control log:"
lt_show "$LT_TMP/control.log"
lt_finish
