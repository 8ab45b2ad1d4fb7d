#!/usr/bin/env bash
# The dataplane loop with access control and rate limiting on, as a share of
# the plain loop's rate, by time: the figure behind the goal that with both
# on the dataplane keeps at least 80 % of its plain rate.
#
# bench_dataplane's loops (net_ring, one lcore, pinned to one CPU) run in
# slices of 20,000 bursts (640,000 requests, 50-100 ms each); every round runs
# one slice of each loop and each harness in random order, for ROUNDS rounds.
# A loop's own time per request is its time minus its harness's (the
# refilling of requests). Each loop is compared with the plain loop fed
# like it by the same harness: the ACL loops with the plain loop (one
# client), the rate-limited ones with the plain loop fed rotating clients
# (without access control the source makes no difference). This VM's vCPUs change placement every second or so and other
# guests share the caches, which slows single slices by 20-60 %:
# interference only ever adds time, so the figures are stated at the 10th
# percentile of the slices (the machine at its quietest) and at the median,
# each with the loop's share of its reference's rate, and as the median of
# the shares within each round (the two slices a few tens of ms apart). The
# instruction counts (scripts/count-instructions.sh) do not move at all.
#
#   scripts/bench-ratio.sh [ROUNDS]      (default 60; root: DPDK)
#
# Figures only: nothing here passes or fails on speed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-60}
case "$rounds" in [2-9]|[1-9][0-9]|[1-9][0-9][0-9]) ;; *) echo "bench-ratio: ROUNDS is a whole number from 2 to 999, not '$rounds'" >&2; exit 2 ;; esac
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build tests/bench/bench_dataplane >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu=$(( $(nproc) - 1 ))
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPUs, kernel $(uname -r); loop pinned to CPU $cpu"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $rounds rounds"
taskset -c "$cpu" build/tests/bench/bench_dataplane \
  --benchmark_filter='^BM_(DataplaneLoop|DataplaneLoopRotating|DataplaneLoopAcl10k|DataplaneLoopAcl100k|DataplaneLoopAclRate100k|DataplaneLoopAclRate10M|HarnessOnly|HarnessRotating)/iterations:20000$' \
  --benchmark_repetitions="$rounds" --benchmark_enable_random_interleaving=true \
  --benchmark_format=json --benchmark_out="$tmp/out.json" --benchmark_out_format=json >/dev/null
python3 - "$tmp/out.json" <<'EOF'
import json, statistics, sys

runs = [r for r in json.load(open(sys.argv[1]))["benchmarks"] if r.get("run_type") == "iteration"]
ns = {}  # benchmark -> repetition -> ns per request
for r in runs:
    name = r["run_name"].split("/")[0].removeprefix("BM_")
    ns.setdefault(name, {})[r["repetition_index"]] = r["ns_per_request"] * 1e9  # given in seconds

# loop, its harness, its reference loop (with the same harness), label
loops = [("DataplaneLoop", "HarnessOnly", "DataplaneLoop", "plain"),
         ("DataplaneLoopAcl10k", "HarnessOnly", "DataplaneLoop", "ACL, 10 k rules"),
         ("DataplaneLoopAcl100k", "HarnessOnly", "DataplaneLoop", "ACL, 100 k rules"),
         ("DataplaneLoopRotating", "HarnessRotating", "DataplaneLoopRotating", "plain, rotating clients"),
         ("DataplaneLoopAclRate100k", "HarnessRotating", "DataplaneLoopRotating", "ACL + rate limiting, 100 k clients"),
         ("DataplaneLoopAclRate10M", "HarnessRotating", "DataplaneLoopRotating", "ACL + rate limiting, 10 M clients")]
def at(name, q):
    xs = list(ns[name].values())
    return statistics.quantiles(xs, n=10, method="inclusive")[0] if q == "p10" else statistics.median(xs)
def paired(name, harness, ref):
    # Rounds where interference left a loop no faster than its harness say nothing.
    shares = [(ns[ref][i] - ns[harness][i]) / (ns[name][i] - ns[harness][i]) for i in ns[name]
              if ns[name][i] > ns[harness][i] and ns[ref][i] > ns[harness][i]]
    return statistics.median(shares) if shares else float("nan")

print(f"{'loop':<36} {'own ns/request':>15} {'M req/s':>13}   share of its reference's rate")
print(f"{'':<36} {'(10th percentile | median)':>29}   10th pct | median | paired")
for name, harness, ref, label in loops:
    cells = []
    for q in ("p10", "median"):
        own = at(name, q) - at(harness, q)
        reference = at(ref, q) - at(harness, q)
        cells.append((own, 1e3 / own, reference / own))
    print(f"{label:<36} {cells[0][0]:6.1f} | {cells[1][0]:6.1f} {cells[0][1]:5.2f} | {cells[1][1]:5.2f} "
          f"{cells[0][2]:8.1%} | {cells[1][2]:6.1%} | {paired(name, harness, ref):6.1%}")
EOF
