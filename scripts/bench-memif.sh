#!/usr/bin/env bash
# Two processes over net_memif on this machine: linetime-loadgen (one core)
# blasting NTP requests at linetime-dataplane (the other core), and the same
# generator against dpdk-testpmd --forward-mode=macswap on the same link and
# core, the forwarding limit of the machine. Servers are taken alternately
# (A B A B ...) for ROUNDS rounds of SECONDS each and the received rate is
# recorded in 100 ms slices: this VM's vCPUs change placement every second or
# so and two-process rates swing about 3x with it, so the figures compared are
# distributions (median of the fast and of the slow mode), not one number.
#
#   scripts/bench-memif.sh [ROUNDS] [SECONDS]      (root; default 4 rounds of 4 s)
#
# memif rings are 2^14 slots on both ends (rsize=14) so the host's short stalls
# do not overflow them. Everything it starts is stopped at the end, also on
# Ctrl-C; its files are under build/bench-memif/.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
secs=${2:-4}
case "$rounds$secs" in *[!0-9]*) echo "usage: $0 [ROUNDS] [SECONDS]" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench-memif: needs root (DPDK): sudo $0" >&2; exit 1; }
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build dataplane/linetime-dataplane dataplane/linetime-loadgen control/linetime-publish-local >/dev/null

out=build/bench-memif
mkdir -p "$out"
rm -f "$out"/*.csv
sock=/tmp/linetime-bench-memif-$$.sock
shm=/linetime-bench-$$
eal="--no-huge --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error --log-level=pmd.net.memif:error"
server_vdev="net_memif0,role=server,socket=$sock,rsize=14,mac=02:00:00:00:00:01"
client_vdev="net_memif0,role=client,socket=$sock,rsize=14"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$sock" "/dev/shm${shm}"
  rm -rf /var/run/dpdk/lt-bm-s /var/run/dpdk/lt-bm-c 2>/dev/null || true
}
trap cleanup EXIT INT TERM

build/control/linetime-publish-local --shm "$shm" --stratum 2 --duration $((rounds * secs * 3 + 60)) 2>/dev/null &
pids+=($!)

run_one() {  # run_one NAME ROUND
  local name=$1 round=$2 spid
  rm -f "$sock"
  if [ "$name" = linetime ]; then
    timeout $((secs + 20)) build/dataplane/linetime-dataplane $eal -m 256 --file-prefix lt-bm-s -l 1 --vdev "$server_vdev" \
      -- --address 198.18.0.1 --shm "$shm" --mbufs 16383 --duration $((secs + 8)) >"$out/$name-$round.log" 2>&1 &
  else
    # testpmd wants two lcores; both on CPU 1. It quits when stdin closes.
    (sleep $((secs + 6)) | timeout $((secs + 20)) dpdk-testpmd $eal -m 256 --file-prefix lt-bm-s --lcores '(0,1)@1' \
      --vdev "$server_vdev" -- --forward-mode=macswap --total-num-mbufs=16384 -a >"$out/$name-$round.log" 2>&1) &
  fi
  spid=$!
  pids+=("$spid")
  local i
  for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  sleep 1
  timeout $((secs + 20)) build/dataplane/linetime-loadgen $eal -m 256 --file-prefix lt-bm-c -l 0 --vdev "$client_vdev" \
    -- --dst-mac 02:00:00:00:00:01 --duration "$secs" --csv "$out/$name-$round.csv" | sed "s/^/  $name round $round: /"
  kill -INT "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
for r in $(seq "$rounds"); do
  run_one linetime "$r"
  run_one testpmd "$r"
done

python3 - "$out" <<'PY'
import csv, glob, os, statistics, sys
out = sys.argv[1]
def slices(name):
    rates = []
    for f in sorted(glob.glob(os.path.join(out, name + "-*.csv"))):
        rows = list(csv.DictReader(open(f)))[2:]  # skip the first 200 ms: ramp-up
        rates += [int(r["received"]) / 0.1 / 1e6 for r in rows]
    return rates
data = {n: slices(n) for n in ("linetime", "testpmd")}
if min(len(v) for v in data.values()) < 10:
    sys.exit("bench-memif: too few slices recorded (see build/bench-memif/*.log)")
# Placement modes: one cut for both servers, the geometric middle of the
# pooled 10th and 90th percentiles of all slices.
pooled = statistics.quantiles(data["linetime"] + data["testpmd"], n=10)
cut = (pooled[0] * pooled[-1]) ** 0.5
def med(v):
    return statistics.median(v) if v else float("nan")
rows = {}
print(f"received rate per 100 ms slice, M/s (mode cut at {cut:.2f})")
print(f"{'server':9} {'slices':>6} {'p10':>6} {'p25':>6} {'median':>6} {'p75':>6} {'p90':>6} {'fast mode':>14} {'slow mode':>14}")
for name, r in data.items():
    q = statistics.quantiles(r, n=20)
    fast = [x for x in r if x >= cut]; slow = [x for x in r if x < cut]
    rows[name] = (q[1], q[4], med(r), q[14], q[17], med(fast), med(slow))
    print(f"{name:9} {len(r):6d} {q[1]:6.2f} {q[4]:6.2f} {med(r):6.2f} {q[14]:6.2f} {q[17]:6.2f} "
          f"{med(fast):6.2f} ({len(fast):3d}) {med(slow):6.2f} ({len(slow):3d})")
a, b = rows["linetime"], rows["testpmd"]
names = ["p10", "p25", "median", "p75", "p90", "fast mode", "slow mode"]
print("linetime/testpmd: " + ", ".join(f"{n} {x / y:.2f}" for n, x, y in zip(names, a, b) if y == y and y > 0))
PY
