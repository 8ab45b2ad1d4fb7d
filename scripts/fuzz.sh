#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60) from the checked-in
# corpus, with clang, AddressSanitizer and UndefinedBehaviorSanitizer. New inputs
# go to a scratch directory (build-fuzz/corpus/<name>), never into the repo;
# a finding is saved as build-fuzz/findings/<name>/crash-* and fails the run.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

scripts/setup.sh
builddir=build-fuzz
if [ ! -f "$builddir/build.ninja" ]; then
  CXX=clang++ meson setup "$builddir" -Dfuzzing=true -Db_lundef=false >/dev/null
fi
meson compile -C "$builddir" >/dev/null

status=0
printf '%-12s %12s %10s %s\n' target executions exec/s result
for exe in "$builddir"/tests/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue  # not the .p object folders
  name=${exe##*/fuzz_}
  scratch="$builddir/corpus/$name"
  findings="$builddir/findings/$name"
  mkdir -p "$scratch" "$findings"
  log="$builddir/fuzz-$name.log"
  result=ok
  if ! "$exe" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$findings/" \
       "$scratch" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    result="FINDING (see $log)"
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  printf '%-12s %12s %10s %s\n' "$name" "${runs:-?}" "${rate:-?}" "$result"
done
exit $status
