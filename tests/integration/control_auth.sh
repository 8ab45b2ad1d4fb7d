#!/usr/bin/env bash
# linetime-control in node mode with symmetric-key authentication against
# Debian's chronyd.
#
# One upstream namespace holds three chronyd -x servers (`local stratum 1`),
# one per address, all with the same chrony keyfile: key 1 (MD5), key 2 (MD5)
# and key 3 (AES-128 CMAC); chronyd answers a request signed with one of its
# keys with a MAC of the same key. linetime-control runs in the node namespace
# with no clock control (-x), an ntp.keys file (mode 600) and
#   trustedkey 1 2 3
#   server 198.18.1.1 key 1 iburst minpoll 4
#   server 198.18.1.3 key 3 iburst minpoll 4
#   server 198.18.1.4 key 2 iburst minpoll 4   <- the node's key 2 has another secret
# Checks:
#   - a server line whose key is not trusted stops the start with the fix named;
#   - it synchronizes to the MD5 or the AES server, both shown with auth "ok";
#   - the server of the wrong key 2 never gives a valid reply: chronyd does not
#     answer a request whose MAC it cannot verify, so reach stays 0 with
#     nothing received;
#   - a second linetime-control in the upstream namespace polls the first one's
#     --serve address with key 2 and yet another secret: the first answers
#     with crypto-NAKs, which the second counts as dropped (reach 0, auth "bad");
#   - ntpdig -k KEYS -a 1 against the node's --serve address gets the time
#     (stratum 2), and with key 4 (in the node's keys file, not trusted) it
#     gets none (the node answers with a crypto-NAK; Debian 12's ntpdig stops
#     on it with a Python traceback, which is ntpdig's);
#   - SIGHUP after the keys file got the right secret for key 2: that source
#     is restarted and reaches its server with auth "ok";
#   - SIGTERM: exit 0 for both.
# The host clock is never touched.
LT_ID=${LT_ID:-ctla$(($$ % 10000))}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/integration/control_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/control_lib.sh"

lt_setup_base
lt_require_tools chronyd ntpdig
[ -x "$LT_CONTROL" ] || lt_skip "$LT_CONTROL is not built"
[ -x "$LT_CTL" ] || lt_skip "$LT_CTL is not built"

NODE=$LT_NS_CLI
UP=lt-$LT_ID-up1
ip netns add "$NODE" || lt_skip "cannot create network namespaces"
LT_NAMESPACES+=("$NODE")
ip netns add "$UP" || lt_skip "cannot create network namespaces"
LT_NAMESPACES+=("$UP")
ip link add "lt${LT_ID}u" netns "$UP" type veth peer name "lt${LT_ID}n" netns "$NODE" ||
  lt_skip "cannot create a veth pair (CONFIG_VETH)"
ip -n "$UP" link set lo up
ip -n "$NODE" link set lo up
for a in 1 3 4; do ip -n "$UP" addr add "198.18.1.$a/29" dev "lt${LT_ID}u"; done
ip -n "$NODE" addr add 198.18.1.2/29 dev "lt${LT_ID}n"
# veth leaves UDP checksums partial; both directions carry NTP here.
ip netns exec "$UP" ethtool -K "lt${LT_ID}u" tx off >/dev/null
ip netns exec "$NODE" ethtool -K "lt${LT_ID}n" tx off >/dev/null
ip -n "$UP" link set "lt${LT_ID}u" up
ip -n "$NODE" link set "lt${LT_ID}n" up

# The secrets (16 octets each, as hexadecimal): the same bytes in chrony's
# keyfile (HEX:) and in ntp.keys (more than 20 characters: hexadecimal).
K1=5f0c8a17e3b2d4966a1c07fe2b8d3c41
K2=9a4e1d27c60b8f3355e2a9d01c7b6f88
K2_WRONG=00112233445566778899aabbccddeeff
K2_OTHER=ffeeddccbbaa99887766554433221100
K3=2b7e151628aed2a6abf7158809cf4f3c
K4=d41d8cd98f00b204e9800998ecf8427e
cat >"$LT_TMP/chrony.keys" <<EOK
1 MD5 HEX:$K1
2 MD5 HEX:$K2
3 AES128 HEX:$K3
EOK
chmod 600 "$LT_TMP/chrony.keys"
for a in 1 3 4; do
  lt_chrony_upstream "chrony$a" "$UP" "198.18.1.$a" "" "keyfile $LT_TMP/chrony.keys"
done

write_node_keys() {  # SECRET-OF-KEY-2
  cat >"$LT_TMP/ntp.keys.new" <<EOK
1 MD5 $K1
2 MD5 $1
3 AES $K3
4 MD5 $K4
EOK
  chmod 600 "$LT_TMP/ntp.keys.new"
  mv "$LT_TMP/ntp.keys.new" "$LT_TMP/ntp.keys"
}
write_node_keys "$K2_WRONG"

SOCK=$LT_TMP/control.sock

# A server line with a key that is not trusted: no start, the fix named.
cat >"$LT_TMP/untrusted.conf" <<EOC
keys $LT_TMP/ntp.keys
trustedkey 1
server 198.18.1.1 key 4 iburst
EOC
lt_run 10 "$LT_TMP/untrusted.log" "$NODE" "$LT_CONTROL" -n -x -c "$LT_TMP/untrusted.conf" \
  -s "$LT_TMP/untrusted.sock" --metrics off --duration 5
rc=$?
lt_show "$LT_TMP/untrusted.log"
[ "$rc" = 1 ] && grep -q "add 'trustedkey 4'" "$LT_TMP/untrusted.log"
lt_check untrusted-key-refused $? "exit status $rc: $(grep -o "key 4 is not trusted.*" "$LT_TMP/untrusted.log" | tail -n 1)"

cat >"$LT_TMP/node.conf" <<EOC
keys $LT_TMP/ntp.keys
trustedkey 1 2 3
server 198.18.1.1 key 1 iburst minpoll 4
server 198.18.1.3 key 3 iburst minpoll 4
server 198.18.1.4 key 2 iburst minpoll 4
EOC
lt_bg control "$NODE" "$LT_CONTROL" -n -x -c "$LT_TMP/node.conf" -s "$SOCK" --serve 198.18.1.2:123 \
  --metrics off --duration 90
CONTROL_PID=$LT_LAST_PID

# The second control: a client of the first with a key 2 that is wrong there.
cat >"$LT_TMP/wrong.keys" <<EOK
2 MD5 $K2_OTHER
EOK
chmod 600 "$LT_TMP/wrong.keys"
cat >"$LT_TMP/client.conf" <<EOC
keys $LT_TMP/wrong.keys
trustedkey 2
server 198.18.1.2 key 2 iburst minpoll 4
EOC
SOCK2=$LT_TMP/client.sock
lt_bg client "$UP" "$LT_CONTROL" -n -x -c "$LT_TMP/client.conf" -s "$SOCK2" --metrics off --duration 90
CLIENT_PID=$LT_LAST_PID

# source_field ADDR KEY [SOCKET]: one member of the source's row in the status JSON.
source_field() {
  { timeout -k 2 5 "$LT_CTL" -s "${3:-$SOCK}" peers --json || true; } |
    python3 -c '
import json, sys
for s in json.load(sys.stdin)["sources"]:
    if s["remote"] == sys.argv[1]:
        print(s[sys.argv[2]])
' "$1" "$2" 2>/dev/null
}
synced_to_authenticated() {
  local peer
  peer=$(lt_status_field "$SOCK" system_peer 2>/dev/null) || return 1
  [ "$peer" = 198.18.1.1 ] || [ "$peer" = 198.18.1.3 ]
}

lt_wait_for 10 test -S "$SOCK"
lt_check control-started $? "management socket $SOCK"

lt_wait_for 40 synced_to_authenticated
lt_check synchronized $? "system peer $(lt_status_field "$SOCK" system_peer 2>/dev/null) after $SECONDS s"
lt_peers "$SOCK" >"$LT_TMP/peers1.txt" 2>&1
lt_show "$LT_TMP/peers1.txt"

for a in 1 3; do
  auth=$(source_field "198.18.1.$a" auth)
  reach=$(source_field "198.18.1.$a" reach)
  [ "$auth" = ok ] && [ "${reach:-0}" -gt 0 ]
  lt_check "auth-ok-198.18.1.$a" $? "auth ${auth:-?}, reach ${reach:-?} (decimal)"
done
grep -Eq '^[*+]198\.18\.1\.[13] ' "$LT_TMP/peers1.txt"
lt_check peers-table $? "ntpq -p table lists an authenticated server as '*' or '+'"

reach=$(source_field 198.18.1.4 reach)
sent=$(source_field 198.18.1.4 sent)
received=$(source_field 198.18.1.4 received)
auth=$(source_field 198.18.1.4 auth)
[ "$reach" = 0 ] && [ "${sent:-0}" -ge 4 ] && [ "$received" = 0 ] && [ "$auth" = pending ]
lt_check wrong-key-chronyd-silent $? "198.18.1.4 (key 2, wrong secret): reach ${reach:-?}, sent ${sent:-?}, received ${received:-?}, auth ${auth:-?}"

naks() { [ "$(source_field 198.18.1.2 crypto_nak "$SOCK2")" -ge 2 ] 2>/dev/null; }
lt_wait_for 10 naks
reach=$(source_field 198.18.1.2 reach "$SOCK2")
received=$(source_field 198.18.1.2 received "$SOCK2")
nak=$(source_field 198.18.1.2 crypto_nak "$SOCK2")
badmac=$(source_field 198.18.1.2 bad_mac "$SOCK2")
auth=$(source_field 198.18.1.2 auth "$SOCK2")
[ "$reach" = 0 ] && [ "${nak:-0}" -ge 2 ] && [ "$nak" = "$received" ] && [ "$auth" = bad ]
lt_check wrong-key-crypto-nak $? "second control -> 198.18.1.2 (key 2, wrong secret): reach ${reach:-?}, received ${received:-?}, crypto-NAKs ${nak:-?}, bad MACs ${badmac:-?}, auth ${auth:-?}"

# ntpdig with a key the node trusts, then with one it does not.
ntpdig_stratum() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stratum"])' "$1" 2>/dev/null
}
lt_run 10 "$LT_TMP/ntpdig1.out" "$UP" ntpdig -j -t 2 -k "$LT_TMP/ntp.keys" -a 1 198.18.1.2
rc=$?
stratum=$(ntpdig_stratum "$LT_TMP/ntpdig1.out")
[ "$rc" = 0 ] && [ "$stratum" = 2 ]
lt_check ntpdig-key-1 $? "ntpdig -k KEYS -a 1 against --serve: exit $rc, stratum ${stratum:-none}"
[ "$rc" = 0 ] || lt_show "$LT_TMP/ntpdig1.out"
lt_run 10 "$LT_TMP/ntpdig4.out" "$UP" ntpdig -j -t 2 -k "$LT_TMP/ntp.keys" -a 4 198.18.1.2
rc=$?
stratum=$(ntpdig_stratum "$LT_TMP/ntpdig4.out")
[ "$rc" != 0 ] && [ -z "$stratum" ]
lt_check ntpdig-untrusted-key $? "ntpdig -a 4 (not trusted by the node): exit $rc, stratum ${stratum:-none}"
lt_show "$LT_TMP/ntpdig4.out"

# The right secret for key 2, then SIGHUP: that source starts afresh.
write_node_keys "$K2"
kill -HUP "$CONTROL_PID"
lt_wait_for 5 grep -q 'reloaded ' "$LT_TMP/control.log"
grep -q 'reload: source 198.18.1.4 restarted (its key changed)' "$LT_TMP/control.log" &&
  grep -q 'reloaded .*2 sources kept with their state, 1 added, 1 removed' "$LT_TMP/control.log"
lt_check reload-key-changed $? "$(grep -o 'reload.*' "$LT_TMP/control.log" | tr '\n' ';')"
fixed() { [ "$(source_field 198.18.1.4 auth)" = ok ] && [ "$(source_field 198.18.1.4 reach)" != 0 ]; }
lt_wait_for 10 fixed
lt_check key-2-fixed $? "198.18.1.4 after the reload: auth $(source_field 198.18.1.4 auth), reach $(source_field 198.18.1.4 reach)"

kill -TERM "$CONTROL_PID" "$CLIENT_PID"
wait "$CONTROL_PID"
rc=$?
wait "$CLIENT_PID"
rc2=$?
[ "$rc" = 0 ] && [ "$rc2" = 0 ]
lt_check clean-exit $? "exit status $rc (node) and $rc2 (second control) after SIGTERM"
lt_log "control log:"
lt_show "$LT_TMP/control.log"
lt_finish
