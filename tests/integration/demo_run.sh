#!/usr/bin/env bash
# scripts/demo.sh end to end (the README's first command): runs it and checks
# the lines an operator reads — the appliance's source table with the
# falseticker marked, a node synchronised to the appliance at stratum 3, a
# real client served stratum 2, counters — and that it left nothing behind.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_require_root
out=$(mktemp /tmp/linetime-it-$LT_ID.demo.XXXXXX)
trap 'rm -f "$out"' EXIT
timeout -k 10 240 bash "$LT_SRC/../../scripts/demo.sh" >"$out" 2>&1
rc=$?
lt_check demo-exit $? "exit status $rc"
[ "$rc" -eq 0 ] || sed 's/^/    | /' "$out" | tail -n 40
check_line() {  # NAME REGEX DETAIL
  grep -Eq "$2" "$out"
  lt_check "$1" $? "$3: $(grep -Em1 "$2" "$out" | sed 's/^ *//')"
}
check_line falseticker-x '^ +x198\.18\.0\.13 ' "appliance peers"
check_line appliance-synced '^ +\*198\.18\.0\.1[12] ' "appliance system peer"
check_line node-ntpstat 'synchronised to NTP server \(198\.18\.0\.1\) at stratum 3' "ltt2 status"
check_line node-exit-0 '^ +exit code 0$' "ltt2 status exit code"
check_line ntpdig-stratum-2 '"stratum":2' "ntpdig"
check_line counters '^ +answered +[0-9]+ +[0-9.]+ ' "linetimectl counters"
# ntpq prints delay and offset with four decimals (linetimectl with three).
check_line ntpq-peers '^ +\*198\.18\.0\.1[12] .* [0-9]+\.[0-9]{4} +-?[0-9]+\.[0-9]{4} ' "ntpq -p against the appliance"
check_line done '^demo: done in [0-9]+ s' "finished"
left=$(ip netns list 2>/dev/null | grep -c "^lt-")
ls /dev/shm/ 2>/dev/null | grep -q '^linetime-it-'
shm_left=$?
[ "$left" -eq 0 ] && [ "$shm_left" -ne 0 ]
lt_check cleaned-up $? "namespaces left: $left, shared memory left: $([ "$shm_left" -eq 0 ] && echo yes || echo no)"
lt_finish
