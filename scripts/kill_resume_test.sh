#!/usr/bin/env bash
# Kill-and-resume test of the ResNet-18 example (issue 9, "Faults"): the example is killed with
# SIGKILL many times at random moments, half of them while it is writing its checkpoint (the
# moment the temporary file "<checkpoint>.tmp" appears, plus a random delay of up to ~1 ms), and
# restarted with --resume each time (the other half leaves any leftover temporary file in place). After every kill the checkpoint must be byte-identical to one of the
# complete checkpoints an uninterrupted run writes (never a partial file) and must load (the
# example resumes from a copy of it); and the run resumed to completion must end with a checkpoint
# byte-identical (cmp) to an uninterrupted run's.
#
# Usage: scripts/kill_resume_test.sh RESNET18_EXE [WORK_DIR] [KILLS]
#   KILLS defaults to 20; KILL_TEST_SEED (default 1) seeds the random delays.
# Exits 0 on success (prints SKIPPED and exits 0 when Fashion-MNIST is not installed), non-zero
# with a message naming the failing kill otherwise. Tiny settings, as in
# cmake/run_example_test.cmake: a run takes about a second.
set -u

exe=${1:?usage: kill_resume_test.sh RESNET18_EXE [WORK_DIR] [KILLS]}
work=${2:-}
kills=${3:-20}
RANDOM=${KILL_TEST_SEED:-1}

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
  exit 0
fi
if [ ! -x "$exe" ]; then
  echo "FAILED: $exe is not an executable (build the resnet18 target)" >&2
  exit 2
fi
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/postr_kill_resume_XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
rm -rf "$work" && mkdir -p "$work" || exit 2

common=(--width 4 --batch-size 16 --epochs 2 --train-subset 32 --test-subset 64 --augment
        --threads 2 --seed 3 --subnetwork 0)
ck=$work/killed.safetensors

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# Runs the example to completion with the common flags plus "$@"; fails the test otherwise.
run() {
  "$exe" "${common[@]}" "$@" >"$work/out.log" 2>&1 ||
    fail "resnet18 $* exited with $?: $(cat "$work/out.log")"
}

now_ms() { date +%s%3N; }

# --- References: the complete checkpoints an uninterrupted run can leave (after steps 1..4), and
# the uninterrupted run's final one. 2 batches per epoch, 2 epochs: 4 steps; a plain run saves at
# the end of each epoch (steps 2 and 4), a run stopped by --stop-after-steps at its stop.
start=$(now_ms)
run --checkpoint "$work/straight.safetensors"
run_ms=$(($(now_ms) - start))
refs=()
for steps in 1 2 3; do
  resume=()
  [ "$steps" -gt 1 ] && resume=(--resume)
  run --checkpoint "$work/steps.safetensors" "${resume[@]}" --stop-after-steps "$steps"
  cp "$work/steps.safetensors" "$work/ref$steps.safetensors"
  refs+=("$work/ref$steps.safetensors")
done
run --checkpoint "$work/steps.safetensors" --resume
cmp -s "$work/steps.safetensors" "$work/straight.safetensors" ||
  fail "a run stopped and resumed without kills differs from the uninterrupted run"
refs+=("$work/straight.safetensors")
echo "uninterrupted run: ${run_ms} ms; checkpoint $(stat -c %s "$work/straight.safetensors") bytes"

# The checkpoint after a kill: absent (only before the first save of a round), or equal to one of
# the references, and loadable by the example itself.
check_checkpoint() {
  local kill=$1 saved=$2
  if [ ! -e "$ck" ]; then
    [ "$saved" -eq 0 ] || fail "kill $kill: the checkpoint disappeared"
    return
  fi
  local ref match=""
  for ref in "${refs[@]}"; do
    if cmp -s "$ck" "$ref"; then
      match=$ref
      break
    fi
  done
  [ -n "$match" ] || fail "kill $kill: the checkpoint ($(stat -c %s "$ck") bytes) equals none of \
the complete checkpoints: a partial or corrupt file replaced it (kept in $work)"
  cp "$ck" "$work/verify.safetensors"
  "$exe" "${common[@]}" --checkpoint "$work/verify.safetensors" --resume --stop-after-steps 1 \
    >"$work/verify.log" 2>&1 || fail "kill $kill: the checkpoint does not load: \
$(cat "$work/verify.log")"
  grep -q "resumed from" "$work/verify.log" || fail "kill $kill: the example did not resume"
}

# --- The kills.
killed=0 during_write=0 completed_rounds=0 saved=0 attempts=0
while [ "$killed" -lt "$kills" ]; do
  attempts=$((attempts + 1))
  [ "$attempts" -le $((kills * 5)) ] || fail "only $killed kills in $attempts attempts"
  resume=()
  [ -e "$ck" ] && resume=(--resume)
  targeted=$((attempts % 2))
  # A targeted kill waits for the temporary file to appear; a leftover one from an earlier kill
  # would fire it at once, so it goes first (the next save would truncate and reuse it anyway).
  [ "$targeted" -eq 1 ] && rm -f "$ck.tmp"
  "$exe" "${common[@]}" --checkpoint "$ck" "${resume[@]}" >"$work/run.log" 2>&1 &
  pid=$!
  if [ "$targeted" -eq 1 ]; then
    while kill -0 "$pid" 2>/dev/null && [ ! -e "$ck.tmp" ]; do :; done
    # Then 0 to ~1 ms into the write (a busy wait: starting `sleep` takes longer than that).
    spin=$((RANDOM % 300))
    for ((i = 0; i < spin; ++i)); do :; done
  else
    delay_ms=$((RANDOM % (run_ms + 1)))
    sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"
  fi
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    killed=$((killed + 1))
    # Inside the write: the temporary file (removed before this run) is still there.
    [ "$targeted" -eq 1 ] && [ -e "$ck.tmp" ] && during_write=$((during_write + 1))
    check_checkpoint "$killed" "$saved"
    [ -e "$ck" ] && saved=1
  else
    # It finished before the kill: it must have succeeded and written the final checkpoint.
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] || fail "a resumed run exited with $rc: $(cat "$work/run.log")"
    cmp -s "$ck" "$work/straight.safetensors" ||
      fail "a run resumed after kills ended with a checkpoint that differs from the \
uninterrupted run's"
    completed_rounds=$((completed_rounds + 1))
    rm -f "$ck" "$ck.tmp"
    saved=0
  fi
done

# --- Resume the last killed run to completion: the same final checkpoint, byte for byte.
resume=()
[ -e "$ck" ] && resume=(--resume)
run --checkpoint "$ck" "${resume[@]}"
cmp -s "$ck" "$work/straight.safetensors" ||
  fail "the run resumed to completion after $killed kills differs from the uninterrupted run"
completed_rounds=$((completed_rounds + 1))
echo "PASSED: $killed SIGKILLs ($during_write inside a checkpoint write), \
$completed_rounds runs resumed to completion, each final checkpoint identical to the \
uninterrupted run's"
