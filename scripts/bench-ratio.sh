#!/usr/bin/env bash
# The dataplane loop with access control and rate limiting on, as a share of
# the plain loop's rate, by time (issue: "with ACL and rate limiting on, the
# dataplane keeps >= 80 % of its plain rate").
#
# bench_dataplane's loops (net_ring, one lcore, pinned to one CPU) run in
# slices of 20,000 bursts (640,000 requests, 60-150 ms each); every round
# runs one slice of each loop and each harness in random order, for ROUNDS
# rounds. In each round a loop's own time per request is its slice minus its
# harness's slice (the refilling of requests), and its share is the plain
# loop's own time over its own. This VM's vCPUs change placement every second
# or so, which moves single slices by 20 % and more: the shares are stated as
# the median and the quartiles over the rounds, next to the instruction counts
# (scripts/count-instructions.sh), which do not move.
#
#   scripts/bench-ratio.sh [ROUNDS]      (default 30; root: DPDK)
#
# Figures only: nothing here passes or fails on speed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}
case "$rounds" in [1-9]|[1-9][0-9]|[1-9][0-9][0-9]) ;; *) echo "bench-ratio: ROUNDS is a whole number from 1 to 999, not '$rounds'" >&2; exit 2 ;; esac
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build tests/bench/bench_dataplane >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu=$(( $(nproc) - 1 ))
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPUs, kernel $(uname -r); loop pinned to CPU $cpu"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $rounds rounds"
taskset -c "$cpu" build/tests/bench/bench_dataplane \
  --benchmark_filter='^BM_(DataplaneLoop|DataplaneLoopAcl10k|DataplaneLoopAcl100k|DataplaneLoopAclRate100k|DataplaneLoopAclRate10M|HarnessOnly|HarnessRotating)/iterations:20000$' \
  --benchmark_repetitions="$rounds" --benchmark_enable_random_interleaving=true \
  --benchmark_format=json --benchmark_out="$tmp/out.json" --benchmark_out_format=json >/dev/null
python3 - "$tmp/out.json" <<'EOF'
import json, statistics, sys

runs = [r for r in json.load(open(sys.argv[1]))["benchmarks"] if r.get("run_type") == "iteration"]
ns = {}  # benchmark -> repetition -> ns per request
for r in runs:
    name = r["run_name"].split("/")[0].removeprefix("BM_")
    ns.setdefault(name, {})[r["repetition_index"]] = r["ns_per_request"] * 1e9  # given in seconds

def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]

loops = [("DataplaneLoop", "HarnessOnly", "plain"),
         ("DataplaneLoopAcl10k", "HarnessOnly", "ACL, 10 k rules"),
         ("DataplaneLoopAcl100k", "HarnessOnly", "ACL, 100 k rules"),
         ("DataplaneLoopAclRate100k", "HarnessRotating", "ACL + rate limiting, 100 k clients"),
         ("DataplaneLoopAclRate10M", "HarnessRotating", "ACL + rate limiting, 10 M clients")]
rounds = sorted(set.intersection(*(set(ns[n]) for n in ns)))
own = {name: [ns[name][k] - ns[harness][k] for k in rounds] for name, harness, _ in loops}
print(f"{'loop':<36} {'own ns/request: q1  median      q3':>36} {'M req/s':>8}   {'share of plain: q1  median      q3':>36}")
for name, _, label in loops:
    lo, mid, hi = quartiles(own[name])
    share = [p / x for p, x in zip(own["DataplaneLoop"], own[name])]
    s_lo, s_mid, s_hi = quartiles(share)
    print(f"{label:<36} {lo:20.1f} {mid:7.1f} {hi:7.1f} {1e3 / mid:8.2f}   {s_lo:20.1%} {s_mid:7.1%} {s_hi:7.1%}")
EOF
