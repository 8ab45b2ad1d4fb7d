#!/usr/bin/env bash
# Access control and rate limiting in linetime-dataplane with real clients.
#
#   dataplane_acl.sh      (root; LT_BUILD=build dir)
#
# The dataplane answers on 198.18.0.1 (af_packet on a veth pair) with a
# --restrict-file in ntp.conf's words:
#   restrict default limited kod nomodify notrap nopeer noquery
#   restrict 198.18.0.2 nomodify notrap          the legitimate client: not limited
#   restrict 198.18.0.64 mask 255.255.255.192 ignore
#   restrict 198.18.0.128/26 noserve
#   restrict 198.18.0.192/26 notrust
#   discard average 3 minimum 2
# Checks: ntpdig from 198.18.0.2 is answered; a bounded flood (300 requests in
# about a second) from 198.18.0.3 and 198.18.0.4 gets its first answers, then
# KoD RATE packets that are themselves rate limited, and silence; ntpdig from
# 198.18.0.2 is still answered during the flood; ntpdig from 198.18.0.66
# (ignore) and 198.18.0.130 (noserve) gets no answer; symmetric keys from the
# same file (`keys`, `trustedkey 1`): `ntpdig -k -a 1` gets an answer whose MAC
# ntpdig verifies, a wrong secret for key 1 and the untrusted key 2 get
# crypto-NAKs (ntpdig reports no time); from 198.18.0.200 (notrust) only the
# signed request is answered; the dataplane's final counters account
# for all of it.
LT_ID=${LT_ID:-acl$$}
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STRATUM=10
FLOOD=300
T0=$SECONDS

lt_setup
lt_require_tools ntpdig
lt_make_net
lt_log "test $LT_ID: namespaces $LT_NS_SRV/$LT_NS_CLI, veth $LT_IF_SRV/$LT_IF_CLI, shm $LT_SHM"

C=$LT_NS_CLI
OUT=$LT_TMP
# The server's keys; the clients' files below hold the right secret, a wrong
# one, and a key the server has but does not trust.
cat >"$OUT/ntp.keys" <<EOF
1 AES 2b7e151628aed2a6abf7158809cf4f3c
2 SHA1 untrusted-secret
EOF
chmod 600 "$OUT/ntp.keys"
printf '1 AES 2b7e151628aed2a6abf7158809cf4f3c\n' >"$OUT/client-good.keys"
printf '1 AES 000102030405060708090a0b0c0d0e0f\n' >"$OUT/client-wrong.keys"
printf '2 SHA1 untrusted-secret\n' >"$OUT/client-untrusted.keys"
chmod 600 "$OUT"/client-*.keys
cat >"$OUT/restrict.conf" <<EOF
keys $OUT/ntp.keys
trustedkey 1
# Everyone else is limited, and told so with a KoD.
restrict default limited kod nomodify notrap nopeer noquery
restrict $LT_V4_CLI nomodify notrap
restrict 198.18.0.64 mask 255.255.255.192 ignore
restrict 198.18.0.128/26 noserve
restrict 198.18.0.192/26 notrust
discard average 3 minimum 2
EOF

lt_start_publisher "$STRATUM" 90
lt_start_dataplane af_packet 80 --address "$LT_V4_SRV" --restrict-file "$OUT/restrict.conf" --stats 0.5
if lt_wait_for 10 grep -q "answering at stratum $STRATUM" "$LT_DP_LOG"; then
  lt_pass dataplane-synchronized "'answering at stratum $STRATUM' in the dataplane's log"
else
  lt_fail dataplane-synchronized "no 'answering at stratum $STRATUM' within 10 s"
  lt_show "$LT_DP_LOG"
fi
grep -q "access control from $OUT/restrict.conf: 4 IPv4 and 0 IPv6 prefixes" "$LT_DP_LOG"
lt_check restrict-file-loaded $? "$(grep -o 'access control from .*' "$LT_DP_LOG" | head -n 1)"

# ntpdig_stratum NAME [ntpdig options] : ntpdig from the client namespace's
# current address; prints the stratum of its answer, or nothing.
ntpdig_stratum() { local name=$1; shift; lt_ntpdig_stratum "$OUT/$name.out" "$C" "$LT_V4_SRV" "$@"; }

s=$(ntpdig_stratum allowed)
[ "$s" = "$STRATUM" ]
lt_check allowed-answered $? "ntpdig from $LT_V4_CLI: stratum ${s:-none} (want $STRATUM)"

# --- symmetric-key authentication ---------------------------------------------------
grep -q "authentication: 1 trusted key(s) from $OUT/ntp.keys (1)" "$LT_DP_LOG"
lt_check keys-loaded $? "$(grep -o 'authentication: .*' "$LT_DP_LOG" | head -n 1)"
# ntpdig_auth NAME KEYFILE KEYID : the same, signing with the key.
ntpdig_auth() { ntpdig_stratum "$1" -k "$2" -a "$3"; }
s=$(ntpdig_auth auth-good "$OUT/client-good.keys" 1)
[ "$s" = "$STRATUM" ]
lt_check auth-good-key $? "ntpdig -a 1 with the server's secret: stratum ${s:-none} (want $STRATUM, MAC verified by ntpdig)"
s=$(ntpdig_auth auth-wrong "$OUT/client-wrong.keys" 1)
[ -z "$s" ]
lt_check auth-wrong-secret $? "ntpdig -a 1 with another secret: ${s:+answered at stratum }${s:-no time} (want no time: crypto-NAK)"
s=$(ntpdig_auth auth-untrusted "$OUT/client-untrusted.keys" 2)
[ -z "$s" ]
lt_check auth-untrusted-key $? "ntpdig -a 2 (not in trustedkey): ${s:+answered at stratum }${s:-no time} (want no time: crypto-NAK)"

# --- a bounded flood from two limited addresses -----------------------------------
ip -n "$C" addr add 198.18.0.3/32 dev "$LT_IF_CLI" && ip -n "$C" addr add 198.18.0.4/32 dev "$LT_IF_CLI"
lt_check flood-addresses $? "198.18.0.3 and 198.18.0.4 on $LT_IF_CLI"
cat >"$OUT/flood.py" <<'PY'
# Sends N client requests from each source, 3 ms apart, and counts what comes
# back: "answers kods" per source, one line each.
import socket, struct, sys, time
server, n = sys.argv[1], int(sys.argv[2])
sources = sys.argv[3:]
socks = []
for src in sources:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    socks.append(s)
counts = [[0, 0] for _ in sources]
def drain():
    for i, s in enumerate(socks):
        while True:
            try:
                d = s.recv(512)
            except BlockingIOError:
                break
            if len(d) >= 48 and d[1] == 0 and d[12:16] == b"RATE":
                counts[i][1] += 1
            elif len(d) >= 48:
                counts[i][0] += 1
for k in range(n):
    for s in socks:
        s.sendto(bytes([0x23, 0, 6, 0]) + bytes(36) + struct.pack("!Q", (k + 1) << 20), (server, 123))
    time.sleep(0.003)
    drain()
end = time.time() + 1.0
while time.time() < end:
    drain()
    time.sleep(0.01)
for (a, k) in counts:
    print(a, k)
PY
lt_bg flood "$C" python3 "$OUT/flood.py" "$LT_V4_SRV" "$FLOOD" 198.18.0.3 198.18.0.4
FLOOD_PID=$LT_LAST_PID
sleep 0.3
s=$(ntpdig_stratum during-flood)
[ "$s" = "$STRATUM" ]
lt_check legit-during-flood $? "ntpdig from $LT_V4_CLI while 198.18.0.3/.4 flood: stratum ${s:-none}"
for i in $(seq 100); do kill -0 "$FLOOD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$FLOOD_PID" 2>/dev/null
n=0
while read -r answers kods; do
  n=$((n + 1))
  # ntpd's arithmetic: the first request answered; the next, 3 ms later, is
  # under the 2 s minimum: one KoD; then the bucket stays full: silence.
  [ "$answers" -ge 1 ] && [ "$answers" -le 2 ] && [ "$kods" -ge 1 ] && [ "$kods" -le 2 ]
  lt_check "flood-source-$n" $? "$FLOOD requests: $answers answers, $kods KoD RATE (want 1-2 each, the rest dropped)"
done <"$OUT/flood.log"
[ "$n" -eq 2 ]
lt_check flood-report $? "$n sources reported"

# --- denied addresses --------------------------------------------------------------
# The client's address moves into the ignored range, then the noserve one.
deny() {  # deny NAME ADDRESS
  ip -n "$C" addr flush dev "$LT_IF_CLI" && ip -n "$C" addr add "$2/$LT_V4_LEN" dev "$LT_IF_CLI"
  local s
  s=$(ntpdig_stratum "$1")
  [ -z "$s" ]
  lt_check "$1" $? "ntpdig from $2: ${s:+answered at stratum }${s:-no answer} (want no answer)"
}
deny denied-ignore 198.18.0.66
deny denied-noserve 198.18.0.130
# notrust: only requests signed with a trusted key are answered.
deny denied-notrust-unsigned 198.18.0.200
s=$(ntpdig_auth notrust-signed "$OUT/client-good.keys" 1)
[ "$s" = "$STRATUM" ]
lt_check notrust-signed $? "ntpdig -a 1 from 198.18.0.200 (notrust): stratum ${s:-none} (want $STRATUM)"

lt_stop_dataplane
counters=$(sed -n 's/.*final counters: *//p' "$LT_DP_LOG" | tail -n 1)
if [ -z "$counters" ]; then
  lt_fail final-counters "no 'final counters:' line"
  lt_show "$LT_DP_LOG"
else
  lt_log "final counters: $counters"
  for spec in answered-authenticated:1 answered-crypto-nak-bad-mac:1 answered-crypto-nak-unknown-key:1 \
              answered:3 answered-kod-rate:2 "drop-rate-limited:$((2 * FLOOD - 8))" drop-restrict-ignore:1 \
              drop-restrict-noserve:1 drop-restrict-notrust:1; do
    name=${spec%%:*}
    min=${spec##*:}
    v=$(lt_counter "$name")
    [ "$v" -ge "$min" ]
    lt_check "counter-$name" $? "$name=$v (want >= $min)"
  done
  v=$(lt_counter answered-kod-rate)
  [ "$v" -le 4 ]
  lt_check kod-rate-limited $? "answered-kod-rate=$v (want <= 4: KoDs are rate limited too)"
fi

lt_log "runtime: $((SECONDS - T0)) s"
lt_finish
