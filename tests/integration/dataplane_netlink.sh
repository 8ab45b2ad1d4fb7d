#!/usr/bin/env bash
# The dataplane follows the kernel's addresses of its exception interface, and
# sends the control's upstream requests with the kernel's routes and
# neighbours.
#
#   dataplane_netlink.sh          (root; LT_BUILD=build dir)
#
# The dataplane starts without any --address, over af_packet on one end of a
# veth pair, with a TAP exception interface. Then, from the server namespace:
#   ip addr add 198.18.0.1/24 dev TAP      -> ntpdig gets answers
#   ip addr add fd00:198:18::1/64 dev TAP  -> ntpdig -6 gets answers
#   ip addr del 198.18.0.1/24 dev TAP      -> ntpdig gets none (bounded wait)
# and back with the IPv4 address, lt-upstream-probe (playing the control)
# queues NTP requests for a chronyd server (-x: it never touches the clock) in
# the client namespace: the dataplane has the kernel resolve the server's MAC
# through the TAP, sends the requests, reports their TX timestamps, and hands
# chronyd's replies back on the reply ring.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The branch's own namespace names, next to the other tests' lt-<pid>-srv/cli.
LT_NS_SRV=lt-$LT_ID-netlink-srv
LT_NS_CLI=lt-$LT_ID-netlink-cli
LT_PROBE=$LT_BUILD/tests/integration/lt-upstream-probe
UPSTREAM_PORTS=40000-40009
T0=$SECONDS

lt_setup
lt_require_tools ntpdig chronyd
[ -x "$LT_PROBE" ] || lt_skip "$LT_PROBE is not built (set LT_BUILD to the build directory)"
lt_make_net
lt_log "test $LT_ID: namespaces $LT_NS_SRV/$LT_NS_CLI, veth $LT_IF_SRV/$LT_IF_CLI, tap $LT_IF_TAP, shm $LT_SHM"

lt_start_publisher 10 120
lt_start_dataplane af_packet 110 --tap "$LT_IF_TAP" --upstream-ports "$UPSTREAM_PORTS" --stats 0.5
grep -q "no address to answer on yet" "$LT_DP_LOG"
lt_check starts-without-address $? "'no address to answer on yet' in the dataplane's log"

S=$LT_NS_SRV
C=$LT_NS_CLI
OUT=$LT_TMP

# No SLAAC or link-local address: only what the test gives the TAP.
lt_sysctl "$S" "net/ipv6/conf/$LT_IF_TAP/addr_gen_mode" 1
ip -n "$S" link set "$LT_IF_TAP" up
lt_check tap-up $? "$LT_IF_TAP up"

# ntp_answers NAME ADDRESS [ntpdig options]: 0 when ntpdig got an answer.
ntp_answers() {
  local name=$1 addr=$2
  shift 2
  lt_run 15 "$OUT/$name.out" "$C" ntpdig -j -t 2 "$@" "$addr"
  grep -q '^{' "$OUT/$name.out"
}

# --- an address appears ---------------------------------------------------------
ip -n "$S" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP"
lt_wait_for 5 grep -q "address $LT_V4_SRV/$LT_V4_LEN appeared on $LT_IF_TAP: answering" "$LT_DP_LOG"
lt_check v4-appeared $? "'address $LT_V4_SRV/$LT_V4_LEN appeared on $LT_IF_TAP: answering' logged"
ntp_answers ntpdig-v4 "$LT_V4_SRV"
lt_check v4-answered $? "ntpdig $LT_V4_SRV answered after ip addr add"
lt_show "$OUT/ntpdig-v4.out"

ip -n "$S" addr add "$LT_V6_SRV/$LT_V6_LEN" dev "$LT_IF_TAP" nodad
lt_wait_for 5 grep -q "address $LT_V6_SRV/$LT_V6_LEN appeared on $LT_IF_TAP: answering" "$LT_DP_LOG"
lt_check v6-appeared $? "'address $LT_V6_SRV/$LT_V6_LEN appeared on $LT_IF_TAP: answering' logged"
ntp_answers ntpdig-v6 "$LT_V6_SRV" -6
lt_check v6-answered $? "ntpdig -6 $LT_V6_SRV answered after ip addr add"

# --- and disappears ---------------------------------------------------------------
ip -n "$S" addr del "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP"
lt_wait_for 5 grep -q "address $LT_V4_SRV/$LT_V4_LEN disappeared from $LT_IF_TAP: no longer answering" "$LT_DP_LOG"
lt_check v4-disappeared $? "'address $LT_V4_SRV/$LT_V4_LEN disappeared from $LT_IF_TAP: no longer answering' logged"
before=$(lt_counters_now)
if ntp_answers ntpdig-v4-gone "$LT_V4_SRV"; then
  lt_fail v4-not-answered "ntpdig $LT_V4_SRV still answered after ip addr del"
  lt_show "$OUT/ntpdig-v4-gone.out"
else
  lt_pass v4-not-answered "ntpdig $LT_V4_SRV timed out after ip addr del"
fi
after=$(lt_counters_now)
d_answered=$(( $(lt_counter_in "$after" answered) - $(lt_counter_in "$before" answered) ))
d_other=$(( $(lt_counter_in "$after" drop-not-for-us) - $(lt_counter_in "$before" drop-not-for-us) ))
[ "$d_answered" -eq 0 ] && [ "$d_other" -ge 1 ]
lt_check v4-gone-counted $? "meanwhile: answered +$d_answered (want 0), drop-not-for-us +$d_other (want >= 1)"
ntp_answers ntpdig-v6-still "$LT_V6_SRV" -6
lt_check v6-still-answered $? "ntpdig -6 $LT_V6_SRV still answered"

# --- upstream requests through the kernel's routes and neighbours -----------------
ip -n "$S" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP"
lt_wait_for 5 sh -c "[ \$(grep -c 'address $LT_V4_SRV/$LT_V4_LEN appeared' '$LT_DP_LOG') -ge 2 ]"
lt_check v4-back $? "$LT_V4_SRV/$LT_V4_LEN given back to $LT_IF_TAP"
chrony_conf=$OUT/chrony-server.conf
cat >"$chrony_conf" <<EOF
local stratum 5
allow all
bindaddress $LT_V4_CLI
port 123
cmdport 0
pidfile $OUT/chronyd-server.pid
EOF
lt_bg chronyd-server "$C" chronyd -x -d -f "$chrony_conf" -u root -L 0
lt_wait_for 10 sh -c "ip netns exec $C ss -uln | grep -q '$LT_V4_CLI:123'"
lt_check chronyd-server-up $? "chronyd -x serving on $LT_V4_CLI:123 (clock control disabled)"
ip -n "$S" neigh show dev "$LT_IF_TAP" | grep -q "^$LT_V4_CLI .*lladdr"
[ $? -ne 0 ]
lt_check neighbour-unknown-before $? "the server kernel has no MAC for $LT_V4_CLI yet"

out=$OUT/probe.out
lt_run 20 "$out" "$S" "$LT_PROBE" --shm "$LT_SHM" --server "$LT_V4_CLI" --src-port 40000 --count 3 --timeout 10
rc=$?
lt_show "$out"
summary=$(tail -n 1 "$out")
[ "$rc" -eq 0 ]
lt_check upstream-exchange $? "$summary (want 3 of each, none mismatched)"
cli_mac=$(ip -n "$C" -o link show "$LT_IF_CLI" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
ip -n "$S" neigh show dev "$LT_IF_TAP" | grep -q "^$LT_V4_CLI .*lladdr $cli_mac"
lt_check neighbour-resolved $? "the kernel resolved $LT_V4_CLI to $cli_mac through $LT_IF_TAP"

# --- the dataplane's own account -----------------------------------------------------
lt_stop_dataplane
counters=$(sed -n 's/.*final counters: *//p' "$LT_DP_LOG" | tail -n 1)
lt_log "final counters: $counters"
for spec in upstream-sent:3 upstream-reply:3; do
  name=${spec%%:*}
  want=${spec##*:}
  v=$(lt_counter "$name")
  [ "$v" -ge "$want" ]
  lt_check "counter-$name" $? "$name=$v (want >= $want)"
done
for name in upstream-no-route upstream-unresolved upstream-stale upstream-invalid completion-ring-full; do
  v=$(lt_counter "$name")
  [ "$v" -eq 0 ]
  lt_check "counter-$name" $? "$name=$v (want 0)"
done

lt_log "runtime: $((SECONDS - T0)) s"
lt_finish
