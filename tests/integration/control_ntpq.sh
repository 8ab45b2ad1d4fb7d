#!/usr/bin/env bash
# ntpsec's own ntpq against linetime-control in node mode (mode 6, RFC 9327).
#
# The setup of control_node.sh: three chronyd servers (-x, `local stratum 1`)
# in their own namespaces, the third 0.5 s ahead under faketime (a
# falseticker), and linetime-control in the node's namespace with -x and
# --serve 198.18.1.2:123, which answers mode 6 on the same socket as mode 3.
# The node's restrict list refuses queries by default and allows them from
# the first server's address only. Checks:
#   - `ntpq -p` from 198.18.1.1 shows the system peer '*' (a good server), the
#     falseticker 'x', the local clock as LOCAL(0), and the same tallies as
#     `linetimectl peers`;
#   - `ntpq -c rv` shows the system variables (stratum 2, the system peer's
#     address as refid, linetime's version) and `ntpq -c "rv &1"` a peer's;
#   - from 198.18.2.1 (`restrict default ... noquery`) ntpq gets no answer.
#
# ntpq is not installed with chrony (Debian's ntpsec package conflicts with
# it): the test takes it from the ntpsec and python3-ntp packages with
# `apt-get download` + `dpkg -x` into $LT_BUILD/ntpsec-ntpq once and reuses
# that; it says SKIP when the packages cannot be downloaded (offline).
# The host clock is never touched.
LT_ID=${LT_ID:-m6$$}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/integration/control_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/control_lib.sh"

lt_setup
lt_require_tools chronyd faketime apt-get dpkg
[ -x "$LT_CONTROL" ] || lt_skip "$LT_CONTROL is not built"
[ -x "$LT_CTL" ] || lt_skip "$LT_CTL is not built"
[ -e "$LT_SHIM" ] || lt_skip "$LT_SHIM is not built"

lt_fetch_ntpq || lt_skip "$LT_NTPQ_ERROR"
# ntpq NS ARGS...: bounded, output in $LT_TMP/ntpq.out, exit status returned.
ntpq() {
  local ns=$1
  shift
  lt_run 20 "$LT_TMP/ntpq.out" "$ns" env PYTHONPATH="$LT_NTPQ_PY" python3 "$LT_NTPQ_ROOT/usr/bin/ntpq" -n "$@"
}
lt_pass ntpq-available "$(env PYTHONPATH="$LT_NTPQ_PY" python3 "$LT_NTPQ_ROOT/usr/bin/ntpq" --version 2>&1 | head -n 1)"

# --- the network of control_node.sh ------------------------------------------
NODE=$LT_NS_CLI
lt_make_upstream_net
# The second server's namespace reaches the node's serving address too.
ip -n "lt-$LT_ID-up2" route add 198.18.1.2/32 via 198.18.2.2

cat >"$LT_TMP/node.conf" <<EOF
# A cluster node as the seeds configure it; queries only from 198.18.1.1.
driftfile $LT_TMP/ntp.drift
server 198.18.1.1 iburst minpoll 1 maxpoll 1
server 198.18.2.1 iburst minpoll 1 maxpoll 1
server 198.18.3.1 iburst minpoll 1 maxpoll 1
server 127.127.1.0
fudge 127.127.1.0 stratum 10
restrict default nomodify notrap nopeer noquery
restrict 127.0.0.1
restrict 198.18.1.1 nomodify notrap nopeer
EOF

SOCK=$LT_TMP/control.sock
lt_bg control "$NODE" "$LT_CONTROL" -n -x -c "$LT_TMP/node.conf" -s "$SOCK" \
  --serve 198.18.1.2:123 --metrics off --duration 120
CONTROL_PID=$LT_LAST_PID

synced_to_good() {
  local peer
  peer=$(lt_status_field "$SOCK" system_peer 2>/dev/null) || return 1
  [ "$peer" = 198.18.1.1 ] || [ "$peer" = 198.18.2.1 ]
}
lt_wait_for 10 test -S "$SOCK"
lt_check control-started $? "management socket $SOCK"
lt_wait_for 60 synced_to_good
lt_check synchronized $? "system peer $(lt_status_field "$SOCK" system_peer 2>/dev/null) after $SECONDS s"
sleep 6  # a few more polls so the falseticker's status settles

# --- ntpq -p ---------------------------------------------------------------------
ntpq "lt-$LT_ID-up1" -p 198.18.1.2
rc=$?
cp "$LT_TMP/ntpq.out" "$LT_TMP/ntpq_p.txt"
lt_show "$LT_TMP/ntpq_p.txt"
lt_peers "$SOCK" >"$LT_TMP/peers.txt" 2>&1
lt_show "$LT_TMP/peers.txt"
[ "$rc" = 0 ] && grep -q '^ *remote *refid *st t when poll reach *delay *offset *jitter$' "$LT_TMP/ntpq_p.txt"
lt_check ntpq-p-table $? "exit $rc, ntpq's header"
grep -Eq '^\*198\.18\.[12]\.1 +[^ ]+ +1 u ' "$LT_TMP/ntpq_p.txt"
lt_check ntpq-p-system-peer $? "$(grep '^\*' "$LT_TMP/ntpq_p.txt" | head -n 1)"
grep -Eq '^x198\.18\.3\.1 +[^ ]+ +1 u ' "$LT_TMP/ntpq_p.txt"
lt_check ntpq-p-falseticker $? "$(grep '198\.18\.3\.1' "$LT_TMP/ntpq_p.txt" | head -n 1)"
grep -Eq '^ LOCAL\(0\) +\.LOCL\. +10 l ' "$LT_TMP/ntpq_p.txt"
lt_check ntpq-p-local-clock $? "$(grep 'LOCAL' "$LT_TMP/ntpq_p.txt" | head -n 1)"
# The same tally for every server as linetimectl shows. The two good servers
# are equally good, so the system peer may move between the two readings:
# a pair that differs is read again (at most 3 pairs).
tallies() { grep -Eo '^[ *+x#.o-]198\.18\.[0-9]+\.[0-9]+' "$1" | sort; }
same_tallies() { [ -n "$(tallies "$LT_TMP/ntpq_p.txt")" ] && [ "$(tallies "$LT_TMP/ntpq_p.txt")" = "$(tallies "$LT_TMP/peers.txt")" ]; }
for _ in 1 2; do
  same_tallies && break
  ntpq "lt-$LT_ID-up1" -p 198.18.1.2 && cp "$LT_TMP/ntpq.out" "$LT_TMP/ntpq_p.txt"
  lt_peers "$SOCK" >"$LT_TMP/peers.txt" 2>&1
done
same_tallies
lt_check ntpq-matches-linetimectl $? "ntpq: $(tallies "$LT_TMP/ntpq_p.txt" | tr '\n' ' ')/ linetimectl: $(tallies "$LT_TMP/peers.txt" | tr '\n' ' ')"

# --- ntpq -c rv -------------------------------------------------------------------
ntpq "lt-$LT_ID-up1" -c rv 198.18.1.2
rc=$?
cp "$LT_TMP/ntpq.out" "$LT_TMP/ntpq_rv.txt"
lt_show "$LT_TMP/ntpq_rv.txt"
[ "$rc" = 0 ] && grep -q 'version="linetime ' "$LT_TMP/ntpq_rv.txt" && grep -q 'stratum=2,' "$LT_TMP/ntpq_rv.txt" &&
  grep -Eq 'refid=198\.18\.[12]\.1,' "$LT_TMP/ntpq_rv.txt" && grep -q 'leap=00' "$LT_TMP/ntpq_rv.txt" &&
  grep -q 'sync_ntp' "$LT_TMP/ntpq_rv.txt"
lt_check ntpq-rv $? "exit $rc: $(grep -o 'stratum=[0-9]*' "$LT_TMP/ntpq_rv.txt") $(grep -o 'refid=[^,]*' "$LT_TMP/ntpq_rv.txt")"
ntpq "lt-$LT_ID-up1" -c "rv &1" 198.18.1.2
rc=$?
cp "$LT_TMP/ntpq.out" "$LT_TMP/ntpq_rv1.txt"
lt_show "$LT_TMP/ntpq_rv1.txt"
[ "$rc" = 0 ] && grep -q 'srcadr=198\.18\.1\.1,' "$LT_TMP/ntpq_rv1.txt" && grep -q 'reach=377' "$LT_TMP/ntpq_rv1.txt" &&
  grep -q 'filtdelay' "$LT_TMP/ntpq_rv1.txt"
lt_check ntpq-rv-peer $? "exit $rc: $(grep -o 'srcadr=[^,]*' "$LT_TMP/ntpq_rv1.txt") $(grep -o 'reach=[^,]*' "$LT_TMP/ntpq_rv1.txt")"

# --- noquery ---------------------------------------------------------------------
ntpq "lt-$LT_ID-up2" -c "timeout 1000" -p 198.18.1.2
rc=$?
lt_show "$LT_TMP/ntpq.out"
grep -q 'timed out' "$LT_TMP/ntpq.out" && ! grep -q '198\.18\.3\.1' "$LT_TMP/ntpq.out"
lt_check noquery-no-answer $? "from 198.18.2.1 (restrict default noquery): exit $rc, $(grep -m1 -o '.*timed out.*' "$LT_TMP/ntpq.out")"

kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID"
rc=$?
[ "$rc" = 0 ]
lt_check clean-exit $? "exit status $rc after SIGTERM"
grep -q 'mode 6: [0-9]* answered, 0 errors, [1-9][0-9]* refused' "$LT_TMP/control.log"
lt_check mode6-counted $? "$(grep -o 'mode 6: .*' "$LT_TMP/control.log")"
lt_log "control log:"
lt_show "$LT_TMP/control.log"
lt_finish
