#!/usr/bin/env bash
# The main job: installs what is missing, builds linetime, and shows the
# appliance answering real NTP clients.
#
# It builds a small network out of two network namespaces joined by a veth
# pair (addresses from 198.18.0.0/15, the benchmarking range): the server side
# runs linetime-dataplane on the veth (DPDK af_packet), serving the local clock
# at stratum 10 as the seeds' `server 127.127.1.0` + `fudge ... stratum 10` do
# (linetime-control, with upstream servers and clock discipline, takes this
# role when it lands), with a TAP interface for everything that is the
# kernel's. The client side asks with ntpdig, ntpdate, chronyd -Q and ping,
# then sends a short bounded burst of requests. No clock is adjusted; all it
# made is removed at the end, also on Ctrl-C. Needs root (network namespaces,
# DPDK). Takes about 30 seconds.
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
set +e
lt_setup
lt_make_net

section() { printf '\n== %s\n' "$*"; }
in_client() { timeout 20 ip netns exec "$LT_NS_CLI" "$@"; }

section "appliance: linetime-dataplane on $LT_IF_SRV (af_packet), TAP $LT_IF_TAP for the kernel"
lt_start_publisher 10 120
lt_start_dataplane af_packet 110 --address "$LT_V4_SRV" --address "$LT_V6_SRV" --tap "$LT_IF_TAP" --stats 5
lt_sysctl "$LT_NS_SRV" "net/ipv6/conf/$LT_IF_TAP/disable_ipv6" 1
ip -n "$LT_NS_SRV" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_TAP"
ip -n "$LT_NS_SRV" link set "$LT_IF_TAP" up
lt_wait_for 10 grep -q 'answering at stratum' "$LT_DP_LOG"
grep '^linetime-dataplane:' "$LT_DP_LOG" | sed 's/^/  /'

section "client: ntpdig -j $LT_V4_SRV"
in_client ntpdig -j "$LT_V4_SRV"
section "client: ntpdig -6 $LT_V6_SRV"
in_client ntpdig -6 "$LT_V6_SRV"
section "client: ntpdate -q $LT_V4_SRV"
in_client ntpdate -q "$LT_V4_SRV"
section "client: chronyd -Q 'server $LT_V4_SRV iburst' (query only, the clock is not touched)"
cat >"$LT_TMP/chrony.conf" <<CONF
server $LT_V4_SRV iburst maxsamples 4
pidfile $LT_TMP/chronyd.pid
cmdport 0
port 0
CONF
in_client chronyd -Q -f "$LT_TMP/chrony.conf" -u root -L 0 2>&1 | grep -E 'offset|wrong' | sed 's/^/  /'
section "client: ping -c 2 $LT_V4_SRV (answered by the dataplane)"
in_client ping -c 2 -W 1 "$LT_V4_SRV" | tail -n 2

section "client: a bounded burst of 20000 NTP requests (at most 10 s) from one UDP socket"
in_client python3 - "$LT_V4_SRV" <<'PY'
import socket, struct, sys, time
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

section "appliance: counters"
lt_stop_dataplane >/dev/null
grep 'final counters:' "$LT_DP_LOG" | sed 's/^linetime-dataplane: /  /'
echo
echo "demo: done; everything it made is being removed"
