#!/usr/bin/env bash
# Installs what postr needs to build, test and run on Debian/Ubuntu (apt). Idempotent: packages
# already present are not reinstalled, and apt-get update runs only when something is missing.
set -euo pipefail

packages=(cmake ninja-build g++ libopenblas-dev libgtest-dev libbenchmark-dev zlib1g-dev
          nlohmann-json3-dev dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
