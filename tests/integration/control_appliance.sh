#!/usr/bin/env bash
# The appliance: linetime-dataplane owns the server's port (af_packet over a
# veth), linetime-control runs next to it in appliance mode (no clock
# control), sends its upstream requests through the dataplane's rings and
# publishes the server state the dataplane serves.
#
# Upstream: three chronyd -x servers on the client side of the link
# (198.18.0.11-13), the third 0.5 s ahead under faketime. Checks:
#   - the control synchronizes through the dataplane, marks the falseticker,
#     offset within 1 ms;
#   - a real client (ntpdig) gets stratum 2 from the dataplane;
#   - with the upstreams stopped, the local clock (stratum 10) takes over and
#     the dataplane serves it;
#   - when the control stops, the dataplane serves unsynchronized (stratum 16).
# The host clock is never touched.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/integration/control_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/control_lib.sh"

UPSTREAM_PORTS=40000-40009
OFFSET_LIMIT_MS=1

lt_setup
lt_require_tools chronyd faketime ntpdig
[ -x "$LT_CTL" ] || lt_skip "$LT_CTL is not built"
[ -x "$LT_CONTROL" ] || lt_skip "$LT_CONTROL is not built"
[ -e "$LT_SHIM" ] || lt_skip "$LT_SHIM is not built"
lt_make_net
S=$LT_NS_SRV
C=$LT_NS_CLI
for i in 1 2 3; do ip -n "$C" addr add "198.18.0.1$i/$LT_V4_LEN" dev "$LT_IF_CLI"; done
lt_chrony_upstream up1 "$C" 198.18.0.11
lt_chrony_upstream up2 "$C" 198.18.0.12
lt_chrony_upstream up3 "$C" 198.18.0.13 +0.5

lt_start_dataplane af_packet 150 --tap "$LT_IF_TAP" --upstream-ports "$UPSTREAM_PORTS"
lt_sysctl "$S" "net/ipv6/conf/$LT_IF_TAP/addr_gen_mode" 1
ip -n "$S" link set "$LT_IF_TAP" up
ip -n "$S" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP"
lt_wait_for 5 grep -q "address $LT_V4_SRV/$LT_V4_LEN appeared" "$LT_DP_LOG"
lt_check address-learned $? "$LT_V4_SRV/$LT_V4_LEN learned from $LT_IF_TAP"

cat >"$LT_TMP/appliance.conf" <<EOF
# The seeds' server configuration, its upstreams rewritten to the test's.
driftfile $LT_TMP/ntp.drift
server 198.18.0.11 iburst minpoll 1 maxpoll 1
server 198.18.0.12 iburst minpoll 1 maxpoll 1
server 198.18.0.13 iburst minpoll 1 maxpoll 1
server 127.127.1.0
fudge 127.127.1.0 stratum 10
tos orphanwait 4
restrict default nomodify notrap nopeer noquery
restrict 198.18.0.99 ignore
shm $LT_SHM
EOF
SOCK=$LT_TMP/control.sock
lt_bg control "$S" "$LT_CONTROL" -n -x -c "$LT_TMP/appliance.conf" -s "$SOCK" --upstream-port 40000 --duration 140
CONTROL_PID=$LT_LAST_PID
lt_wait_for 10 test -S "$SOCK"
lt_check control-started $? "appliance mode on $LT_SHM"
grep -q "upstream transport: dataplane rings" "$LT_TMP/control.log"
lt_check rings-transport $? "$(grep -o 'upstream transport: .*' "$LT_TMP/control.log")"

synced_to_good() {
  case "$(lt_status_field "$SOCK" system_peer 2>/dev/null)" in
    198.18.0.11 | 198.18.0.12) return 0 ;;
  esac
  return 1
}
lt_wait_for 60 synced_to_good
lt_check synchronized $? "system peer $(lt_status_field "$SOCK" system_peer 2>/dev/null)"
sleep 6
lt_peers "$SOCK" >"$LT_TMP/peers1.txt" 2>&1
lt_show "$LT_TMP/peers1.txt"
grep -q '^x198.18.0.13 ' "$LT_TMP/peers1.txt"
lt_check falseticker-marked $? "198.18.0.13 (faketime +0.5 s) shown with tally 'x'"
offset=$(lt_status_field "$SOCK" offset_ms)
lt_abs_below "$offset" "$OFFSET_LIMIT_MS"
lt_check offset-to-good $? "system offset ${offset} ms (limit ${OFFSET_LIMIT_MS} ms)"

stratum=$(lt_ntpdig_field "$C" "$LT_V4_SRV" stratum)
[ "$stratum" = 2 ]
lt_check dataplane-serves-2 $? "ntpdig $LT_V4_SRV: stratum ${stratum:-none} (published by the control)"
lt_show "$LT_TMP/ntpdig.out"

# The control's restrict lines reach the dataplane: 198.18.0.99 is `ignore`d.
grep -q "access table: 2 restrict rules for the dataplane" "$LT_TMP/control.log"
lt_check acl-published $? "$(grep -o 'access table: .*' "$LT_TMP/control.log")"
ip -n "$C" addr add "198.18.0.99/$LT_V4_LEN" dev "$LT_IF_CLI"
ignored_answer() {  # SOURCE: 0 when the dataplane answers a request from SOURCE within 1 s
  ip netns exec "$C" python3 - "$1" "$LT_V4_SRV" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(1)
s.sendto(bytes([0x23]) + bytes(47), (sys.argv[2], 123))
try:
    s.recv(512)
except socket.timeout:
    sys.exit(1)
PY
}
! ignored_answer 198.18.0.99
lt_check acl-ignored-source $? "no answer to 198.18.0.99 (restrict ... ignore)"
ignored_answer 198.18.0.2
lt_check acl-other-source $? "198.18.0.2 still answered"

# Only the upstream servers run in the client namespace by now (faketime runs
# its chronyd as a child, so take the namespace's processes, not our pids).
# shellcheck disable=SC2046
lt_kill_pids $(ip netns pids "$C")
local_clock() { [ "$(lt_status_field "$SOCK" stratum 2>/dev/null)" = 10 ]; }
lt_wait_for 60 local_clock
lt_check local-clock-fallback $? "stratum $(lt_status_field "$SOCK" stratum 2>/dev/null)"
stratum=$(lt_ntpdig_field "$C" "$LT_V4_SRV" stratum)
[ "$stratum" = 10 ]
lt_check dataplane-serves-10 $? "ntpdig $LT_V4_SRV: stratum ${stratum:-none}"

kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID"
rc=$?
lt_check control-exit $? "exit status $rc"
# ntpdig refuses an unsynchronized server's time; the dataplane's counters
# show that it answered with LI=3 / stratum 16.
lt_ntpdig_field "$C" "$LT_V4_SRV" stratum >/dev/null

lt_stop_dataplane
v=$(lt_counter answered-unsync)
[ "$v" -ge 1 ]
lt_check unsync-without-control $? "answered-unsync=$v after the control stopped (want >= 1)"
v=$(lt_counter drop-restrict-ignore)
[ "$v" -ge 1 ]
lt_check counter-drop-restrict-ignore $? "drop-restrict-ignore=$v (want >= 1)"
for name in upstream-sent upstream-reply; do
  v=$(lt_counter "$name")
  [ "$v" -ge 24 ]
  lt_check "counter-$name" $? "$name=$v (want >= 24: 3 servers x 8 iburst)"
done
lt_log "control log:"
lt_show "$LT_TMP/control.log"
lt_finish
