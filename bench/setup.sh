#!/usr/bin/env bash
# What the benchmark needs beyond scripts/setup.sh (which installs Apache ZooKeeper and Java):
# a TrueType font for the chart's text (plotters renders it with ab_glyph, no fontconfig needed).
# Idempotent: installs only what is missing.
set -euo pipefail

need_apt=()
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
dpkg -s zookeeper >/dev/null 2>&1 || need_apt+=(zookeeper)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bench/setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
