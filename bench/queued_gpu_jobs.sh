#!/usr/bin/env bash
# A daemon with a large queue of GPU jobs, two builds side by side (for instance the
# code before a change and after it), on simulated GPUs (4xH100-80G), state on tmpfs:
#   drain  N one-GPU jobs of `true` (1 GiB, a quarter of a GPU each: 16 run at once):
#          the wall time and the daemon's CPU per job;
#   idle   a job holding every GPU and Q GPU jobs waiting behind it: the daemon's CPU per
#          second over W seconds while nothing can start (its ticks, every 500 ms; over 60
#          s, also the minute check of its mirrors), and the time a `fastgpu submit` of one
#          more job takes.
# Each build runs R times, alternating A, B, A, B, ...; every run is printed.
# docs/benchmarks.md records the figures.
#
# Usage: bench/queued_gpu_jobs.sh BUILD_A BUILD_B [N] [Q] [R] [W]
#   BUILD_A, BUILD_B  build folders holding fastgpu and fastgpu-supervisor
#   N                 jobs drained (default 10000; 0 skips the drain)
#   Q                 jobs waiting in the idle case (default 100000)
#   R                 runs of each build (default 2)
#   W                 seconds of waiting measured in the idle case (default 10)
set -euo pipefail

A=${1:?usage: $0 BUILD_A BUILD_B [N] [Q] [R] [W]}
B=${2:?usage: $0 BUILD_A BUILD_B [N] [Q] [R] [W]}
N=${3:-10000}
Q=${4:-100000}
R=${5:-2}
W=${6:-10}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$A" "$B"
require_shm

WORK=$(mktemp -d /dev/shm/fastgpu-queued.XXXXXX)
FASTGPU=""
cleanup() {
  if [[ -n $FASTGPU ]]; then "$FASTGPU" daemon stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# A fresh daemon of build $1 with its own state folder; sets FASTGPU and DAEMON_PID.
start_daemon() {
  FASTGPU=$1/fastgpu
  rm -rf "$WORK/state" "$WORK/run"
  mkdir -p "$WORK/state" "$WORK/run"
  export XDG_STATE_HOME=$WORK/state XDG_RUNTIME_DIR=$WORK/run FASTGPU_DEVICES=4xH100-80G
  "$FASTGPU" daemon start >/dev/null
  DAEMON_PID=$(daemon_pid)
}
stop_daemon() {
  "$FASTGPU" daemon stop >/dev/null
  FASTGPU=""
}
# Submits $1 jobs as arrays of at most 10,000 (the array limit): the rest of the args.
submit_many() {
  local count=$1 first
  shift
  for ((first = 0; first < count; first += 10000)); do
    local last=$((first + 10000 < count ? first + 10000 - 1 : count - 1))
    "$FASTGPU" submit --array "0-$((last - first))" "$@" >/dev/null
  done
}

drain() {
  local label=$1 build=$2 start cpu0 wall cpu completed
  start_daemon "$build"
  cpu0=$(daemon_cpu)
  start=$(now)
  submit_many "$N" --gpus 1 --gpu-mem 1G --share 0.25 -- true
  "$FASTGPU" wait --all >/dev/null
  wall=$(elapsed "$start" "$(now)")
  cpu=$(elapsed "$cpu0" "$(daemon_cpu)")
  completed=$("$FASTGPU" history --json | python3 -c \
    'import json,sys; print(sum(j["state"] == "COMPLETED" for j in json.load(sys.stdin)["jobs"]))')
  stop_daemon
  printf '%-4s drain %6d: wall %7.2f s  daemon CPU %7.2f s = %5.2f ms/job  (%s COMPLETED)\n' \
    "$label" "$N" "$wall" "$cpu" "$(echo "$cpu * 1000 / $N" | bc -l)" "$completed"
}

idle() {
  local label=$1 build=$2 cpu0 cpu start submit holder
  start_daemon "$build"
  holder=$("$FASTGPU" submit --gpus 4 --gpu-mem 70G --time 1h -- sleep 600)
  submit_many "$Q" --gpus 1 --gpu-mem 1G -- true
  sleep 2
  cpu0=$(daemon_cpu)
  sleep "$W"
  cpu=$(elapsed "$cpu0" "$(daemon_cpu)")
  start=$(now)
  "$FASTGPU" submit --gpus 1 --gpu-mem 1G -- true >/dev/null
  submit=$(elapsed "$start" "$(now)")
  "$FASTGPU" cancel "$holder" >/dev/null
  stop_daemon
  printf '%-4s idle  %6d: daemon CPU %6.3f s per s of waiting (%s s)  one more submit %6.3f s\n' \
    "$label" "$Q" "$(echo "$cpu / $W" | bc -l)" "$W" "$submit"
}

echo "A = $A, B = $B; $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1 /proc/loadavg)"
for ((run = 0; run < R && N > 0; run++)); do
  drain A "$A"
  drain B "$B"
done
for ((run = 0; run < R; run++)); do
  idle A "$A"
  idle B "$B"
done
