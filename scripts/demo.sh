#!/usr/bin/env bash
# The main job: installs what is missing, builds linetime and shows what it does.
#
# So far linetime has its foundation: time types with NTP era handling, every
# wire format the dataplane parses, and the pure NTP responder. This demo builds
# them, runs their tests, and measures the responder. The appliance (DPDK
# dataplane + control) joins this demo as it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
echo "demo: building"
meson compile -C build >/dev/null

echo
echo "demo: unit tests and fuzz-corpus replays"
meson test -C build --suite unit --suite fuzz-replay 2>&1 | grep -E '^ *[0-9]+/[0-9]+ '

echo
echo "demo: the pure responder answering bursts of 32 requests on one core"
echo "      ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs)"
build/tests/bench/bench_responder --benchmark_filter='Burst|Harness' --benchmark_min_time=0.3 2>/dev/null |
  grep -E '^(BM_|Benchmark)'
