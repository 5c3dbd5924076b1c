#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each for a bounded
# time from a scratch copy of its seed corpus (fuzz/corpus/<target>/ is never modified). Fails
# (exit 1) on any crash, sanitizer report, leak, timeout (> 10 s for one input) or OOM (> 2 GB);
# the offending inputs are kept in build-fuzz/fuzz-artifacts/<target>/.
# Installs nothing: needs clang, libclang-rt-14-dev (libFuzzer), and the library's dependencies.
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target ...]   (targets: idx cifar csv
# safetensors; default all). Seeds named crash-* are reproducers of open bugs and are skipped;
# rename one to regress-* once its bug is fixed so that it is replayed every run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx cifar csv safetensors)
build="$root/build-fuzz"

for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found; install it (Debian: apt-get install clang libclang-rt-14-dev cmake ninja-build)" >&2; exit 2; }
done

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOSTR_FUZZ=ON -DPOSTR_CUDA=OFF -DPOSTR_WERROR=OFF \
  -DPOSTR_BUILD_TESTS=OFF -DPOSTR_BUILD_BENCH=OFF -DPOSTR_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]/%/_fuzz}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/postr-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=""
for t in "${targets[@]}"; do
  work="$scratch/$t"
  mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
  for f in "$root/fuzz/corpus/$t"/*; do
    [[ -f $f ]] || continue
    case "$(basename "$f")" in
      crash-*) echo "fuzz.sh: $t: skipping the open-bug reproducer $(basename "$f")" ;;
      *) cp "$f" "$work/corpus/" ;;
    esac
  done
  echo "=== fuzzing $t for $seconds s"
  rc=0
  (cd "$work" && TMPDIR="$work/tmp" "$build/fuzz/${t}_fuzz" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
    "$work/corpus") >"$work/log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)"
  cov="$(sed -En 's/^#[0-9]+[[:space:]]+DONE[[:space:]]+cov: ([0-9]+) ft: ([0-9]+).*/cov \1, ft \2/p' \
    "$work/log" | tail -n 1)"
  if [[ $rc -ne 0 ]] || [[ -n "$(ls -A "$work/artifacts")" ]]; then
    status=1
    mkdir -p "$build/fuzz-artifacts/$t"
    cp -r "$work/artifacts/." "$build/fuzz-artifacts/$t/" 2>/dev/null || true
    cp "$work/log" "$build/fuzz-artifacts/$t/log"
    echo "FAIL: $t (exit $rc); inputs and log in $build/fuzz-artifacts/$t" >&2
    tail -n 60 "$work/log" >&2
    summary+="$t: FAILED (exit $rc)"$'\n'
  else
    summary+="$t: ok, ${execs:-?} executions, ${cov:-no final stats}"$'\n'
  fi
done
echo "=== fuzzing summary ($seconds s per target)"
printf '%s' "$summary"
exit $status
