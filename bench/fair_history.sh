#!/usr/bin/env bash
# The fair policy against priority with a growing history of ended jobs, two builds side by
# side (for instance the code before a change and after it), on simulated GPUs
# (1xH100-80G), state on tmpfs, two CPU slots. For each build and each policy, a fresh
# daemon:
#   arrays  R arrays of N tasks of `true` in a row (`submit --gpus 0 --array 0-N-1`, then
#           `wait --all`, each given at most LIMIT seconds): each one's wall time and the
#           daemon's CPU time, the last one after (R-1) x N ended jobs;
#   idle    then, with R x N ended jobs in the store, a one-GPU job running and another
#           queued behind it, the daemon's CPU time over 10 s of ticks.
# fair ranks users by the GPU time of their jobs that ended lately, so its daemon must not
# cost more with every job that ends; each build's fair/priority ratios (of the last
# array) say how much it does. docs/benchmarks.md records the figures.
#
# Usage: bench/fair_history.sh BUILD_A BUILD_B [N] [LIMIT] [R]
#   BUILD_A, BUILD_B  build folders holding fastgpu and fastgpu-supervisor
#   N                 tasks of each array (at most 10000, default 10000)
#   LIMIT             seconds an array may take before the run gives up (default 300)
#   R                 arrays in a row (default 1)
set -euo pipefail

A=${1:?usage: $0 BUILD_A BUILD_B [N] [LIMIT] [R]}
B=${2:?usage: $0 BUILD_A BUILD_B [N] [LIMIT] [R]}
N=${3:-10000}
LIMIT=${4:-300}
R=${5:-1}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$A" "$B"
require_shm

# One build under one policy; prints "WALL CPU" for each array in a row, then the idle
# CPU (wall "-" for an array that did not end within LIMIT: the rest are not run).
run_one() {
  local build=$1 policy=$2
  local state
  state=$(mktemp -d /dev/shm/fastgpu-fair-bench.XXXXXX)
  export FASTGPU_STATE_DIR=$state FASTGPU_SOCKET=$state/fastgpu.sock
  export FASTGPU_POLICY=$policy FASTGPU_CPU_SLOTS=2 FASTGPU_DEVICES=1xH100-80G
  FASTGPU=$build/fastgpu
  "$FASTGPU" daemon start --devices 1xH100-80G --policy "$policy" >/dev/null
  DAEMON_PID=$(daemon_pid)
  local round begin cpu0 wall idle_cpu out=""
  for ((round = 0; round < R; round++)); do
    begin=$(date +%s.%N)
    cpu0=$(daemon_cpu)
    wall=-
    "$FASTGPU" submit --gpus 0 --array "0-$((N - 1))" -- true >/dev/null
    if "$FASTGPU" wait --all --timeout "${LIMIT}s" >/dev/null 2>&1; then
      wall=$(echo "$(date +%s.%N) - $begin" | bc)
    fi
    out+="$wall $(echo "$(daemon_cpu) - $cpu0" | bc) "
    [[ $wall == - ]] && break
  done
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
  echo "$out$idle_cpu"
}

ratio() {
  if [[ $1 == - || $2 == - ]]; then echo "-"; else echo "scale=2; $1 / $2" | bc; fi
}

# One row per array in a row; the last field of a run is its idle CPU.
print_rows() {
  local label=$1 policy=$2
  shift 2
  local fields=("$@") i
  for ((i = 0; i + 2 < ${#fields[@]}; i += 2)); do
    printf '%-6s %-9s %6s %14s %16s\n' "$label" "$policy" "$((i / 2 + 1))" "${fields[i]}" \
      "${fields[i + 1]}"
  done
  printf '%-6s %-9s %6s %14s %16s   idle daemon CPU over 10 s: %s s\n' "$label" "$policy" \
    "" "" "" "${fields[-1]}"
}

printf '%-6s %-9s %6s %14s %16s\n' build policy array "wall s" "daemon CPU s"
for build in "$A" "$B"; do
  label=$([[ $build == "$A" ]] && echo A || echo B)
  read -r -a by_priority <<<"$(run_one "$build" priority)"
  read -r -a by_fair <<<"$(run_one "$build" fair)"
  print_rows "$label" priority "${by_priority[@]}"
  print_rows "$label" fair "${by_fair[@]}"
  # The last array each ran (its fields before the idle one).
  printf '%-6s fair/priority, last array: wall %sx, daemon CPU %sx\n' "$label" \
    "$(ratio "${by_fair[-3]}" "${by_priority[-3]}")" "$(ratio "${by_fair[-2]}" "${by_priority[-2]}")"
done
echo "(wall '-': the array did not end within ${LIMIT} s; a row per array in a row)"
