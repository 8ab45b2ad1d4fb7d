# Helpers for the tests that run linetime-control (sourced after lib.sh).

LT_CONTROL=$LT_BUILD/control/linetime-control
LT_SHIM=$LT_BUILD/tests/integration/libno_kernel_stamps.so

LT_CTL=$LT_BUILD/control/linetimectl

# lt_peers SOCKET / lt_ntpstat SOCKET: what an operator sees (ntpq -p, ntpstat).
lt_peers() { timeout -k 2 5 "$LT_CTL" -s "$1" peers; }
lt_ntpstat() { timeout -k 2 5 "$LT_CTL" -s "$1" status; }

# lt_status_field SOCKET KEY: one system variable from `linetimectl status
# --json` (which exits 1 while unsynchronised: the JSON is printed all the same).
lt_status_field() {
  { timeout -k 2 5 "$LT_CTL" -s "$1" status --json || true; } |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["system"][sys.argv[1]])' "$2"
}

# lt_chrony_upstream NAME NS ADDR [faketime-offset [extra-lines]]: a chronyd -x
# server with `local stratum 1` bound to ADDR in namespace NS; with an offset
# ("" for none) it runs under faketime (and without kernel receive stamps, see
# no_kernel_stamps.cpp); extra lines (e.g. `keyfile FILE`) end its configuration.
lt_chrony_upstream() {
  local name=$1 ns=$2 addr=$3 fake=${4:-} extra=${5:-}
  cat >"$LT_TMP/$name.conf" <<EOC
local stratum 1
allow 198.18.0.0/15
bindaddress $addr
cmdport 0
pidfile $LT_TMP/$name.pid
$extra
EOC
  if [ -n "$fake" ]; then
    lt_bg "$name" "$ns" env LD_PRELOAD="$LT_SHIM" faketime -f "$fake" chronyd -x -d -u root -f "$LT_TMP/$name.conf"
  else
    lt_bg "$name" "$ns" chronyd -x -d -u root -f "$LT_TMP/$name.conf"
  fi
}

# lt_ntpdig_field NS ADDR FIELD: one field of ntpdig -j's answer ("" when none).
lt_ntpdig_field() {
  lt_run 10 "$LT_TMP/ntpdig.out" "$1" ntpdig -j -t 2 "$2" >/dev/null 2>&1
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$LT_TMP/ntpdig.out" "$3" 2>/dev/null
}

# lt_make_upstream_net: the node namespace ($LT_NS_CLI) and three upstream
# namespaces lt-<id>-upI, each behind its own veth pair (198.18.I.1 server,
# 198.18.I.2 node), each running chronyd -x; the third 0.5 s ahead.
lt_make_upstream_net() {
  local node=$LT_NS_CLI i ns
  ip netns add "$node" || lt_skip "cannot create network namespaces"
  LT_NAMESPACES+=("$node")
  ip -n "$node" link set lo up
  for i in 1 2 3; do
    ns=lt-$LT_ID-up$i
    ip netns add "$ns" || lt_skip "cannot create network namespaces"
    LT_NAMESPACES+=("$ns")
    ip link add "lt${LT_ID}u$i" netns "$ns" type veth peer name "lt${LT_ID}n$i" netns "$node" ||
      lt_skip "cannot create a veth pair (CONFIG_VETH)"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "198.18.$i.1/30" dev "lt${LT_ID}u$i"
    ip -n "$ns" link set "lt${LT_ID}u$i" up
    ip -n "$node" addr add "198.18.$i.2/30" dev "lt${LT_ID}n$i"
    ip -n "$node" link set "lt${LT_ID}n$i" up
    # veth leaves UDP checksums partial; both directions carry NTP here.
    ip netns exec "$ns" ethtool -K "lt${LT_ID}u$i" tx off >/dev/null
    ip netns exec "$node" ethtool -K "lt${LT_ID}n$i" tx off >/dev/null
  done
  lt_chrony_upstream chrony1 "lt-$LT_ID-up1" 198.18.1.1
  lt_chrony_upstream chrony2 "lt-$LT_ID-up2" 198.18.2.1
  lt_chrony_upstream chrony3 "lt-$LT_ID-up3" 198.18.3.1 +0.5
}

# lt_fetch_ntpq: ntpsec's ntpq, which Debian's chrony conflicts with, taken
# from the ntpsec and python3-ntp packages (apt-get download + dpkg -x) into
# $LT_BUILD/ntpsec-ntpq once and reused. Sets LT_NTPQ_ROOT and LT_NTPQ_PY
# (run it as PYTHONPATH=$LT_NTPQ_PY python3 $LT_NTPQ_ROOT/usr/bin/ntpq);
# returns 1 with the reason in LT_NTPQ_ERROR when it cannot (offline).
lt_fetch_ntpq() {
  LT_NTPQ_ROOT=$LT_BUILD/ntpsec-ntpq
  LT_NTPQ_ERROR=""
  if [ ! -x "$LT_NTPQ_ROOT/usr/bin/ntpq" ]; then
    local dl=$LT_TMP/debs deb lib pkg
    mkdir -p "$dl"
    if ! (cd "$dl" && timeout -k 5 120 apt-get download ntpsec python3-ntp >"$LT_TMP/apt.log" 2>&1); then
      LT_NTPQ_ERROR="cannot download ntpsec and python3-ntp with apt-get (offline?): $(tail -n 1 "$LT_TMP/apt.log")"
      return 1
    fi
    rm -rf "$LT_NTPQ_ROOT.new"
    mkdir -p "$LT_NTPQ_ROOT.new"
    for deb in "$dl"/*.deb; do
      dpkg -x "$deb" "$LT_NTPQ_ROOT.new" || { LT_NTPQ_ERROR="dpkg -x $deb failed"; return 1; }
    done
    # ntp.ntpc looks for libntpc.so next to itself first.
    lib=$(find "$LT_NTPQ_ROOT.new/usr/lib" -name 'libntpc.so*' -type f -print -quit)
    pkg=$(find "$LT_NTPQ_ROOT.new/usr/lib" -type d -path '*dist-packages/ntp' -print -quit)
    if [ -z "$lib" ] || [ -z "$pkg" ] || [ ! -x "$LT_NTPQ_ROOT.new/usr/bin/ntpq" ]; then
      LT_NTPQ_ERROR="the ntpsec/python3-ntp packages do not have the expected layout (usr/bin/ntpq, ntp/, libntpc.so)"
      return 1
    fi
    ln -sf "$lib" "$pkg/libntpc.so"
    rm -rf "$LT_NTPQ_ROOT"
    mv "$LT_NTPQ_ROOT.new" "$LT_NTPQ_ROOT"
  fi
  LT_NTPQ_PY=$(dirname "$(find "$LT_NTPQ_ROOT/usr/lib" -type d -path '*dist-packages/ntp' -print -quit)")
}
