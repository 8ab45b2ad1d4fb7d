#!/usr/bin/env bash
# gen-cluster.sh: the configuration files of a linetime cluster from a small
# description, the way the seeds' tables describe a cluster (one appliance
# that syncs to upstream servers and serves a client subnet, every node
# syncing to the appliance).
#
# Usage: scripts/gen-cluster.sh [-o DIR] [-c LINETIME_CONTROL] DESCRIPTION
#
# DESCRIPTION is a key=value file ('#' starts a comment):
#   appliance=198.18.0.1        the appliance's (dataplane's) IPv4 address
#   subnet=198.18.0.0/24        the clients' subnet (served; may query with ntpq)
#   upstream=0.pool.ntp.org     upstream servers, blank- or comma-separated;
#   upstream=198.18.5.1           the key may repeat
#   nodes=4                     optional: how many node addresses to list
#   port=0  lcores=1  tap=lt0  shm=/linetime   optional dataplane settings
#   driftfile=/var/lib/linetime/drift           optional
#
# Writes DIR/appliance.conf (upstream `server` lines, the local clock at
# stratum 10, `restrict` lines for the subnet, driftfile, `dataplane` and
# `shm` directives) and DIR/node.conf (the appliance as the one server, the
# local clock at stratum 10, driftfile, restricts as the seeds' clients have),
# plus DIR/nodes.txt with `nodes` addresses of the subnet when asked. Both
# files are checked with `linetime-control --check-config` (from -c, from
# $LINETIME_CONTROL, next to this script's build/ or on PATH); a file with
# errors is left as appliance.conf.rejected / node.conf.rejected and the exit
# status is 1. Exit status 2: the description is wrong (the message says
# which line and how to fix it).
set -u -o pipefail

prog=gen-cluster.sh
out_dir=.
control=${LINETIME_CONTROL:-}

usage() {
  echo "usage: $prog [-o DIR] [-c LINETIME_CONTROL] DESCRIPTION" >&2
  exit 2
}
die() {
  echo "$prog: $*" >&2
  exit 2
}

while getopts "o:c:h" opt; do
  case "$opt" in
    o) out_dir=$OPTARG ;;
    c) control=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
desc=$1
[ -r "$desc" ] || die "cannot read the description $desc (give a key=value file, see the comment at the top of $0)"

# --- the description ---------------------------------------------------------
appliance="" subnet="" nodes="" port=0 lcores=1 tap=lt0 shm=/linetime driftfile=/var/lib/linetime/drift
upstreams=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line=${line%%#*}
  line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  [ -z "$line" ] && continue
  case "$line" in
    *=*) ;;
    *) die "$desc:$lineno: '$line' is not key=value (e.g. appliance=198.18.0.1)" ;;
  esac
  key=$(printf '%s' "${line%%=*}" | sed 's/[[:space:]]*$//')
  value=$(printf '%s' "${line#*=}" | sed 's/^[[:space:]]*//')
  case "$key" in
    appliance) appliance=$value ;;
    subnet) subnet=$value ;;
    upstream) for u in ${value//,/ }; do upstreams+=("$u"); done ;;
    nodes) nodes=$value ;;
    port) port=$value ;;
    lcores) lcores=$value ;;
    tap) tap=$value ;;
    shm) shm=$value ;;
    driftfile) driftfile=$value ;;
    *) die "$desc:$lineno: unknown key '$key' (known: appliance, subnet, upstream, nodes, port, lcores, tap, shm, driftfile)" ;;
  esac
done <"$desc"

# IPv4 dotted quad -> integer; fails on anything else.
ip_to_int() {
  local IFS=. a b c d
  [[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  read -r a b c d <<<"$1"
  for o in "$a" "$b" "$c" "$d"; do [ $((10#$o)) -le 255 ] || return 1; done
  echo $(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d))
}
int_to_ip() { echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }

[ -n "$appliance" ] || die "$desc: no appliance= line (add the appliance's address, e.g. appliance=198.18.0.1)"
app_int=$(ip_to_int "$appliance") || die "$desc: appliance=$appliance is not an IPv4 address (e.g. appliance=198.18.0.1)"
[ -n "$subnet" ] || die "$desc: no subnet= line (add the clients' subnet, e.g. subnet=198.18.0.0/24)"
[[ $subnet =~ ^([0-9.]+)/([0-9]{1,2})$ ]] || die "$desc: subnet=$subnet is not ADDRESS/LENGTH (e.g. subnet=198.18.0.0/24)"
net_int=$(ip_to_int "${BASH_REMATCH[1]}") || die "$desc: subnet=$subnet: '${BASH_REMATCH[1]}' is not an IPv4 address"
len=$((10#${BASH_REMATCH[2]}))
[ "$len" -ge 1 ] && [ "$len" -le 32 ] || die "$desc: subnet=$subnet: the prefix length must be 1..32"
mask_int=$(((0xffffffff << (32 - len)) & 0xffffffff))
[ $((net_int & ~mask_int & 0xffffffff)) -eq 0 ] ||
  die "$desc: subnet=$subnet has host bits set (write the network address, e.g. $(int_to_ip $((net_int & mask_int)))/$len)"
[ $((app_int & mask_int)) -eq "$net_int" ] ||
  die "$desc: the appliance $appliance is not in subnet $subnet (clients reach it on their own subnet)"
[ "${#upstreams[@]}" -gt 0 ] || die "$desc: no upstream= line (add the servers the appliance syncs to, e.g. upstream=0.pool.ntp.org)"
for u in "${upstreams[@]}"; do
  [[ $u =~ ^[A-Za-z0-9.:-]+$ ]] || die "$desc: upstream '$u' is neither an address nor a host name"
done
if [ -n "$nodes" ]; then
  [[ $nodes =~ ^[0-9]+$ ]] || die "$desc: nodes=$nodes is not a number"
  [ "$nodes" -le $(((1 << (32 - len)) - 3)) ] || die "$desc: nodes=$nodes do not fit in $subnet beside the appliance"
fi
[[ $port =~ ^[0-9]+$ ]] || die "$desc: port=$port is not a DPDK port number"

mask=$(int_to_ip "$mask_int")
net=$(int_to_ip "$net_int")
mkdir -p "$out_dir" || die "cannot create the output directory $out_dir"

# --- the files -----------------------------------------------------------------
{
  echo "# linetime appliance: generated by $prog from $(basename "$desc")."
  echo "# Check after editing: linetime-control --check-config appliance.conf"
  echo
  echo "# Upstream servers; the local clock at stratum 10 when none answers."
  for u in "${upstreams[@]}"; do echo "server $u iburst"; done
  echo "server 127.127.1.0"
  echo "fudge 127.127.1.0 stratum 10"
  echo
  echo "driftfile $driftfile"
  echo
  echo "# Access: nothing by default; the clients' subnet is served and may query"
  echo "# (ntpq); the upstream servers only answer us."
  echo "restrict default kod limited nomodify notrap nopeer noquery"
  echo "restrict -6 default kod limited nomodify notrap nopeer noquery"
  echo "restrict 127.0.0.1"
  echo "restrict ::1"
  echo "restrict $net mask $mask nomodify notrap nopeer"
  for u in "${upstreams[@]}"; do
    ip_to_int "$u" >/dev/null && echo "restrict $u nomodify notrap noquery"
  done
  echo
  echo "# The dataplane answers clients on $appliance."
  echo "dataplane port $port"
  echo "dataplane lcores $lcores"
  echo "dataplane address $appliance"
  echo "dataplane tap $tap"
  echo "shm $shm"
} >"$out_dir/appliance.conf"

{
  echo "# linetime node of the cluster served by $appliance: generated by $prog"
  echo "# from $(basename "$desc"). Check after editing:"
  echo "#   linetime-control --check-config node.conf"
  echo
  echo "server $appliance iburst prefer"
  echo "restrict $appliance nomodify notrap noquery"
  echo "# The local clock at stratum 10 when the appliance does not answer."
  echo "server 127.127.1.0"
  echo "fudge 127.127.1.0 stratum 10"
  echo
  echo "driftfile $driftfile"
  echo
  echo "restrict default kod nomodify notrap nopeer noquery"
  echo "restrict -6 default kod nomodify notrap nopeer noquery"
  echo "restrict 127.0.0.1"
  echo "restrict ::1"
} >"$out_dir/node.conf"

if [ -n "$nodes" ]; then
  : >"$out_dir/nodes.txt"
  a=$((net_int + 1)) n=0
  while [ "$n" -lt "$nodes" ]; do
    if [ "$a" -ne "$app_int" ]; then
      int_to_ip "$a" >>"$out_dir/nodes.txt"
      n=$((n + 1))
    fi
    a=$((a + 1))
  done
fi

# --- validation --------------------------------------------------------------------
if [ -z "$control" ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  if [ -x "$here/../build/control/linetime-control" ]; then
    control=$here/../build/control/linetime-control
  else
    control=$(command -v linetime-control || true)
  fi
fi
if [ -z "$control" ] || [ ! -x "$control" ]; then
  echo "$prog: wrote $out_dir/appliance.conf and $out_dir/node.conf, NOT checked: linetime-control not found" \
    "(give it with -c PATH or LINETIME_CONTROL=PATH)" >&2
  exit 1
fi
rc=0
for f in appliance node; do
  if ! "$control" --check-config "$out_dir/$f.conf" >"$out_dir/$f.check" 2>&1; then
    echo "$prog: $out_dir/$f.conf does not pass --check-config:" >&2
    cat "$out_dir/$f.check" >&2
    mv "$out_dir/$f.conf" "$out_dir/$f.conf.rejected"
    rc=1
  fi
  rm -f "$out_dir/$f.check"
done
[ "$rc" -eq 0 ] && echo "$prog: wrote $out_dir/appliance.conf and $out_dir/node.conf${nodes:+ and $out_dir/nodes.txt} (checked)"
exit "$rc"
