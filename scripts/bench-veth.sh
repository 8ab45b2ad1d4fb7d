#!/usr/bin/env bash
# The veth testbed (benchmarks 12 and 13 of the dataplane issue): a server and
# a client network namespace joined by a veth pair (198.18.0.0/24, RFC 2544).
# The server end is served alternately (A B A B ...) by
#   A  linetime-dataplane on net_af_xdp, the kernel kept off the interface;
#   B  Debian's chronyd -x (allow, local stratum 1) bound to the same address on
#      the kernel interface, once the dataplane has let go of it;
# both on one CPU (the dataplane's lcore, taskset for chronyd). The same
# generator, linetime-loadgen on the client end (net_af_packet, or net_af_xdp
# with LOADGEN_PMD=af_xdp) pinned to the other CPU, speaks for 254 client
# addresses x 256 ports in 198.18.1.0/24 and answers the server kernel's ARP
# for them.
#
#   scripts/bench-veth.sh [ROUNDS] [SECONDS]    (root; default 3 rounds, 2 s per step)
#
# 1. Loss-free rate: per round and server, linetime-loadgen --find-max (loss
#    <= 0.1 %, each step SECONDS long, the rate recorded in 100 ms slices); the
#    distribution over rounds per server and the ratio linetime / chronyd.
# 2. Timestamp quality: per round and server, steps at 10 % and 80 % of
#    linetime's median loss-free rate; p10/p50/p90/p99 of the server residence
#    (T3 - T2), of the offset the clients measure (the server's timestamp error
#    against the generator's clock, both on this host) and of the round-trip
#    delay.
#
# Figures only: nothing here passes or fails on speed. Every file is under
# build/bench/ (veth-*.csv per 100 ms slice, veth-*.json per step, the
# summary veth-summary.json and .txt, the servers' logs in build/bench/logs/).
# On a veth pair the receive side's kernel work (and XDP in generic mode) runs
# in the softirq of the sending CPU: the "one core" of a server is its process,
# not the whole path. Everything it creates (namespaces, processes, shared
# memory, DPDK runtime files) is removed at the end, also on failure or Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
rounds=${1:-3}
secs=${2:-2}
case "$rounds$secs" in *[!0-9.]*|"") echo "usage: $0 [ROUNDS] [SECONDS]" >&2; exit 2 ;; esac
[ "$rounds" -ge 1 ] 2>/dev/null || { echo "bench-veth: ROUNDS must be a whole number >= 1" >&2; exit 2; }
awk -v s="$secs" 'BEGIN { exit !(s >= 0.5 && s <= 60) }' ||
  { echo "bench-veth: SECONDS per step must be from 0.5 to 60" >&2; exit 2; }
gen_pmd=${LOADGEN_PMD:-af_packet}
case "$gen_pmd" in af_packet|af_xdp) ;; *) echo "bench-veth: LOADGEN_PMD is af_packet or af_xdp, not '$gen_pmd'" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench-veth: needs root (namespaces, veth, DPDK): sudo $0 $*" >&2; exit 1; }
if ! command -v chronyd >/dev/null || ! command -v taskset >/dev/null; then
  echo "bench-veth: chronyd and taskset are needed: run scripts/setup.sh as root" >&2
  exit 1
fi
scripts/setup.sh || exit 1
[ -f build/build.ninja ] || meson setup build >/dev/null || exit 1
meson compile -C build ${LT_JOBS:+-j "$LT_JOBS"} dataplane/linetime-dataplane dataplane/linetime-loadgen \
  control/linetime-publish-local >/dev/null || { echo "bench-veth: the build failed (meson compile -C build)" >&2; exit 1; }

export LT_BUILD=$root/build
# Names carry "bench" and this run's pid: lt-bench<pid>-srv, ltbench<pid>s.
LT_ID=bench$$
# shellcheck source=../tests/integration/lib.sh
source tests/integration/lib.sh
LOADGEN=$LT_BUILD/dataplane/linetime-loadgen
[ -x "$LOADGEN" ] || lt_skip "$LOADGEN is not built"
lt_setup
lt_require_af_xdp
lt_require_tools chronyd taskset ss

out=$root/build/bench
logs=$out/logs
mkdir -p "$logs"
rm -f "$out"/veth-*.csv "$out"/veth-*.json "$out"/veth-*.txt "$logs"/veth-*
dpdk_prefix=lt-$LT_ID
# shellcheck disable=SC2317  # run by the EXIT trap
bench_cleanup() {
  local rc=$?
  rm -rf /var/run/dpdk/"$dpdk_prefix"-* 2>/dev/null
  (exit "$rc")
  lt_cleanup
}
trap bench_cleanup EXIT

if [ "$(nproc)" -ge 2 ]; then server_cpu=1; gen_cpu=0; else server_cpu=0; gen_cpu=0; fi
eal=(--no-huge -m 128 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error --log-level=pmd.net.af_xdp:error
     --log-level=pmd.net.af_packet:error)
src_prefix=198.18.1.0/24
src_ports=256
case "$gen_pmd" in
  af_packet) gen_vdev="net_af_packet0,iface=$LT_IF_CLI" ;;
  af_xdp) gen_vdev="net_af_xdp0,iface=$LT_IF_CLI,start_queue=0,queue_count=1" ;;
esac
# Upper bound of one --find-max run: the unpaced step and at most 12 search
# steps, each with its drain, plus start-up.
findmax_bound=$(awk -v s="$secs" 'BEGIN { printf "%d", 13 * (s + 0.5) + 30 }')
step_bound=$(awk -v s="$secs" 'BEGIN { printf "%d", 2 * (s + 0.5) + 30 }')
server_bound=$((findmax_bound + 60))

lt_make_net
srv_mac=$(ip -n "$LT_NS_SRV" -o link show "$LT_IF_SRV" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[ -n "$srv_mac" ] || { lt_log "bench-veth: no MAC address on $LT_IF_SRV"; exit 1; }
# The publisher outlives every round; the dataplane serves its local-clock state.
lt_start_publisher 1 $((rounds * 2 * (findmax_bound + step_bound + 40) + 120))

machine="$(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPUs, kernel $(uname -r)"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
lt_log "machine: $machine"
lt_log "date: $started"
lt_log "testbed: namespaces $LT_NS_SRV/$LT_NS_CLI, veth $LT_IF_SRV/$LT_IF_CLI, server $LT_V4_SRV ($srv_mac) on CPU $server_cpu,"
lt_log "  generator linetime-loadgen on net_$gen_pmd on CPU $gen_cpu, clients $src_prefix x $src_ports ports; $rounds round(s), $secs s per step"

# --- the server end: bypass (dataplane) or kernel (chronyd) --------------------

# The kernel serves: the server address, ARP and a route to the clients on the
# veth (XDP detached in case a dataplane left it behind).
kernel_on() {
  ip -n "$LT_NS_SRV" link set dev "$LT_IF_SRV" xdp off 2>/dev/null
  ip -n "$LT_NS_SRV" link set "$LT_IF_SRV" arp on &&
    ip -n "$LT_NS_SRV" addr add "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_SRV" &&
    ip -n "$LT_NS_SRV" route add "$src_prefix" dev "$LT_IF_SRV"
}
# The kernel stays out of the veth's traffic while the dataplane owns it.
kernel_off() {
  ip -n "$LT_NS_SRV" route del "$src_prefix" dev "$LT_IF_SRV" 2>/dev/null
  ip -n "$LT_NS_SRV" addr del "$LT_V4_SRV/$LT_V4_LEN" dev "$LT_IF_SRV" 2>/dev/null
  ip -n "$LT_NS_SRV" neigh flush dev "$LT_IF_SRV" 2>/dev/null
  ip -n "$LT_NS_SRV" link set "$LT_IF_SRV" arp off
}

server_pid=""
server_log=""

# stop_server: SIGINT (the dataplane prints its final counters), SIGKILL after 10 s.
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -INT "$server_pid" 2>/dev/null
  local _
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

# start_server NAME TAG : the server up and answering, or a message and 1.
start_server() {
  local name=$1 tag=$2
  server_log=$logs/veth-$tag-server.log
  if [ "$name" = linetime ]; then
    kernel_off
    local ready=$LT_TMP/dataplane.ready
    rm -f "$ready"
    ip netns exec "$LT_NS_SRV" "$LT_DATAPLANE" "${eal[@]}" --file-prefix "$dpdk_prefix-dp" -l "$server_cpu" \
      --vdev "net_af_xdp0,iface=$LT_IF_SRV,start_queue=0,queue_count=1" \
      -- --shm "$LT_SHM" --address "$LT_V4_SRV" --duration "$server_bound" --ready-file "$ready" >"$server_log" 2>&1 &
    server_pid=$!
    LT_PIDS+=("$server_pid")
    lt_wait_for 20 test -s "$ready" && lt_wait_for 10 grep -q 'answering at stratum' "$server_log" && return 0
    lt_log "bench-veth: linetime-dataplane did not come up answering within 30 s; its log ($server_log):"
  else
    kernel_on || { lt_log "bench-veth: cannot put $LT_V4_SRV on $LT_IF_SRV for chronyd"; return 1; }
    cat >"$LT_TMP/chronyd.conf" <<EOC
local stratum 1
allow 198.18.0.0/15
bindaddress $LT_V4_SRV
cmdport 0
bindcmdaddress $LT_TMP/chronyd.sock
pidfile $LT_TMP/chronyd.pid
EOC
    ip netns exec "$LT_NS_SRV" taskset -c "$server_cpu" chronyd -x -d -u root -f "$LT_TMP/chronyd.conf" >"$server_log" 2>&1 &
    server_pid=$!
    LT_PIDS+=("$server_pid")
    # shellcheck disable=SC2016  # expanded by the inner sh
    lt_wait_for 10 sh -c '[ -n "$(ip netns exec "$1" ss -Hlun "sport = :123")" ]' sh "$LT_NS_SRV" && return 0
    lt_log "bench-veth: chronyd is not listening on $LT_V4_SRV:123 within 10 s; its log ($server_log):"
  fi
  lt_show "$server_log"
  stop_server
  return 1
}

# loadgen TAG SECONDS-BOUND [options...] : one generator run; its table on
# stdout, its CSV and JSON under build/bench/.
loadgen() {
  local tag=$1 bound=$2
  shift 2
  lt_run "$bound" "$logs/veth-$tag-loadgen.log" "$LT_NS_CLI" "$LOADGEN" "${eal[@]}" --file-prefix "$dpdk_prefix-lg" \
    -l "$gen_cpu" --vdev "$gen_vdev" -- --dst-mac "$srv_mac" --dst "$LT_V4_SRV" --src "$src_prefix" \
    --src-ports "$src_ports" "$@"
  local rc=$?
  [ "$rc" -eq 0 ] || lt_log "bench-veth: linetime-loadgen ($tag) ended with status $rc (124: timed out); see $logs/veth-$tag-loadgen.log"
  return "$rc"
}

# warm_up TAG: a short low-rate run so the server kernel has resolved every
# client address before anything is measured.
warm_up() {
  loadgen "$1-warmup" 30 --rate 5000 --duration 0.5 >/dev/null
}

# show TAG: the generator's table (what it prints to stdout at the end).
show() {
  sed -n '/^[^ ].* clients, [a-z]* mode, timestamps:/,$p' "$logs/veth-$1-loadgen.log" | sed "s/^/    /"
}

# --- 1. loss-free rate, servers alternately ------------------------------------
lt_log ""
lt_log "== loss-free rate (loss <= 0.1 %), linetime-loadgen --find-max, $secs s per step"
failed=0
for r in $(seq "$rounds"); do
  for name in linetime chronyd; do
    tag=$name-r$r-findmax
    lt_log "-- round $r: $name"
    if ! start_server "$name" "$tag"; then failed=1; break 2; fi
    warm_up "$tag"
    if loadgen "$tag" "$findmax_bound" --find-max --duration "$secs" --csv "$out/veth-$tag.csv" --json "$out/veth-$tag.json"; then
      show "$tag"
    else
      failed=1
    fi
    stop_server
    [ "$name" = linetime ] && grep 'final counters:' "$server_log" | tail -n 1 | sed 's/^.*final counters:/    dataplane counters:/'
  done
done
[ "$failed" -eq 0 ] || { lt_log "bench-veth: stopped early (see above); files so far in $out"; exit 1; }

# linetime's median loss-free rate sets the rates of the quality steps.
linetime_rate=$(python3 - "$out" <<'PY'
import glob, json, os, statistics, sys
rates = [json.load(open(f))["find_max"]["loss_free_rate"]
         for f in sorted(glob.glob(os.path.join(sys.argv[1], "veth-linetime-r*-findmax.json")))]
print(f"{statistics.median(rates):.0f}" if rates else 0)
PY
)
if [ "${linetime_rate:-0}" -le 0 ] 2>/dev/null; then
  lt_log "bench-veth: linetime's loss-free rate is not known (see $logs); no quality steps"
  exit 1
fi
rate10=$((linetime_rate / 10))
rate80=$((linetime_rate * 8 / 10))

# --- 2. timestamp quality at 10 % and 80 % of linetime's loss-free rate ------------
lt_log ""
lt_log "== timestamp quality at 10 % ($rate10/s) and 80 % ($rate80/s) of linetime's loss-free rate ($linetime_rate/s), $secs s per step"
for r in $(seq "$rounds"); do
  for name in linetime chronyd; do
    tag=$name-r$r-quality
    lt_log "-- round $r: $name"
    if ! start_server "$name" "$tag"; then failed=1; break 2; fi
    warm_up "$tag"
    if loadgen "$tag" "$step_bound" --rates "$rate10,$rate80" --duration "$secs" --csv "$out/veth-$tag.csv" \
      --json "$out/veth-$tag.json"; then
      show "$tag"
    else
      failed=1
    fi
    stop_server
  done
done
[ "$failed" -eq 0 ] || { lt_log "bench-veth: stopped early (see above); files so far in $out"; exit 1; }

# --- summary ---------------------------------------------------------------------
lt_log ""
python3 - "$out" "$machine" "$started" "$gen_pmd" "$secs" <<'PY' | tee "$out/veth-summary.txt"
import csv, glob, json, os, re, statistics, sys
out, machine, started, gen_pmd, secs = sys.argv[1:6]
servers = ("linetime", "chronyd")

def runs(server, kind):
    files = glob.glob(os.path.join(out, f"veth-{server}-r*-{kind}.json"))
    files.sort(key=lambda f: int(re.search(r"-r(\d+)-", f).group(1)))
    return [json.load(open(f)) for f in files]

def spread(v):
    return {"rounds": len(v), "min": min(v), "median": statistics.median(v), "max": max(v)} if v else None

def slice_rates(server):
    """Answered rate of every 100 ms slice of each run's last passing step."""
    rates = []
    for f in glob.glob(os.path.join(out, f"veth-{server}-r*-findmax.csv")):
        j = json.load(open(f[:-4] + ".json"))
        passing = [s["step"] for s in j["steps"] if s["loss"] <= j["max_loss"] and s["target_rate"] > 0
                   and s["offered_rate"] >= 0.99 * s["target_rate"]]
        best = max(passing, key=lambda n: j["steps"][n - 1]["target_rate"], default=None)
        rows = [r for r in csv.DictReader(open(f)) if best is not None and int(r["step"]) == best]
        rates += [int(r["answered"]) / 0.1 for r in rows[1:]]  # the first slice ramps up
    return rates

print(f"machine: {machine}")
print(f"date: {started}; generator linetime-loadgen on net_{gen_pmd}, {secs} s per step")
summary = {"machine": machine, "date": started, "generator": "net_" + gen_pmd, "seconds_per_step": float(secs),
           "loss_free_rate": {}, "quality": {}}
print("\nloss-free rate (loss <= 0.1 %), requests/s")
print(f"{'server':9} {'rounds':>6} {'min':>10} {'median':>10} {'max':>10}   per round; 100 ms slices at the best passing step: p10 / p50 / p90")
rate = {}
for s in servers:
    v = [j["find_max"]["loss_free_rate"] for j in runs(s, "findmax")]
    rate[s] = v
    d = spread(v)
    summary["loss_free_rate"][s] = {"per_round": v, **(d or {})}
    sl = slice_rates(s)
    q = statistics.quantiles(sl, n=10) if len(sl) >= 2 else None
    sq = f"{q[0]:.0f} / {statistics.median(sl):.0f} / {q[-1]:.0f}" if q else "-"
    if d:
        print(f"{s:9} {d['rounds']:6d} {d['min']:10.0f} {d['median']:10.0f} {d['max']:10.0f}   "
              f"{', '.join(f'{x:.0f}' for x in v)}; {sq}")
if rate["linetime"] and rate["chronyd"] and min(rate["chronyd"]) > 0:
    med = statistics.median(rate["linetime"]) / statistics.median(rate["chronyd"])
    paired = [a / b for a, b in zip(rate["linetime"], rate["chronyd"]) if b > 0]
    summary["ratio"] = {"median": med, "per_round": paired}
    print(f"linetime / chronyd: {med:.2f}x (medians); per round {', '.join(f'{x:.2f}' for x in paired)} (goal >= 2x)")

def pct(d, k):
    return d[k] / 1e3

print("\ntimestamp quality, us (median over rounds of each round's percentile)")
print(f"{'server':9} {'load':>5} {'offered/s':>10} {'answered/s':>10} {'loss%':>7} | {'residence T3-T2 p10/p50/p90/p99':>34} | "
      f"{'offset p10/p50/p90/p99':>34} | {'delay p50/p99':>16}")
for s in servers:
    rs = runs(s, "quality")
    if not rs:
        continue
    summary["quality"][s] = {}
    for i, label in enumerate(("10%", "80%")):
        steps = [j["steps"][i] for j in rs if len(j["steps"]) > i]
        if not steps:
            continue
        m = lambda f: statistics.median(f(st) for st in steps)
        row = {"target_rate": steps[0]["target_rate"], "offered_rate": m(lambda t: t["offered_rate"]),
               "answered_rate": m(lambda t: t["answered_rate"]), "loss": m(lambda t: t["loss"])}
        for key in ("residence_ns", "offset_ns", "delay_ns"):
            row[key] = {p: m(lambda t: t[key][p]) for p in ("p10", "p50", "p90", "p99")}
        summary["quality"][s][label] = row
        r, o, d = row["residence_ns"], row["offset_ns"], row["delay_ns"]
        print(f"{s:9} {label:>5} {row['offered_rate']:10.0f} {row['answered_rate']:10.0f} {100 * row['loss']:7.3f} | "
              f"{pct(r, 'p10'):7.2f} {pct(r, 'p50'):7.2f} {pct(r, 'p90'):8.2f} {pct(r, 'p99'):9.2f} | "
              f"{pct(o, 'p10'):7.2f} {pct(o, 'p50'):7.2f} {pct(o, 'p90'):8.2f} {pct(o, 'p99'):9.2f} | "
              f"{pct(d, 'p50'):7.2f} {pct(d, 'p99'):8.2f}")
lq = summary["quality"].get("linetime", {})
if lq:
    worst = max(v["residence_ns"]["p50"] for v in lq.values()) / 1e3
    print(f"linetime median server residence: at most {worst:.2f} us over both loads (goal <= 2 us, software timestamps)")
json.dump(summary, open(os.path.join(out, "veth-summary.json"), "w"), indent=2)
print(f"\nfiles: {out}/veth-*.csv (100 ms slices), veth-*.json (steps), veth-summary.json")
PY
python3 scripts/plot-bench.py "$out" || lt_log "bench-veth: no plots (see the message above)"
exit 0
