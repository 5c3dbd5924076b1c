#!/usr/bin/env bash
# Sets up, builds and runs postr's tests (CUDA tests skip without a GPU).
# Usage: scripts/test.sh [extra cmake args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${JOBS:-$(nproc)}"
"$root/scripts/setup.sh"
"$root/scripts/configure.sh" "$root/build" "$@"
cmake --build "$root/build" -j "$jobs"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"
