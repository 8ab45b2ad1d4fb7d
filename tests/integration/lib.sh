# Shared helpers for the dataplane integration tests (sourced, not run).
#
# Each test builds its own little network: a server and a client network
# namespace joined by a veth pair, addresses only from 198.18.0.0/15 (RFC 2544
# benchmarking) and the ULA fd00:198:18::/64, and runs linetime-publish-local
# and linetime-dataplane in the server namespace. Every name carries the test's
# id (lt-<pid>), so two tests never collide, and lt_cleanup removes everything
# the test made on every way out: success, failure, a shell error, Ctrl-C,
# SIGTERM (meson's timeout). SIGKILL cannot be trapped; the next run sweeps
# what a killed run left behind (lt_sweep_stale). Every wait and every traffic
# loop is bounded in count and time.
#
# Skips (exit 77, meson's skip code) say why: not root, a tool missing, a
# kernel feature missing. A check prints one line, PASS or FAIL with the
# measured value; lt_finish exits non-zero when any check failed.

# shellcheck shell=bash
# shellcheck disable=SC2034  # names and addresses are for the sourcing test
set -u -o pipefail

LT_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LT_BUILD=${LT_BUILD:-$(cd "$LT_SRC/../.." && pwd)/build}
LT_DATAPLANE=$LT_BUILD/dataplane/linetime-dataplane
LT_PUBLISH=$LT_BUILD/control/linetime-publish-local

# LT_ID may be given (letters and digits, at most 8) to tell concurrent runs'
# names apart; the sweep below only removes what pid-named runs left.
LT_ID=${LT_ID:-$$}
LT_NS_SRV=lt-$LT_ID-srv
LT_NS_CLI=lt-$LT_ID-cli
# Interface names are at most 15 characters; pid_max is 2^22 (7 digits).
LT_IF_SRV=lt${LT_ID}s
LT_IF_CLI=lt${LT_ID}c
LT_IF_TAP=lt${LT_ID}t
LT_SHM=/linetime-it-$LT_ID
LT_V4_SRV=198.18.0.1
LT_V4_CLI=198.18.0.2
LT_V4_LEN=24
LT_V6_SRV=fd00:198:18::1
LT_V6_CLI=fd00:198:18::2
LT_V6_LEN=64

LT_TMP=""
LT_PIDS=()
LT_NAMESPACES=()
LT_FAILED=0
LT_CHECKS=0
LT_DP_PID=""
LT_DP_LOG=""
LT_DP_MAC=""

lt_log() { printf '%s\n' "$*"; }

lt_skip() {
  printf 'SKIP: %s\n' "$*"
  exit 77
}

# lt_pass NAME DETAIL / lt_fail NAME DETAIL: one line per check.
lt_pass() {
  LT_CHECKS=$((LT_CHECKS + 1))
  printf 'PASS: %-28s %s\n' "$1" "$2"
}
lt_fail() {
  LT_CHECKS=$((LT_CHECKS + 1))
  LT_FAILED=$((LT_FAILED + 1))
  printf 'FAIL: %-28s %s\n' "$1" "$2"
}
# lt_check NAME CONDITION-EXIT-STATUS DETAIL
lt_check() {
  if [ "$2" -eq 0 ]; then lt_pass "$1" "$3"; else lt_fail "$1" "$3"; fi
}

# lt_show FILE: a client's or server's output, indented, for the log.
lt_show() {
  [ -s "$1" ] || return 0
  sed 's/^/    | /' "$1" | head -n 40
}

lt_finish() {
  if [ "$LT_FAILED" -ne 0 ]; then
    lt_log "RESULT: $LT_FAILED of $LT_CHECKS checks failed"
    exit 1
  fi
  lt_log "RESULT: all $LT_CHECKS checks passed"
  exit 0
}

# --- preconditions -----------------------------------------------------------

lt_require_root() {
  [ "$(id -u)" -eq 0 ] || lt_skip "needs root (network namespaces, veth, DPDK af_packet/af_xdp)"
}

# lt_require_tools TOOL... : each must be on PATH.
lt_require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || lt_skip "'$t' is not installed (scripts/setup.sh installs it)"
  done
}

lt_require_binaries() {
  [ -x "$LT_DATAPLANE" ] || lt_skip "$LT_DATAPLANE is not built (set LT_BUILD to the build directory)"
  [ -x "$LT_PUBLISH" ] || lt_skip "$LT_PUBLISH is not built (set LT_BUILD to the build directory)"
}

# AF_XDP needs the kernel's socket family and DPDK's af_xdp driver.
lt_require_af_xdp() {
  python3 - <<'PY' 2>/dev/null || lt_skip "the kernel does not support AF_XDP sockets (CONFIG_XDP_SOCKETS)"
import socket
socket.socket(44, socket.SOCK_RAW).close()  # AF_XDP
PY
  local pmd
  pmd=$(find /usr/lib /usr/local/lib -name 'librte_net_af_xdp.so*' -print -quit 2>/dev/null)
  [ -n "$pmd" ] || lt_skip "DPDK's af_xdp driver (librte_net_af_xdp) is not installed"
}

# --- cleanup -------------------------------------------------------------------

# A process we started: TERM, then KILL after a bounded wait.
lt_kill_pids() {
  local pid alive i
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
  for i in $(seq 50); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null; done
  return 0
}

lt_cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  [ "${#LT_PIDS[@]}" -gt 0 ] && lt_kill_pids "${LT_PIDS[@]}"
  local ns pids
  for ns in "${LT_NAMESPACES[@]}"; do
    # Anything still inside our own namespaces was started by this test.
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null
      sleep 0.2
    fi
    ip netns del "$ns" 2>/dev/null
  done
  rm -f "/dev/shm$LT_SHM"
  # DPDK's run-time files of the processes started with --file-prefix
  # "$LT_DPDK_PREFIX-...".
  [ -n "${LT_DPDK_PREFIX:-}" ] && rm -rf /var/run/dpdk/"$LT_DPDK_PREFIX"-* 2>/dev/null
  [ -n "$LT_TMP" ] && rm -rf "$LT_TMP"
  wait 2>/dev/null
  exit "$rc"
}

lt_install_traps() {
  trap lt_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# What a SIGKILLed run of this suite left: the processes inside its
# namespaces, the namespaces, shared memory and temp dirs of lt-<pid> whose
# test process is gone.
lt_sweep_stale() {
  local ns pid f pids
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case "$ns" in
      lt-[0-9]*-srv|lt-[0-9]*-cli|lt-[0-9]*-up[0-9])
        pid=${ns#lt-}; pid=${pid%-*}
        case "$pid" in *[!0-9]*|"") continue ;; esac
        [ -d "/proc/$pid" ] && continue
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && lt_kill_pids $pids
        ip netns del "$ns" 2>/dev/null
        ;;
    esac
  done
  for f in /dev/shm/linetime-it-* /tmp/linetime-it-*; do
    [ -e "$f" ] || continue
    pid=${f##*linetime-it-}; pid=${pid%%.*}
    case "$pid" in *[!0-9]*|"") continue ;; esac
    [ -d "/proc/$pid" ] || rm -rf "$f"
  done
}

# --- running things ----------------------------------------------------------

# lt_bg NAME NS CMD... : a long-running process in namespace NS (or "-" for
# none), output to $LT_TMP/NAME.log; its pid is in LT_LAST_PID.
lt_bg() {
  local name=$1 ns=$2
  shift 2
  if [ "$ns" = - ]; then
    "$@" >"$LT_TMP/$name.log" 2>&1 &
  else
    ip netns exec "$ns" "$@" >"$LT_TMP/$name.log" 2>&1 &
  fi
  LT_LAST_PID=$!
  LT_PIDS+=("$LT_LAST_PID")
}

# lt_run SECONDS OUT NS CMD... : a bounded command in namespace NS, output to
# OUT. It runs in the background and is waited for, so Ctrl-C and SIGTERM
# reach the trap at once. Returns the command's status (124: timed out).
lt_run() {
  local secs=$1 out=$2 ns=$3
  shift 3
  if [ "$ns" = - ]; then
    timeout -k 2 "$secs" "$@" >"$out" 2>&1 &
  else
    timeout -k 2 "$secs" ip netns exec "$ns" "$@" >"$out" 2>&1 &
  fi
  local pid=$!
  LT_PIDS+=("$pid")
  wait "$pid"
}

# lt_wait_for SECONDS CMD... : polls CMD every 0.1 s until it succeeds.
lt_wait_for() {
  local tries=$(($1 * 10)) i
  shift
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# lt_abs_below VALUE LIMIT : |VALUE| < LIMIT, numerically.
lt_abs_below() {
  awk -v x="$1" -v l="$2" 'BEGIN { if (x < 0) x = -x; exit !(x + 0 == x && x < l) }'
}

# --- the network -------------------------------------------------------------

lt_setup() { lt_setup_base dataplane; }

# lt_setup_base [dataplane]: lt_setup, requiring the dataplane's binaries
# only when asked (tests of linetime-control alone do without them).
lt_setup_base() {
  lt_require_root
  lt_require_tools ip ethtool timeout python3 awk
  [ "${1:-}" = dataplane ] && lt_require_binaries
  lt_sweep_stale
  lt_install_traps
  LT_TMP=$(mktemp -d "/tmp/linetime-it-$LT_ID.XXXXXX")
}

# lt_sysctl NS KEY VALUE : a network sysctl inside namespace NS (KEY as a
# path under /proc/sys, which shows the namespace of the process reading it).
lt_sysctl() {
  # shellcheck disable=SC2016  # expanded by the inner sh
  ip netns exec "$1" sh -c 'echo "$2" >"/proc/sys/$1"' sh "$2" "$3"
}

# Server and client namespaces, a veth pair between them, the client's
# addresses. The server's veth carries no address: the dataplane answers on it.
lt_make_net() {
  ip netns add "$LT_NS_SRV" || lt_skip "cannot create network namespaces"
  LT_NAMESPACES+=("$LT_NS_SRV")
  ip netns add "$LT_NS_CLI" || lt_skip "cannot create network namespaces"
  LT_NAMESPACES+=("$LT_NS_CLI")
  ip link add "$LT_IF_SRV" netns "$LT_NS_SRV" type veth peer name "$LT_IF_CLI" netns "$LT_NS_CLI" ||
    lt_skip "cannot create a veth pair (CONFIG_VETH)"

  # The server kernel must stay out of the data port's traffic: af_packet
  # hands the kernel a copy of every frame, and once the TAP carries the
  # server's address the kernel would answer ARP, ping and TCP itself on the
  # veth, behind the dataplane's back. No ARP, no IPv6, strict reverse-path
  # filtering (the route back to the client is through the TAP) keep it out.
  lt_sysctl "$LT_NS_SRV" "net/ipv6/conf/$LT_IF_SRV/disable_ipv6" 1
  lt_sysctl "$LT_NS_SRV" net/ipv4/conf/all/rp_filter 1
  lt_sysctl "$LT_NS_SRV" "net/ipv4/conf/$LT_IF_SRV/rp_filter" 1
  ip -n "$LT_NS_SRV" link set "$LT_IF_SRV" arp off
  ip -n "$LT_NS_SRV" link set lo up
  ip -n "$LT_NS_SRV" link set "$LT_IF_SRV" up

  ip -n "$LT_NS_CLI" link set lo up
  ip -n "$LT_NS_CLI" addr add "$LT_V4_CLI/$LT_V4_LEN" dev "$LT_IF_CLI"
  ip -n "$LT_NS_CLI" addr add "$LT_V6_CLI/$LT_V6_LEN" dev "$LT_IF_CLI" nodad
  # veth leaves checksums to "hardware" that is not there: the dataplane
  # would see partial checksums and count them as bad.
  ip netns exec "$LT_NS_CLI" ethtool -K "$LT_IF_CLI" tx off >/dev/null ||
    lt_skip "ethtool cannot turn off TX checksum offload on veth"
  ip -n "$LT_NS_CLI" link set "$LT_IF_CLI" up
}

# lt_start_publisher STRATUM SECONDS
lt_start_publisher() {
  lt_bg publish "$LT_NS_SRV" "$LT_PUBLISH" --shm "$LT_SHM" --stratum "$1" --duration "$2"
}

# lt_start_dataplane MODE SECONDS [dataplane options...]
# MODE is af_packet or af_xdp. Waits (bounded) for the ready file and fails
# the test with the dataplane's log if it does not come up.
lt_start_dataplane() {
  local mode=$1 secs=$2 vdev
  shift 2
  case "$mode" in
    af_packet) vdev="net_af_packet0,iface=$LT_IF_SRV" ;;
    af_xdp) vdev="net_af_xdp0,iface=$LT_IF_SRV,start_queue=0,queue_count=1" ;;
    *) lt_log "unknown mode '$mode' (af_packet or af_xdp)"; exit 2 ;;
  esac
  local ready=$LT_TMP/dataplane.ready
  lt_bg dataplane "$LT_NS_SRV" "$LT_DATAPLANE" \
    --no-huge -m 128 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:warning -l 0 --vdev "$vdev" \
    -- --shm "$LT_SHM" --duration "$secs" --ready-file "$ready" "$@"
  LT_DP_PID=$LT_LAST_PID
  LT_DP_LOG=$LT_TMP/dataplane.log
  if ! lt_wait_for 20 test -s "$ready"; then
    lt_fail "dataplane-start" "no ready file within 20 s ($mode)"
    lt_show "$LT_DP_LOG"
    lt_finish
  fi
  LT_DP_MAC=$(sed -n 's/.* up, MAC \([0-9a-f:]\{17\}\).*/\1/p' "$LT_DP_LOG" | head -n 1)
  lt_pass "dataplane-start" "$mode port up, MAC ${LT_DP_MAC:-?}"
}

# lt_stop_dataplane: SIGINT, a bounded wait for its final counters.
lt_stop_dataplane() {
  kill -INT "$LT_DP_PID" 2>/dev/null
  local i
  for i in $(seq 100); do
    kill -0 "$LT_DP_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$LT_DP_PID" 2>/dev/null; then
    lt_fail "dataplane-stop" "still running 10 s after SIGINT"
    kill -KILL "$LT_DP_PID" 2>/dev/null
    return 1
  fi
  wait "$LT_DP_PID"
  local rc=$?
  lt_check "dataplane-stop" "$rc" "exit status $rc after SIGINT"
}

# lt_counter_in LINE NAME : NAME's value in a counters line (0 if absent:
# the dataplane prints only counters that are not zero).
lt_counter_in() {
  printf '%s\n' "$1" |
    awk -v n="$2" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == n) { print kv[2]; exit } } print 0 }'
}

# lt_counter NAME : a value from the dataplane's "final counters:" line.
lt_counter() {
  lt_counter_in "$(grep 'final counters:' "$LT_DP_LOG" | tail -n 1)" "$1"
}

# lt_counters_now : the next periodic "counters:" line (the dataplane runs
# with --stats), printed once it is newer than the call; bounded to 5 s.
lt_counters_now() {
  local before
  before=$(grep -c ': counters:' "$LT_DP_LOG")
  lt_wait_for 5 sh -c "[ \$(grep -c ': counters:' '$LT_DP_LOG') -gt $before ]" || return 1
  grep ': counters:' "$LT_DP_LOG" | tail -n 1
}

# lt_ntpdig_stratum OUT NS SERVER [ntpdig options...] : one ntpdig query
# (JSON output to OUT); prints the stratum of its answer, or nothing.
lt_ntpdig_stratum() {
  local out=$1 ns=$2 server=$3
  shift 3
  lt_run 20 "$out" "$ns" ntpdig -j -t 2 "$@" "$server"
  python3 - "$out" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        print(json.loads(line)["stratum"])
        break
PY
}

# lt_json_step FILE FIELD [SUBFIELD] : a value of the only step of a
# linetime-loadgen JSON report.
lt_json_step() {
  python3 - "$1" "$2" "${3:-}" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["steps"][0][sys.argv[2]]
print(v[sys.argv[3]] if sys.argv[3] else v)
PY
}
