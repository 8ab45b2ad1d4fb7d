#!/usr/bin/env bash
# Regenerates requests.txt: one authenticated request per key of `keys`, as
# ntpsec's ntpdig sends it (`ntpdig -k keys -a N`), captured by a UDP listener
# on the loopback of a network namespace this script creates and removes.
# Each line: key number, then the request in hex. Run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=lt-authvec-$$
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
cp "$here/keys" "$work/keys"
chmod 600 "$work/keys"
ids=$(awk '!/^#/ && NF >= 3 { print $1 }' "$here/keys")
cat >"$work/listen.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 123))
s.settimeout(5)
with open(sys.argv[2], "w") as out:
    for _ in range(int(sys.argv[1])):
        data, _ = s.recvfrom(2048)
        key = int.from_bytes(data[48:52], "big")
        out.write(f"{key} {data.hex()}\n")
PY
n=$(echo "$ids" | wc -w)
ip netns exec "$ns" python3 "$work/listen.py" "$n" "$work/requests.txt" &
listener=$!
sleep 0.5
for k in $ids; do
  ip netns exec "$ns" timeout 5 ntpdig -t 1 -k "$work/keys" -a "$k" 127.0.0.1 >/dev/null 2>&1 || true
done
wait "$listener"
{ echo "# $(ntpdig -V 2>&1 | head -1) requests, one per key of ./keys (key number, request hex)"
  cat "$work/requests.txt"; } >"$here/requests.txt"
echo "wrote $(grep -vc '^#' "$here/requests.txt") requests to $here/requests.txt"
