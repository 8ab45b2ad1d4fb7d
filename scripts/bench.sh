#!/usr/bin/env bash
# Runs the Google Benchmark programs and prints their figures with the machine
# they ran on. Figures only: nothing here passes or fails on speed.
#
#   scripts/bench.sh [--benchmark_* options passed to every program]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
for exe in build/tests/bench/bench_*; do
  [ -x "$exe" ] || continue
  echo "== ${exe##*/}"
  "$exe" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "$@"
done
