#!/usr/bin/env bash
# Authenticated requests end to end: linetime-loadgen signs every request
# (--keys --key) and drives linetime-dataplane over net_memif, whose
# --restrict-file has `keys` and `trustedkey 1 3`. Three runs against one
# dataplane, each at a modest rate for 2 s:
#   key 1 (AES-128-CMAC, trusted):          every answer carries a MAC that
#     verifies; none fails, no crypto-NAK;
#   key 2 (MD5, in the file, not trusted):  every answer is a crypto-NAK;
#   key 3 (SHA1, trusted), interleaved:     every answer verifies, and
#     interleaved answers come back (the MAC covers the request as sent);
#     one port per address, as the dataplane keeps interleaved state per
#     client address.
# Each run's requests give the dataplane one kind of outcome only, so its
# final counters split by run: answered-authenticated equals the verified
# answers of runs 1 and 3, answered-crypto-nak-unknown-key the crypto-NAKs of
# run 2, and rx-frames / tx-frames the requests sent / answers received
# (the generator drains for 0.5 s, so nothing is in flight when it stops).
# The keys file the generator reads in run 2 is readable by others: it must
# say so, and still run.
#
#   loadgen_memif_auth.sh        (root; LT_BUILD=build dir)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=5000        # requests/s
SECONDS_SENT=2
MAC=02:00:00:00:00:01

lt_setup
LOADGEN=$LT_BUILD/dataplane/linetime-loadgen
[ -x "$LOADGEN" ] || lt_skip "$LOADGEN is not built (set LT_BUILD to the build directory)"
[ -n "$(find /usr/lib /usr/local/lib -name 'librte_net_memif.so*' -print -quit 2>/dev/null)" ] ||
  lt_skip "DPDK's memif driver (librte_net_memif) is not installed"

LT_DPDK_PREFIX=lt-lgauth-$LT_ID

if [ "$(nproc)" -ge 2 ]; then dp_cpu=1; lg_cpu=0; else dp_cpu=0; lg_cpu=0; fi
sock=$LT_TMP/memif.sock
eal=(--no-huge -m 128 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error --log-level=pmd.net.memif:error)
lt_log "test $LT_ID: memif socket $sock, shm $LT_SHM, dataplane on CPU $dp_cpu, generator on CPU $lg_cpu"

keys=$LT_TMP/ntp.keys
cat >"$keys" <<'EOF'
# keyno type key
1 AES 3c0ef1a2b5d7e9f0a1b2c3d4e5f60718
2 MD5 notTrustedThere
3 SHA1 5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7
EOF
chmod 600 "$keys"
open_keys=$LT_TMP/ntp-open.keys
cp "$keys" "$open_keys"
chmod 644 "$open_keys"
conf=$LT_TMP/ntp.conf
cat >"$conf" <<EOF
keys $keys
trustedkey 1 3
EOF

lt_bg publish - "$LT_PUBLISH" --shm "$LT_SHM" --stratum 1 --duration 90
ready=$LT_TMP/dataplane.ready
lt_bg dataplane - "$LT_DATAPLANE" "${eal[@]}" --file-prefix "$LT_DPDK_PREFIX-dp" -l "$dp_cpu" \
  --vdev "net_memif0,role=server,socket=$sock,rsize=12,mac=$MAC" \
  -- --shm "$LT_SHM" --address 198.18.0.1 --duration 80 --ready-file "$ready" --restrict-file "$conf"
LT_DP_PID=$LT_LAST_PID
LT_DP_LOG=$LT_TMP/dataplane.log
if lt_wait_for 20 test -s "$ready" && lt_wait_for 10 grep -q 'answering at stratum 1' "$LT_DP_LOG"; then
  lt_pass dataplane-start "memif server up, answering at stratum 1"
else
  lt_fail dataplane-start "not answering at stratum 1 within 30 s"
  lt_show "$LT_DP_LOG"
  lt_finish
fi
grep -q 'authentication: 2 trusted key(s)' "$LT_DP_LOG"
lt_check dataplane-keys $? "$(grep -o 'authentication: .*' "$LT_DP_LOG" | head -n 1)"

# run NAME KEYS-FILE KEY [options...]: one generator run, its JSON in $LT_TMP/NAME.json.
run() {
  local name=$1 file=$2 key=$3
  shift 3
  lt_run 60 "$LT_TMP/$name.out" - "$LOADGEN" "${eal[@]}" --file-prefix "$LT_DPDK_PREFIX-lg" -l "$lg_cpu" \
    --vdev "net_memif0,role=client,socket=$sock,rsize=12" \
    -- --dst-mac "$MAC" --dst 198.18.0.1 --src 198.18.1.0/28 --src-ports 16 \
    --rate "$RATE" --duration "$SECONDS_SENT" --drain 0.5 --json "$LT_TMP/$name.json" \
    --keys "$file" --key "$key" "$@"
  local rc=$?
  lt_check "$name-exit" "$rc" "exit status $rc, key $key, $RATE/s for $SECONDS_SENT s $*"
  if [ "$rc" -ne 0 ] || [ ! -s "$LT_TMP/$name.json" ]; then
    lt_show "$LT_TMP/$name.out"
    lt_finish
  fi
}

# step NAME FIELD [SUBFIELD]: a value of run NAME's only step.
step() { lt_json_step "$LT_TMP/$1.json" "$2" "${3:-}"; }

run trusted "$keys" 1
run untrusted "$open_keys" 2
run xleave "$keys" 3 --interleaved --src-ports 1
lt_stop_dataplane
lt_log "dataplane: $(grep 'final counters:' "$LT_DP_LOG" | tail -n 1 | sed 's/.*final counters://')"

total_sent=0
total_received=0
for r in trusted untrusted xleave; do
  lt_log "$r: sent=$(step $r sent) received=$(step $r received) answered=$(step $r answered)" \
    "unmatched=$(step $r unmatched) auth=$(step $r auth)"
  total_sent=$((total_sent + $(step $r sent)))
  total_received=$((total_received + $(step $r received)))
done

# Run 1: every answer verified.
sent=$(step trusted sent)
answered=$(step trusted answered)
verified=$(step trusted auth verified)
[ "$sent" -gt 0 ] && [ "$answered" -eq "$sent" ] && [ "$verified" -eq "$sent" ] &&
  [ "$(step trusted auth checked)" -eq "$verified" ] && [ "$(step trusted unmatched)" -eq 0 ]
lt_check trusted-all-verified $? "sent $sent, answered $answered, verified $verified of $(step trusted auth checked)"
[ "$(step trusted residence_ns count)" -eq "$answered" ]
lt_check trusted-measured $? "$(step trusted residence_ns count) residence samples for $answered answers"
grep -q 'signed with key 1 (AES' "$LT_TMP/trusted.out"
lt_check trusted-says-key $? "$(grep -o 'requests signed with key [^,]*' "$LT_TMP/trusted.out" | head -n 1)"
grep -q 'macok%' "$LT_TMP/trusted.out"
lt_check trusted-table $? "the table has the MAC columns"

# Run 2: every answer a crypto-NAK; the open keys file is reported.
sent2=$(step untrusted sent)
naks=$(step untrusted auth crypto_nak)
[ "$sent2" -gt 0 ] && [ "$naks" -eq "$sent2" ] && [ "$(step untrusted auth verified)" -eq 0 ] &&
  [ "$(step untrusted auth mac_failed)" -eq 0 ] && [ "$(step untrusted answered)" -eq "$sent2" ]
lt_check untrusted-all-naks $? "sent $sent2, crypto-NAKs $naks, verified $(step untrusted auth verified)"
grep -q "warning: keys file '$open_keys' has mode 0644.*chmod 600" "$LT_TMP/untrusted.out"
lt_check untrusted-exposure-warning $? "$(grep -o 'warning: .*' "$LT_TMP/untrusted.out" | head -n 1)"

# Run 3: interleaved and authenticated.
sent3=$(step xleave sent)
verified3=$(step xleave auth verified)
xl=$(step xleave interleaved)
[ "$sent3" -gt 0 ] && [ "$verified3" -eq "$sent3" ] && [ "$(step xleave auth checked)" -eq "$verified3" ] &&
  [ "$(step xleave answered)" -eq "$sent3" ] && [ "$xl" -gt 0 ]
lt_check xleave-all-verified $? "sent $sent3, verified $verified3, interleaved answers $xl"

# Both sides agree.
dp_auth=$(lt_counter answered-authenticated)
dp_nak=$(lt_counter answered-crypto-nak-unknown-key)
dp_badmac=$(lt_counter answered-crypto-nak-bad-mac)
dp_rx=$(lt_counter rx-frames)
dp_tx=$(lt_counter tx-frames)
[ "$dp_auth" -eq $((verified + verified3)) ]
lt_check authenticated-both-sides $? "dataplane answered-authenticated $dp_auth, generator verified $verified + $verified3"
[ "$dp_nak" -eq "$naks" ] && [ "$dp_badmac" -eq 0 ]
lt_check naks-both-sides $? "dataplane crypto-NAKs (unknown key) $dp_nak, (bad MAC) $dp_badmac; generator $naks"
[ "$dp_rx" -eq "$total_sent" ] && [ "$dp_tx" -eq "$total_received" ]
lt_check frames-both-sides $? "dataplane rx-frames $dp_rx / tx-frames $dp_tx, generator sent $total_sent / received $total_received"

lt_finish
