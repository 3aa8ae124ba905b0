#!/usr/bin/env bash
# The fair policy against priority with a growing history of ended jobs, two builds side by
# side (for instance the code before a change and after it), on simulated GPUs
# (1xH100-80G), state on tmpfs, two CPU slots. For each build and each policy, a fresh
# daemon:
#   array  an N-task array of `true` (`submit --gpus 0 --array 0-N-1`, then `wait --all`,
#          given at most LIMIT seconds): its wall time and the daemon's CPU time;
#   idle   then, with N ended jobs in the store, a one-GPU job running and another
#          queued behind it, the daemon's CPU time over 10 s of ticks.
# fair ranks users by the GPU time of their jobs that ended lately, so its daemon must not
# cost more with every job that ends; each build's fair/priority ratios say how much it
# does. docs/benchmarks.md records the figures.
#
# Usage: bench/fair_history.sh BUILD_A BUILD_B [N] [LIMIT]
#   BUILD_A, BUILD_B  build folders holding fastgpu and fastgpu-supervisor
#   N                 tasks of the array (default 10000)
#   LIMIT             seconds the array may take before the run gives up (default 300)
set -euo pipefail

A=${1:?usage: $0 BUILD_A BUILD_B [N] [LIMIT]}
B=${2:?usage: $0 BUILD_A BUILD_B [N] [LIMIT]}
N=${3:-10000}
LIMIT=${4:-300}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$A" "$B"
require_shm

# One build under one policy; prints "ARRAY_WALL ARRAY_CPU IDLE_CPU" (wall "-" when the
# array did not end within LIMIT).
run_one() {
  local build=$1 policy=$2
  local state
  state=$(mktemp -d /dev/shm/fastgpu-fair-bench.XXXXXX)
  export FASTGPU_STATE_DIR=$state FASTGPU_SOCKET=$state/fastgpu.sock
  export FASTGPU_POLICY=$policy FASTGPU_CPU_SLOTS=2 FASTGPU_DEVICES=1xH100-80G
  FASTGPU=$build/fastgpu
  "$FASTGPU" daemon start --devices 1xH100-80G --policy "$policy" >/dev/null
  DAEMON_PID=$(daemon_pid)
  local begin cpu0 wall=- array_cpu idle_cpu
  begin=$(date +%s.%N)
  cpu0=$(daemon_cpu)
  "$FASTGPU" submit --gpus 0 --array "0-$((N - 1))" -- true >/dev/null
  if "$FASTGPU" wait --all --timeout "${LIMIT}s" >/dev/null 2>&1; then
    wall=$(echo "$(date +%s.%N) - $begin" | bc)
  fi
  array_cpu=$(echo "$(daemon_cpu) - $cpu0" | bc)
  timeout 120 "$FASTGPU" cancel --all >/dev/null 2>&1 || true
  "$FASTGPU" submit --gpus 1 -- sleep 60 >/dev/null
  "$FASTGPU" submit --gpus 1 -- sleep 60 >/dev/null
  sleep 2
  cpu0=$(daemon_cpu)
  sleep 10
  idle_cpu=$(echo "$(daemon_cpu) - $cpu0" | bc)
  timeout 120 "$FASTGPU" cancel --all >/dev/null 2>&1 || true
  "$FASTGPU" daemon stop >/dev/null 2>&1 || kill "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$state"
  echo "$wall $array_cpu $idle_cpu"
}

ratio() {
  if [[ $1 == - || $2 == - ]]; then echo "-"; else echo "scale=2; $1 / $2" | bc; fi
}

printf '%-8s %-9s %12s %14s %16s\n' build policy "array wall s" "array daemon s" "idle daemon s/10s"
for build in "$A" "$B"; do
  read -r p_wall p_cpu p_idle <<<"$(run_one "$build" priority)"
  read -r f_wall f_cpu f_idle <<<"$(run_one "$build" fair)"
  label=$([[ $build == "$A" ]] && echo A || echo B)
  printf '%-8s %-9s %12s %14s %16s\n' "$label" priority "$p_wall" "$p_cpu" "$p_idle"
  printf '%-8s %-9s %12s %14s %16s\n' "$label" fair "$f_wall" "$f_cpu" "$f_idle"
  printf '%-8s fair/priority: array wall %sx, array daemon CPU %sx\n' "$label" \
    "$(ratio "$f_wall" "$p_wall")" "$(ratio "$f_cpu" "$p_cpu")"
done
echo "(wall '-': the array did not end within ${LIMIT} s)"
