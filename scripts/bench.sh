#!/usr/bin/env bash
# The side-by-side benchmark of the latency lab, in one run on one machine:
#   memif  linetime-dataplane vs dpdk-testpmd --forward-mode=macswap over
#          net_memif (the forwarding limit of the machine), scripts/bench-memif.sh;
#   veth   linetime-dataplane on net_af_xdp vs Debian's chronyd -x on the same
#          veth pair, scripts/bench-veth.sh: loss-free rates, and residence,
#          offset and delay at 10 % and 80 % of linetime's loss-free rate.
# The same generator (linetime-loadgen) and core budget everywhere: the
# generator on one CPU, the server under test on the other; servers taken
# alternately (A B A B ...) for ROUNDS rounds; rates recorded in 100 ms slices,
# because this VM's vCPU placement flips every second or so and two-process
# rates swing about 3x with it: compare distributions, not single numbers.
# It prints every figure, the ratios and the machine, writes
# build/bench/summary.txt and summary.json, and draws the plots
# (scripts/plot-bench.py: build/bench/*.png).
#
#   scripts/bench.sh [--rounds N] [--seconds S] [--micro | --only-micro] [--benchmark_* ...]
#
#   --rounds N      rounds of each comparison (each script's default: 4 memif, 3 veth)
#   --seconds S     seconds per server and round on memif, per search step on veth
#   --micro         first the Google Benchmark programs (build/tests/bench/bench_*)
#   --only-micro    only those, with the --benchmark_* options passed to every program
#
# Figures only: nothing here passes or fails on speed. Root (DPDK, namespaces).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

rounds=""
seconds=""
micro=0
side=1
bm_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds|--seconds)
      [ $# -ge 2 ] || { echo "bench: $1 needs a value (see $0 --help)" >&2; exit 2; }
      if [ "$1" = --rounds ]; then rounds=$2; else seconds=$2; fi
      shift 2 ;;
    --micro) micro=1; shift ;;
    --only-micro) micro=1; side=0; shift ;;
    --benchmark_*) bm_args+=("$1"); micro=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench: unknown option '$1' (see $0 --help)" >&2; exit 2 ;;
  esac
done
case "$rounds" in ""|[1-9]|[1-9][0-9]) ;; *) echo "bench: --rounds takes a whole number from 1 to 99, not '$rounds'" >&2; exit 2 ;; esac
case "$seconds" in ""|[1-9]|[1-9][0-9]) ;; *) echo "bench: --seconds takes a whole number from 1 to 60, not '$seconds'" >&2; exit 2 ;; esac
if [ "$side" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "bench: the side-by-side benchmark needs root (DPDK, network namespaces): sudo $0 (or --only-micro)" >&2
  exit 1
fi
scripts/setup.sh || exit 1
[ -f build/build.ninja ] || meson setup build >/dev/null || exit 1

out=build/bench
mkdir -p "$out"
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPUs, kernel $(uname -r)"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "machine: $machine"
echo "date: $started"

if [ "$micro" -eq 1 ]; then
  echo
  echo "== micro-benchmarks (Google Benchmark, one process)"
  meson compile -C build ${LT_JOBS:+-j "$LT_JOBS"} >/dev/null || { echo "bench: the build failed (meson compile -C build)" >&2; exit 1; }
  for exe in build/tests/bench/bench_*; do
    [ -x "$exe" ] || continue
    echo "== ${exe##*/}"
    "$exe" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "${bm_args[@]}"
  done
fi
[ "$side" -eq 1 ] || exit 0

args=()
[ -n "$rounds" ] && args+=("$rounds")
[ -n "$rounds" ] && [ -n "$seconds" ] && args+=("$seconds")
[ -z "$rounds" ] && [ -n "$seconds" ] && args+=(4 "$seconds")

echo
echo "== memif: linetime-dataplane vs dpdk-testpmd macswap (received rate per 100 ms slice)"
scripts/bench-memif.sh "${args[@]}" 2>&1 | tee "$out/memif.txt"
memif_rc=${PIPESTATUS[0]}
rm -rf "$out/memif"
mkdir -p "$out/memif"
cp build/bench-memif/*.csv "$out/memif/" 2>/dev/null

veth_args=("${args[@]}")
[ -z "$rounds" ] && [ -n "$seconds" ] && veth_args=(3 "$seconds")
echo
echo "== veth: linetime-dataplane on af_xdp vs chronyd -x"
scripts/bench-veth.sh "${veth_args[@]}" 2>&1 | tee "$out/veth.txt"
veth_rc=${PIPESTATUS[0]}

echo
echo "== summary"
python3 - "$out" "$machine" "$started" "$memif_rc" "$veth_rc" <<'PY' | tee "$out/summary.txt"
import csv, glob, json, os, statistics, sys
out, machine, started, memif_rc, veth_rc = sys.argv[1:6]
print(f"machine: {machine}")
print(f"date: {started}")
summary = {"machine": machine, "date": started, "memif": None, "veth": None}

def rates(name):
    v = []
    for f in sorted(glob.glob(os.path.join(out, "memif", name + "-*.csv"))):
        rows = list(csv.DictReader(open(f)))[2:]  # the first 200 ms ramp up
        v += [int(r["received"]) / 0.1 / 1e6 for r in rows]
    return v

m = {n: rates(n) for n in ("linetime", "testpmd")}
if memif_rc == "0" and all(len(v) >= 10 for v in m.values()):
    pooled = statistics.quantiles(m["linetime"] + m["testpmd"], n=10)
    cut = (pooled[0] * pooled[-1]) ** 0.5  # one cut between the two placement modes
    summary["memif"] = {"mode_cut_mps": cut}
    print(f"memif, received M/s per 100 ms slice: {'p10':>6} {'median':>6} {'p90':>6} {'fast':>6} {'slow':>6}")
    for n, v in m.items():
        q = statistics.quantiles(v, n=10)
        fast = [x for x in v if x >= cut]
        slow = [x for x in v if x < cut]
        row = {"slices": len(v), "p10": q[0], "median": statistics.median(v), "p90": q[-1],
               "fast_mode_median": statistics.median(fast) if fast else None,
               "slow_mode_median": statistics.median(slow) if slow else None}
        summary["memif"][n] = row
        f = lambda x: f"{x:6.2f}" if x is not None else "     -"
        print(f"  {n:9} ({len(v):4d} slices)              {f(row['p10'])} {f(row['median'])} {f(row['p90'])} "
              f"{f(row['fast_mode_median'])} {f(row['slow_mode_median'])}")
    a, b = summary["memif"]["linetime"], summary["memif"]["testpmd"]
    ratios = {k: a[k] / b[k] for k in ("median", "fast_mode_median", "slow_mode_median") if a[k] and b[k]}
    summary["memif"]["ratio"] = ratios
    print("  linetime / testpmd: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in ratios.items())
          + " (goal >= 0.85)")
else:
    print(f"memif: no figures (bench-memif.sh status {memif_rc}; see {out}/memif.txt)")

vs = os.path.join(out, "veth-summary.json")
if veth_rc == "0" and os.path.exists(vs):
    v = json.load(open(vs))
    summary["veth"] = v
    for n in ("linetime", "chronyd"):
        r = v["loss_free_rate"].get(n, {})
        if r:
            print(f"veth loss-free rate {n:8}: median {r['median']:.0f}/s (min {r['min']:.0f}, max {r['max']:.0f}, {r['rounds']} rounds)")
    if "ratio" in v:
        print(f"  linetime / chronyd: {v['ratio']['median']:.2f}x (goal >= 2x)")
    for n, loads in v["quality"].items():
        for load, q in loads.items():
            r, o = q["residence_ns"], q["offset_ns"]
            print(f"veth {n:8} at {load} load: residence p50 {r['p50'] / 1e3:.2f} us, p99 {r['p99'] / 1e3:.2f} us; "
                  f"offset p50 {o['p50'] / 1e3:.2f} us, p10..p90 {o['p10'] / 1e3:.2f}..{o['p90'] / 1e3:.2f} us")
else:
    print(f"veth: no figures (bench-veth.sh status {veth_rc}; see {out}/veth.txt)")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
PY
python3 scripts/plot-bench.py "$out" "$out/memif" || echo "bench: no plots (see the message above)"
[ "$memif_rc" -eq 0 ] && [ "$veth_rc" -eq 0 ]
