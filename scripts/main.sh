#!/usr/bin/env bash
# Sets up, builds and runs postr's main job: the ResNet-18 example (examples/resnet18) on
# Fashion-MNIST with its defaults — a narrow ResNet-18 (base width 8) trained for two epochs,
# evaluated (test accuracy, NLL) after each and checkpointed to build/resnet18.safetensors,
# then a subnetwork linearized Laplace posterior compared with the MAP network on the test set
# and a rotated test set. The time budget (7 minutes of training) is a guard so that a slow
# machine still finishes within ten minutes: training then stops at a batch boundary, and
# --resume continues it later.
# Usage: scripts/main.sh [resnet18 flags...]   (build/examples/resnet18 --help lists them;
# later flags override the defaults given here)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${JOBS:-$(nproc)}"
"$root/scripts/setup.sh"
"$root/scripts/configure.sh" "$root/build"
cmake --build "$root/build" -j "$jobs" --target resnet18
"$root/build/examples/resnet18" --checkpoint "$root/build/resnet18.safetensors" \
  --metrics "$root/build/resnet18_metrics.jsonl" --time-budget 420 "$@"
