#!/usr/bin/env bash
# Installs every Debian package linetime and its tests need. Idempotent: when all
# is present it prints nothing and touches nothing; otherwise it runs
# `apt-get update` once and installs only what is missing.
#
# It never leaves a time service running on the host: chrony's package would start
# chronyd, which adjusts the system clock, so installs run under a policy-rc.d
# that forbids service starts, and chrony's unit is disabled afterwards.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config g++ python3
  # dataplane
  dpdk dpdk-dev libdpdk-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
  # symmetric-key authentication (MD5, SHA, AES-CMAC)
  nettle-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev gnuplot-nox
  # third-party peers and network tools used by integration tests
  ntpsec-ntpdig ntpsec-ntpdate chrony ethtool iproute2 iputils-ping arping faketime
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo $0) so they can be installed with apt-get" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ $had_policy -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# A host time daemon would steer the clock under the tests' feet.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now chrony.service >/dev/null 2>&1 || true
fi
pkill -x chronyd 2>/dev/null || true
echo "setup: done"
