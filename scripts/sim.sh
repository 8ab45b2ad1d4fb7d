#!/usr/bin/env bash
# Runs the clock-discipline simulation scenarios (tests/sim) and prints a table:
# scenario, simulated days, RMS offset, max offset after convergence, RMS
# frequency error, convergence time, mean poll interval, steps, pass/fail.
#
#   scripts/sim.sh                 the fast versions (the 'sim' test suite)
#   scripts/sim.sh --long          the long, multi-day versions
#   scripts/sim.sh [--long] [--seed N] [ID...]   selected scenarios / other noise
#
# Offsets are the true offset of the simulated local clock (UTC - local),
# sampled every virtual second from the time the scenario converged (stayed in
# its band for 600 s). Exits non-zero if any scenario fails its limits.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
esac
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build -j1 tests/sim/sim_scenarios >/dev/null
build/tests/sim/sim_scenarios --header "$@"
