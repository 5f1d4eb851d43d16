#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building and testing zoolog.
# Idempotent: every step checks first and skips what is already there.
set -euo pipefail

need_apt=()
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
dpkg -s zookeeper >/dev/null 2>&1 || need_apt+=(zookeeper)
dpkg -s zookeeper-bin >/dev/null 2>&1 || need_apt+=(zookeeper-bin)
# nemesis/: network namespaces and partitions (ip, iptables), clock skew (libfaketime).
dpkg -s iproute2 >/dev/null 2>&1 || need_apt+=(iproute2)
dpkg -s iptables >/dev/null 2>&1 || need_apt+=(iptables)
dpkg -s faketime >/dev/null 2>&1 || need_apt+=(faketime)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The Debian zookeeper package starts nothing by itself here, but make sure no
# system instance holds the default port while tests run.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet zookeeper 2>/dev/null; then
  systemctl stop zookeeper || true
fi

if ! python3 -c 'import kazoo' >/dev/null 2>&1; then
  echo "setup: installing Python packages: kazoo"
  python3 -m pip install --quiet --disable-pip-version-check 'kazoo==2.10.0'
fi

echo "setup: ok"
