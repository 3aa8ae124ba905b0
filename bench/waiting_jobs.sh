#!/usr/bin/env bash
# Jobs flowing past a crowd of jobs that wait: N trivial CPU jobs (`true`) through the daemon,
# once alone and once beside W CPU jobs that wait for a running job (`--after`), with C CPU
# slots. Prints each run's wall time and the daemon's own CPU per trivial job, and the
# ratios of the second run to the first: a job that waits should cost the daemon nothing
# while it waits. docs/benchmarks.md records the figures.
#
# Usage: bench/waiting_jobs.sh [N] [W] [C] [BUILD_DIR]
#   N          trivial jobs (default 1000)
#   W          waiting jobs (default 10000)
#   C          CPU slots (default 4)
#   BUILD_DIR  where fastgpu is (default build/release)
set -euo pipefail

N=${1:-1000}
W=${2:-10000}
C=${3:-4}
BUILD=${4:-build/release}
FASTGPU=$BUILD/fastgpu
if [[ ! -x $FASTGPU ]]; then
  echo "missing $FASTGPU; build it first (cmake --preset release && cmake --build --preset release)" >&2
  exit 2
fi

WORK=$(mktemp -d /tmp/fastgpu-waiting.XXXXXX)
cleanup() {
  for base in "$WORK"/*/; do
    XDG_STATE_HOME=$base/state XDG_RUNTIME_DIR=$base/run "$FASTGPU" daemon stop >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
unset FASTGPU_STATE_DIR FASTGPU_SOCKET FASTGPU_DEVICES FASTGPU_CONFIG

now() { date +%s.%N; }

# Runs N trivial jobs beside `waiting` jobs that wait; prints its line and leaves
# "wall daemon_ms_per_job" in $WORK/run<waiting>/figures.
run() {
  local waiting=$1 base=$WORK/run$1
  mkdir -p "$base/state" "$base/run"
  (
    export XDG_STATE_HOME=$base/state XDG_RUNTIME_DIR=$base/run
    FASTGPU_CPU_SLOTS=$C "$FASTGPU" daemon start >/dev/null
    local pid long ids start wall cpu0 cpu1 completed
    pid=$("$FASTGPU" daemon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
    long=$("$FASTGPU" submit --gpus 0 -- sleep 3600)
    if ((waiting > 0)); then
      "$FASTGPU" submit --gpus 0 --after "$long" --array "0-$((waiting - 1))" -- true >/dev/null
    fi
    sleep 1  # the daemon takes the waiting jobs in before the clock starts
    cpu0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    start=$(now)
    mapfile -t ids < <("$FASTGPU" submit --gpus 0 --array "0-$((N - 1))" -- true)
    "$FASTGPU" wait "${ids[@]}" >/dev/null
    wall=$(echo "$(now) - $start" | bc -l)
    cpu1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    completed=$("$FASTGPU" history --json | python3 -c \
      'import json,sys; print(sum(j["state"] == "COMPLETED" for j in json.load(sys.stdin)["jobs"]))')
    "$FASTGPU" cancel "$long" >/dev/null
    "$FASTGPU" daemon stop >/dev/null
    local ms
    ms=$(echo "($cpu1 - $cpu0) * 1000 / $(getconf CLK_TCK) / $N" | bc -l)
    printf '%-30s %8.2f s  daemon cpu per job %.3f ms  (%s of %s COMPLETED)\n' \
      "beside $waiting waiting jobs" "$wall" "$ms" "$completed" "$N"
    echo "$wall $ms" >"$base/figures"
  )
}

echo "$N trivial jobs, $C CPU slots, $(nproc) CPUs; $(date -u +%Y-%m-%d)"
run 0
run "$W"
read -r alone_wall alone_ms <"$WORK/run0/figures"
read -r crowd_wall crowd_ms <"$WORK/run$W/figures"
printf 'ratio beside %s waiting / alone: wall %.2fx, daemon cpu per job %.2fx\n' "$W" \
  "$(echo "$crowd_wall / $alone_wall" | bc -l)" "$(echo "$crowd_ms / $alone_ms" | bc -l)"
