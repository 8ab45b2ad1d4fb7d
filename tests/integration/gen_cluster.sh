#!/usr/bin/env bash
# scripts/gen-cluster.sh: a cluster description in, the appliance's and the
# nodes' configuration files out, both passing `linetime-control
# --check-config` without errors or warnings; descriptions with mistakes are
# refused with a message naming the line and the fix (exit 2), and a file the
# parser rejects is kept as *.rejected (exit 1). No network, no root.
set -u -o pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LT_BUILD=${LT_BUILD:-$SRC/build}
GEN=$SRC/scripts/gen-cluster.sh
CONTROL=$LT_BUILD/control/linetime-control
[ -x "$CONTROL" ] || { echo "SKIP: $CONTROL is not built"; exit 77; }

TMP=$(mktemp -d /tmp/lt-gen-cluster.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILED=0 CHECKS=0
check() {
  CHECKS=$((CHECKS + 1))
  if [ "$2" -eq 0 ]; then printf 'PASS: %-28s %s\n' "$1" "$3"; else FAILED=$((FAILED + 1)); printf 'FAIL: %-28s %s\n' "$1" "$3"; fi
}
gen() {  # gen NAME DESCRIPTION-TEXT: output dir $TMP/NAME, messages in $TMP/NAME.err
  printf '%s\n' "$2" >"$TMP/$1.desc"
  bash "$GEN" -o "$TMP/$1" -c "$CONTROL" "$TMP/$1.desc" >"$TMP/$1.out" 2>"$TMP/$1.err"
}

# --- a cluster as the seeds describe one ---------------------------------------
gen seeds "# the lab of the seeds' tables
appliance=198.18.0.1
subnet=198.18.0.0/24
upstream=0.pool.ntp.org, 198.18.5.1
upstream = 1.pool.ntp.org
nodes=3"
rc=$?
check generated "$rc" "exit $rc: $(cat "$TMP/seeds.out" "$TMP/seeds.err")"
for f in appliance node; do
  "$CONTROL" --check-config "$TMP/seeds/$f.conf" >"$TMP/$f.check" 2>&1
  rc=$?
  [ "$rc" = 0 ] && grep -q '0 error(s), 0 warning(s)' "$TMP/$f.check"
  check "$f-check-config" $? "exit $rc: $(tail -n 1 "$TMP/$f.check")"
done
a=$TMP/seeds/appliance.conf n=$TMP/seeds/node.conf
grep -qx 'server 0.pool.ntp.org iburst' "$a" && grep -qx 'server 198.18.5.1 iburst' "$a" &&
  grep -qx 'server 1.pool.ntp.org iburst' "$a" && grep -qx 'server 127.127.1.0' "$a" &&
  grep -qx 'fudge 127.127.1.0 stratum 10' "$a" && grep -qx 'driftfile /var/lib/linetime/drift' "$a"
check appliance-sources $? "$(grep -c '^server' "$a") server lines, local clock stratum 10, driftfile"
grep -qx 'restrict default kod limited nomodify notrap nopeer noquery' "$a" &&
  grep -qx 'restrict 198.18.0.0 mask 255.255.255.0 nomodify notrap nopeer' "$a" &&
  grep -qx 'restrict 198.18.5.1 nomodify notrap noquery' "$a" && ! grep -q 'restrict 0.pool' "$a"
check appliance-restricts $? "$(grep -c '^restrict' "$a") restrict lines (subnet served, numeric upstream noquery)"
grep -qx 'dataplane address 198.18.0.1' "$a" && grep -qx 'dataplane port 0' "$a" && grep -qx 'shm /linetime' "$a" &&
  grep -qx 'dataplane tap lt0' "$a"
check appliance-dataplane $? "$(grep -E '^(dataplane|shm)' "$a" | tr '\n' ';')"
[ "$(grep -c '^server' "$n")" = 2 ] && grep -qx 'server 198.18.0.1 iburst prefer' "$n" &&
  grep -qx 'restrict 198.18.0.1 nomodify notrap noquery' "$n" && grep -qx 'fudge 127.127.1.0 stratum 10' "$n" &&
  grep -qx 'restrict default kod nomodify notrap nopeer noquery' "$n"
check node-conf $? "$(grep -E '^server' "$n" | tr '\n' ';')"
[ "$(tr '\n' ' ' <"$TMP/seeds/nodes.txt")" = "198.18.0.2 198.18.0.3 198.18.0.4 " ]
check nodes-list $? "$(tr '\n' ' ' <"$TMP/seeds/nodes.txt")"

# The appliance inside the node range is skipped.
gen middle "appliance=198.18.1.2
subnet=198.18.1.0/29
upstream=198.18.5.1
nodes=5"
[ $? = 0 ] && [ "$(tr '\n' ' ' <"$TMP/middle/nodes.txt")" = "198.18.1.1 198.18.1.3 198.18.1.4 198.18.1.5 198.18.1.6 " ]
check nodes-skip-appliance $? "$(tr '\n' ' ' <"$TMP/middle/nodes.txt" 2>/dev/null)"

# --- descriptions with mistakes: exit 2, the message names the fix ---------------
bad() {  # bad NAME TEXT EXPECTED-MESSAGE-PART
  gen "$1" "$2"
  local rc=$?
  [ "$rc" = 2 ] && grep -qF "$3" "$TMP/$1.err" && [ ! -e "$TMP/$1/appliance.conf" ]
  check "refuses-$1" $? "exit $rc: $(head -n 1 "$TMP/$1.err")"
}
bad no-appliance $'subnet=198.18.0.0/24\nupstream=198.18.5.1' "no appliance= line (add the appliance's address"
bad host-bits $'appliance=198.18.0.1\nsubnet=198.18.0.1/24\nupstream=198.18.5.1' "write the network address, e.g. 198.18.0.0/24"
bad outside $'appliance=198.19.0.1\nsubnet=198.18.0.0/24\nupstream=198.18.5.1' "is not in subnet 198.18.0.0/24"
bad unknown-key $'appliance=198.18.0.1\nsubnet=198.18.0.0/24\nupstream=198.18.5.1\nupstreams=x' "unknown key 'upstreams' (known:"
bad no-upstream $'appliance=198.18.0.1\nsubnet=198.18.0.0/24' "no upstream= line"
bad bad-address $'appliance=198.18.0.300\nsubnet=198.18.0.0/24\nupstream=198.18.5.1' "is not an IPv4 address"
bad too-many $'appliance=198.18.0.1\nsubnet=198.18.0.0/30\nupstream=198.18.5.1\nnodes=2' "do not fit in 198.18.0.0/30"

# --- a file the parser rejects is kept aside, exit 1 ------------------------------
gen rejected $'appliance=198.18.0.1\nsubnet=198.18.0.0/24\nupstream=198.18.5.1\ntap=a-tap-name-of-20-chars'
rc=$?
[ "$rc" = 1 ] && [ -e "$TMP/rejected/appliance.conf.rejected" ] && [ ! -e "$TMP/rejected/appliance.conf" ] &&
  [ -e "$TMP/rejected/node.conf" ] && grep -q 'does not pass --check-config' "$TMP/rejected.err"
check rejected-kept-aside $? "exit $rc: $(grep -m1 'error' "$TMP/rejected.err")"

if [ "$FAILED" -ne 0 ]; then
  echo "RESULT: $FAILED of $CHECKS checks failed"
  exit 1
fi
echo "RESULT: all $CHECKS checks passed"
