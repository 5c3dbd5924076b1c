#!/usr/bin/env bash
# Every check that needs an NVIDIA GPU, in one run sized for a short lease on an H100 (issues 8
# and 9): build with CUDA for the device, run the CUDA tests, run them again under
# compute-sanitizer (memcheck, then racecheck), and run the GPU benchmark rows. Nothing here
# installs or downloads anything; any BLAS/LAPACK will do (the lent H100 has reference BLAS).
#
# Usage: scripts/gpu_check.sh [stage...]    stages: build test sanitize bench (default: all)
# Environment: OUT (where logs go; default build-gpu/logs), CUDA_ARCH (default 90), JOBS
# (default: all cores), SANITIZE_SECONDS (at most per test binary and tool; default 90),
# SANITIZE_BUDGET (the whole sanitize stage; default 360), BENCH_FILTER (default: every /cuda
# row, the direct cuBLAS/cuSOLVER references included).
#
# Sized for a lease of 15 device minutes and 10 per call: build + test + sanitize in one call
# (≈ 2 + 0.5 + ≤ 6 minutes on 16 cores), bench in a second call on the same warm machine.
#
# Each stage writes its full log to $OUT/<stage>.log and one line to $OUT/summary.txt, which
# is printed last. The script exits non-zero when a stage fails, after running the rest.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-gpu"
out="${OUT:-$build/logs}"
arch="${CUDA_ARCH:-90}"
jobs="${JOBS:-$(nproc)}"
sanitize_seconds="${SANITIZE_SECONDS:-90}"
sanitize_budget="${SANITIZE_BUDGET:-360}"
bench_filter="${BENCH_FILTER:-/cuda}"
sanitizer="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
stages=("$@")
((${#stages[@]})) || stages=(build test sanitize bench)
mkdir -p "$out"
: >"$out/summary.txt"
status=0

note() {  # note STAGE RESULT: one summary line with the stage's wall time
    printf '%-10s %-60s %5d s\n' "$1" "$2" "$((SECONDS - stage_start))" | tee -a "$out/summary.txt"
}

run_build() {
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOSTR_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES="$arch" -DPOSTR_BUILD_BENCH=ON -DPOSTR_BUILD_EXAMPLES=OFF &&
        cmake --build "$build" -j "$jobs"
}

run_tests() {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
        --format=csv || true
    ctest --test-dir "$build" -L cuda --output-on-failure -j 4
}

# compute-sanitizer over each CUDA test binary: memcheck for all of them first, then racecheck
# (10-100× slower than a native run). Each run is bounded by sanitize_seconds and by what is
# left of sanitize_budget; a run cut off counts as unfinished and one never started as not
# run, neither as clean.
run_sanitizers() {
    local failed=0 bin tool rc verdict limit
    local deadline=$((SECONDS + sanitize_budget))
    for tool in memcheck racecheck; do
        for bin in "$build"/tests/postr_*_cuda_tests; do
            limit=$((deadline - SECONDS))
            ((limit > sanitize_seconds)) && limit=$sanitize_seconds
            if ((limit < 5)); then
                verdict="NOT RUN (budget of ${sanitize_budget} s spent)"
            else
                timeout "$limit" "$sanitizer" --tool "$tool" --error-exitcode 99 \
                    --print-limit 20 "$bin" --gtest_brief=1
                rc=$?
                case $rc in
                    0) verdict="0 errors" ;;
                    124) verdict="UNFINISHED after ${limit} s" ;;
                    *) verdict="FAILED (exit $rc)"; failed=1 ;;
                esac
            fi
            echo "[sanitize] $tool $(basename "$bin"): $verdict"
        done
    done
    return $failed
}

run_benchmarks() {
    local failed=0 b
    for b in kernels_bench curvature_bench subnet_bench inference_bench train_bench; do
        echo "=== $b"
        "$build/bench/$b" --benchmark_filter="$bench_filter" --benchmark_repetitions=3 \
            --benchmark_report_aggregates_only=true \
            --benchmark_out="$out/$b.json" --benchmark_out_format=json || failed=1
    done
    return $failed
}

for stage in "${stages[@]}"; do
    stage_start=$SECONDS
    case $stage in
        build) fn=run_build ;;
        test) fn=run_tests ;;
        sanitize) fn=run_sanitizers ;;
        bench) fn=run_benchmarks ;;
        *) echo "gpu_check: unknown stage \"$stage\" (build, test, sanitize, bench)" >&2; exit 2 ;;
    esac
    if $fn >"$out/$stage.log" 2>&1; then
        note "$stage" "ok"
    else
        note "$stage" "FAILED: see $out/$stage.log"
        status=1
        [ "$stage" = build ] && break  # nothing else can run
    fi
done
# The sanitizer verdicts and the benchmark table, short enough for a lease reply's tail.
grep -h '^\[sanitize\]' "$out/sanitize.log" 2>/dev/null || true
grep -hE '_median' "$out/bench.log" 2>/dev/null | cut -c1-120 || true
cat "$out/summary.txt"
exit $status
