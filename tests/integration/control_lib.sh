# Helpers for the tests that run linetime-control (sourced after lib.sh).

LT_CONTROL=$LT_BUILD/control/linetime-control
LT_SHIM=$LT_BUILD/tests/integration/libno_kernel_stamps.so

# lt_ask SOCKET REQUEST: the daemon's answer on its management socket.
lt_ask() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
PY
}

# lt_status_field SOCKET KEY: one system variable.
lt_status_field() {
  lt_ask "$1" status | python3 -c 'import json, sys; print(json.load(sys.stdin)["system"][sys.argv[1]])' "$2"
}

# lt_peers SOCKET: the source table as `ntpq -p` prints it.
lt_peers() {
  lt_ask "$1" peers | python3 -c '
import json, sys
st = json.load(sys.stdin)
print("     remote           refid      st t when poll reach   delay   offset  jitter")
print("=" * 79)
for r in st["sources"]:
    when = "-" if r["when_s"] is None else str(r["when_s"])
    print("%s%-16s %-16s %2d %s %4s %4d %5o %7.3f %8.3f %7.3f" % (
        r["tally"], r["remote"][:16], r["refid"][:16], r["stratum"], r["type"], when,
        2 ** r["poll"], r["reach"], r["delay_ms"], r["offset_ms"], r["jitter_ms"]))
sy = st["system"]
print("system: %s, stratum %d, refid %s, offset %.3f ms, frequency %.3f ppm" % (
    sy["mode"], sy["stratum"], sy["refid"], sy["offset_ms"], sy["frequency_ppm"]))'
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
