#!/usr/bin/env bash
# Instructions per request through the dataplane loop (net_ring, one lcore),
# counted by valgrind's callgrind: repeatable on this VM, where timings swing
# with vCPU placement. Each figure is the difference of a 20,000-burst and a
# 10,000-burst run (so set-up is not counted), divided by the 320,000 requests
# in between; the harness (refilling requests) is counted the same way and
# subtracted.
#
#   scripts/count-instructions.sh        (root: DPDK)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build tests/bench/bench_dataplane >/dev/null
command -v valgrind >/dev/null || { echo "count-instructions: needs valgrind" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {  # ir NAME ITERATIONS
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" build/tests/bench/bench_dataplane \
    --benchmark_filter="^$1/iterations:$2\$" >/dev/null 2>&1
  callgrind_annotate "$tmp/out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
requests=$((10000 * 32))
loop=$(( $(ir BM_DataplaneLoop 20000) - $(ir BM_DataplaneLoop 10000) ))
harness=$(( $(ir BM_HarnessOnly 20000) - $(ir BM_HarnessOnly 10000) ))
echo "instructions per request: loop $((loop / requests)), harness $((harness / requests)), dataplane $(((loop - harness) / requests))"
