#!/usr/bin/env bash
# Sets up, builds and runs postr's main job: today the foundation demo (conjugate Bayesian
# linear regression, exact posterior); the ResNet-18 example replaces it when it lands.
# Usage: scripts/main.sh [demo args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${JOBS:-$(nproc)}"
"$root/scripts/setup.sh"
"$root/scripts/configure.sh" "$root/build"
cmake --build "$root/build" -j "$jobs" --target bayes_linreg_demo
"$root/build/examples/bayes_linreg_demo" "$@"
