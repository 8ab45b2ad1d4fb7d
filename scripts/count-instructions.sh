#!/usr/bin/env bash
# Instructions per request through the dataplane loop (net_ring, one lcore),
# counted by valgrind's callgrind: repeatable on this VM, where timings swing
# with vCPU placement. Each figure is the difference of a 20,000-burst and a
# 10,000-burst run (so set-up is not counted), divided by the 320,000 requests
# in between; the harness (refilling requests) is counted the same way and
# subtracted. With access control and rate limiting on (bench_dataplane's
# Acl variants) each is stated too, and as a share of the plain loop fed the
# same requests (the rate-limited ones: BM_DataplaneLoopRotating); so is
# the authenticated path (requests signed with an AES-128-CMAC key: verify,
# answer, sign the answer; its 110-octet frames refilled by its own harness).
#
#   scripts/count-instructions.sh            (root: DPDK)
#   scripts/count-instructions.sh --plain    the plain loop only
#   scripts/count-instructions.sh --auth     the plain loop and the authenticated one
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
per_request() {  # per_request LOOP HARNESS: the loop's own instructions per request
  local loop harness
  loop=$(( $(ir "$1" 20000) - $(ir "$1" 10000) ))
  harness=$(( $(ir "$2" 20000) - $(ir "$2" 10000) ))
  echo "$(((loop - harness) / requests)) $((loop / requests)) $((harness / requests))"
}
read -r plain loop harness <<<"$(per_request BM_DataplaneLoop BM_HarnessOnly)"
echo "instructions per request: loop $loop, harness $harness, dataplane $plain"
[ "${1:-}" = "--plain" ] && exit 0
# Each variant against the plain loop fed like it (the rate-limited ones
# rotate through their clients: BM_DataplaneLoopRotating).
variants="BM_DataplaneLoopAcl10k:BM_HarnessOnly:plain BM_DataplaneLoopAcl100k:BM_HarnessOnly:plain
          BM_DataplaneLoopAclRate100k:BM_HarnessRotating:rotating
          BM_DataplaneLoopAclRate10M:BM_HarnessRotating:rotating
          BM_DataplaneLoopAuthAes:BM_HarnessAuth:plain"
[ "${1:-}" = "--auth" ] && variants="BM_DataplaneLoopAuthAes:BM_HarnessAuth:plain"
plain_rotating=
for variant in $variants; do
  IFS=: read -r name harness reference <<<"$variant"
  if [ "$reference" = rotating ]; then
    if [ -z "$plain_rotating" ]; then
      read -r plain_rotating _ _ <<<"$(per_request BM_DataplaneLoopRotating BM_HarnessRotating)"
      echo "plain loop with rotating clients: dataplane $plain_rotating instructions per request"
    fi
    reference=$plain_rotating
  else
    reference=$plain
  fi
  read -r own _ _ <<<"$(per_request "$name" "$harness")"
  # The rate the instruction counts imply, relative to the plain loop.
  echo "$name: dataplane $own instructions per request ($(awk -v r="$reference" -v o="$own" 'BEGIN { printf "%.1f", 100 * r / o }') % of its plain loop's rate by instructions)"
done
