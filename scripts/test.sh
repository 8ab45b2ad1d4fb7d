#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite (unit, fuzz-replay,
# sim, integration). Ends with one line `N passed, N failed, N skipped` taken
# from meson's testlog.json and exits non-zero on any failure.
#
#   scripts/test.sh              all suites, build dir ./build
#   scripts/test.sh --sanitize   the unit suite under AddressSanitizer and
#                                UndefinedBehaviorSanitizer, build dir ./build-sanitize
set -euo pipefail
cd "$(dirname "$0")/.."

mode=normal
case "${1:-}" in
  "") ;;
  --sanitize) mode=sanitize ;;
  -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
  *) echo "test.sh: unknown option '$1' (use --sanitize or nothing)" >&2; exit 2 ;;
esac

scripts/setup.sh

if [ "$mode" = sanitize ]; then
  builddir=build-sanitize
  setup_args=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Db_lto=false)
  test_args=(--suite unit)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  builddir=build
  setup_args=()
  test_args=()
fi

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "${setup_args[@]}" >/dev/null
fi
echo "test: building in $builddir"
meson compile -C "$builddir"

rc=0
meson test -C "$builddir" --print-errorlogs "${test_args[@]}" || rc=$?

summary=$(python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
)
echo "$summary"
case "$summary" in
  *" 0 failed,"*) ;;
  *) rc=1 ;;
esac
exit $rc
