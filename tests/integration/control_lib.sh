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

# lt_chrony_upstream NAME NS ADDR [faketime-offset]: a chronyd -x server with
# `local stratum 1` bound to ADDR in namespace NS; with an offset it runs
# under faketime (and without kernel receive stamps, see no_kernel_stamps.cpp).
lt_chrony_upstream() {
  local name=$1 ns=$2 addr=$3 fake=${4:-}
  cat >"$LT_TMP/$name.conf" <<EOC
local stratum 1
allow 198.18.0.0/15
bindaddress $addr
cmdport 0
pidfile $LT_TMP/$name.pid
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
