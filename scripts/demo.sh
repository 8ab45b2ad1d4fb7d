#!/usr/bin/env bash
# The main job: installs what is missing, builds linetime, and recreates the
# seeds' cluster in network namespaces, with linetime in every role ntpd had.
#
#   upstream "public" servers   three Debian chronyd -x (local stratum 1) at
#                               198.18.0.11-13; the third runs 0.5 s ahead
#                               under faketime: a falseticker
#   the time server (appliance) linetime-dataplane on a veth (DPDK af_xdp, or
#                               af_packet where the kernel lacks AF_XDP) and
#                               linetime-control in appliance mode, configured
#                               with the seeds' ntp.conf, its servers rewritten
#                               to the ones above (198.18.0.1)
#   cluster nodes ltt2-ltt5     linetime-control in node mode with the seeds'
#                               client ntp.conf, pointed at the appliance
#
# It prints the appliance's and a node's source tables (the falseticker marked
# 'x'), a node's status, what real clients (ntpdig, ntpdate) get from the
# appliance, then a short bounded load burst and the dataplane's counters. No
# clock is adjusted (every linetime-control runs with -x); everything it made
# is removed at the end, also on Ctrl-C. Needs root. About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (it creates network namespaces and runs DPDK): sudo $0" >&2
  exit 1
fi
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
echo "demo: building"
meson compile -C build >/dev/null

export LT_BUILD=$PWD/build
# shellcheck source=../tests/integration/lib.sh
source tests/integration/lib.sh
# shellcheck source=../tests/integration/control_lib.sh
source tests/integration/control_lib.sh
set +e
lt_setup
lt_make_net
S=$LT_NS_SRV
C=$LT_NS_CLI
T0=$SECONDS

section() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/  /'; }
in_client() { timeout 20 ip netns exec "$C" "$@"; }

section "upstream servers: chronyd -x at 198.18.0.11, .12 and .13 (faketime +0.5 s: a falseticker)"
for i in 1 2 3; do ip -n "$C" addr add "198.18.0.1$i/$LT_V4_LEN" dev "$LT_IF_CLI"; done
lt_chrony_upstream up1 "$C" 198.18.0.11
lt_chrony_upstream up2 "$C" 198.18.0.12
lt_chrony_upstream up3 "$C" 198.18.0.13 +0.5

mode=af_xdp
(lt_require_af_xdp) >/dev/null 2>&1 || mode=af_packet
section "appliance: linetime-dataplane on $LT_IF_SRV ($mode), TAP $LT_IF_TAP for the kernel, 198.18.0.1"
lt_start_dataplane "$mode" 110 --tap "$LT_IF_TAP" --upstream-ports 40000-40009 --stats 5 >/dev/null
lt_sysctl "$S" "net/ipv6/conf/$LT_IF_TAP/disable_ipv6" 1
ip -n "$S" link set "$LT_IF_TAP" up
ip -n "$S" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP"
lt_wait_for 5 grep -q "address $LT_V4_SRV/$LT_V4_LEN appeared" "$LT_DP_LOG"
grep '^linetime-dataplane:' "$LT_DP_LOG" | head -n 8 | indent

section "appliance: the seeds' ntp.conf, servers and subnet rewritten to the demo's"
# The seeds' server (ntp.conf of the time server), with its public servers
# replaced by the three above, its LAN by the demo's, polling every 2 s so the
# demo is quick, and the keys/crypto files it names left out (none here).
sed -e 's/^server 210\.72\.145\.44 perfer/server 198.18.0.11 perfer iburst minpoll 1 maxpoll 1/' \
  -e 's/^server 1\.cn\.pool\.ntp\.org/server 198.18.0.12 iburst minpoll 1 maxpoll 1/' \
  -e 's/^server 0\.asia\.pool\.ntp\.org/server 198.18.0.13 iburst minpoll 1 maxpoll 1/' \
  -e 's/1\.cn\.pool\.ntp\.org/198.18.0.12/; s/0\.asia\.pool\.ntp\.org/198.18.0.13/' \
  -e 's/192\.168\.21\.0 mask 255\.255\.255\.0/198.18.0.0 mask 255.255.255.0/' \
  -e 's|^driftfile .*|driftfile '"$LT_TMP"'/appliance.drift|' \
  -e '/^includefile/d; /^keys/d' configs/seed-server.conf >"$LT_TMP/appliance.conf"
printf 'tos orphanwait 10\nshm %s\n' "$LT_SHM" >>"$LT_TMP/appliance.conf"
grep -Ev '^(#|$)' "$LT_TMP/appliance.conf" | indent
"$LT_CONTROL" --check-config "$LT_TMP/appliance.conf" | grep -E 'warning|error|configuration' | indent
APPLIANCE_SOCK=$LT_TMP/appliance.sock
lt_bg appliance "$S" "$LT_CONTROL" -n -x -c "$LT_TMP/appliance.conf" -s "$APPLIANCE_SOCK" --upstream-port 40000 --duration 100
lt_wait_for 10 test -S "$APPLIANCE_SOCK"
synced() { [ "$(lt_status_field "$1" mode 2>/dev/null)" = synchronized ]; }
lt_wait_for 40 synced "$APPLIANCE_SOCK"
sleep 6  # a few more polls for the falseticker's verdict
section "appliance: linetimectl peers (the falseticker marked x)"
lt_peers "$APPLIANCE_SOCK" | indent

section "nodes ltt2-ltt5: linetime-control in node mode, the seeds' client ntp.conf pointed at the appliance"
sed -e 's/192\.168\.11\.11/198.18.0.1 iburst minpoll 1 maxpoll 1/' \
  -e 's/^restrict 198\.18\.0\.1 iburst minpoll 1 maxpoll 1/restrict 198.18.0.1/' configs/seed-ltt2-client.conf \
  >"$LT_TMP/node.conf"
grep -Ev '^(#|$)' "$LT_TMP/node.conf" | indent
for n in 2 3 4 5; do
  lt_bg "ltt$n" "$C" "$LT_CONTROL" -n -x -c "$LT_TMP/node.conf" -s "$LT_TMP/ltt$n.sock" \
    -f "$LT_TMP/ltt$n.drift" --metrics off --duration 90
done
lt_wait_for 10 test -S "$LT_TMP/ltt5.sock"
for n in 2 3 4 5; do lt_wait_for 30 synced "$LT_TMP/ltt$n.sock"; done
section "node ltt2: linetimectl peers"
lt_peers "$LT_TMP/ltt2.sock" | indent
section "node ltt2: linetimectl status (ntpstat's text and exit code)"
lt_ntpstat "$LT_TMP/ltt2.sock" | indent
echo "  exit code ${PIPESTATUS[0]}"
section "nodes ltt2-ltt5 at a glance"
for n in 2 3 4 5; do
  printf 'ltt%s: %s, stratum %s, offset %s ms\n' "$n" "$(lt_status_field "$LT_TMP/ltt$n.sock" mode)" \
    "$(lt_status_field "$LT_TMP/ltt$n.sock" stratum)" "$(lt_status_field "$LT_TMP/ltt$n.sock" offset_ms)"
done | indent

section "real clients against the appliance: ntpdig -j $LT_V4_SRV, ntpdate -q $LT_V4_SRV"
in_client ntpdig -j "$LT_V4_SRV" | indent
in_client ntpdate -q "$LT_V4_SRV" 2>&1 | indent
section "ntpsec's ntpq -p $LT_V4_SRV (mode 6: through the dataplane's exception path to the control)"
if lt_fetch_ntpq; then
  in_client env PYTHONPATH="$LT_NTPQ_PY" python3 "$LT_NTPQ_ROOT/usr/bin/ntpq" -n -p "$LT_V4_SRV" 2>&1 | indent
else
  echo "  skipped: $LT_NTPQ_ERROR"
fi

section "a bounded burst of 20000 NTP requests (at most 10 s) from one client socket"
in_client python3 - "$LT_V4_SRV" <<'PY'
import socket, sys, time
addr = (sys.argv[1], 123)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
req = bytes([0x23]) + bytes(47)
sent = got = 0
t0 = time.time()
while sent < 20000 and time.time() - t0 < 10:
    s.sendto(req, addr)
    sent += 1
    try:
        while True:
            s.recv(512); got += 1
    except BlockingIOError:
        pass
end = time.time() + 0.5
while time.time() < end:
    try:
        s.recv(512); got += 1
    except BlockingIOError:
        time.sleep(0.01)
dt = time.time() - t0
print(f"  sent {sent}, answered {got} in {dt:.2f} s ({sent/dt:.0f} requests/s: the client's kernel socket is the limit here)")
PY

section "appliance: linetimectl counters --shm $LT_SHM --interval 1"
ip netns exec "$S" timeout 10 "$LT_CTL" counters --shm "$LT_SHM" --interval 1 | indent
lt_stop_dataplane >/dev/null
echo
echo "demo: done in $((SECONDS - T0)) s; everything it made is being removed"
