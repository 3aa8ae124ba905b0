#!/usr/bin/env bash
# `fastgpu queue` with a large queue, two builds side by side (for instance the code before
# a change and after it), on simulated GPUs (4xH100-80G), state on tmpfs: a job holding
# every GPU and N one-GPU jobs queued behind it (arrays of 10,000), then, R times each,
# alternating A, B, A, B, ...:
#   queue          the table (queued array members with consecutive ids share a line)
#   queue --json   every field of every job
#   ls -r          the table, one line per job
#   daemon status  the daemon's counts of jobs per state (GET /v1/daemon, which every
#                  command asks first)
# Both builds serve the same stored jobs (the daemon is restarted with the other build on
# the same state folder), so their outputs are compared too: the JSON byte for byte, the
# tables but for the ELAPSED column (the holder's run time moves on). Each run prints its
# wall time, the client's CPU time and the daemon's; then the medians and the ratios B/A.
# docs/benchmarks.md records the figures.
#
# Usage: bench/queue_listing.sh BUILD_A BUILD_B [N] [R]
#   BUILD_A, BUILD_B  build folders holding fastgpu and fastgpu-supervisor
#   N                 queued jobs (default 100000)
#   R                 runs of each command with each build (default 3)
set -euo pipefail

A=${1:?usage: $0 BUILD_A BUILD_B [N] [R]}
B=${2:?usage: $0 BUILD_A BUILD_B [N] [R]}
N=${3:-100000}
R=${4:-3}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$A" "$B"
require_shm

WORK=$(mktemp -d /dev/shm/fastgpu-queue-listing.XXXXXX)
export XDG_STATE_HOME=$WORK/state XDG_RUNTIME_DIR=$WORK/run FASTGPU_DEVICES=4xH100-80G
mkdir -p "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
FASTGPU=""
HOLDER=""
cleanup() {
  if [[ -n $FASTGPU ]]; then
    if [[ -n $HOLDER ]]; then "$FASTGPU" cancel "$HOLDER" >/dev/null 2>&1 || true; fi
    "$FASTGPU" daemon stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A daemon of build $1 on the shared state folder (the previous one stopped first).
use_build() {
  if [[ -n $FASTGPU ]]; then "$FASTGPU" daemon stop >/dev/null; fi
  FASTGPU=$1/fastgpu
  "$FASTGPU" daemon start >/dev/null
  DAEMON_PID=$(daemon_pid)
}

fill() {
  use_build "$A"
  HOLDER=$("$FASTGPU" submit --gpus 4 --gpu-mem 70G --time 1h -- sleep 3600)
  local first last
  for ((first = 0; first < N; first += 10000)); do
    last=$((first + 10000 < N ? first + 10000 - 1 : N - 1))
    "$FASTGPU" submit --array "0-$((last - first))" --gpus 1 --gpu-mem 1G -- true >/dev/null
  done
  "$FASTGPU" daemon status | grep '^jobs:'
}

# Runs `fastgpu $2...` with the current build, labelled $1; prints one line and appends
# "label command wall" to $WORK/times. Keeps the output in $WORK/out.$1.<command>.
measure() {
  local label=$1 cpu0 cpu name
  shift
  name=$(echo "$*" | tr ' ' '_')
  cpu0=$(daemon_cpu)
  /usr/bin/time -o "$WORK/time" -f '%e %U %S' "$FASTGPU" "$@" >"$WORK/out.$label.$name"
  cpu=$(echo "$(daemon_cpu) - $cpu0" | bc -l)
  read -r wall user sys <"$WORK/time"
  printf '%-4s %-13s wall %6.2f s  client CPU %6.2f s  daemon CPU %6.2f s  (%s lines)\n' \
    "$label" "$*" "$wall" "$(echo "$user + $sys" | bc -l)" "$cpu" \
    "$(wc -l <"$WORK/out.$label.$name")"
  echo "$label $name $wall" >>"$WORK/times"
}

run_build() {
  use_build "$2"
  measure "$1" queue
  measure "$1" queue --json
  measure "$1" ls -r
  measure "$1" daemon status
}

# The tables without their last column (ELAPSED), the JSON as is.
compare_outputs() {
  local name
  for name in queue ls_-r; do
    if ! cmp -s <(sed -E 's/ +[^ ]+$//' "$WORK/out.A.$name") \
      <(sed -E 's/ +[^ ]+$//' "$WORK/out.B.$name"); then
      echo "DIFFERENT: $name (but for ELAPSED)"
    fi
  done
  cmp -s "$WORK/out.A.queue_--json" "$WORK/out.B.queue_--json" || echo "DIFFERENT: queue --json"
  echo "outputs compared (A's and B's last runs)"
}

echo "A = $A, B = $B; $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1 /proc/loadavg)"
fill
for ((run = 0; run < R; run++)); do
  run_build A "$A"
  run_build B "$B"
done
compare_outputs
python3 - "$WORK/times" <<'EOF'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    label, name, wall = line.split()
    times.setdefault(name, {}).setdefault(label, []).append(float(wall))
for name, by in times.items():
    a, b = statistics.median(by["A"]), statistics.median(by["B"])
    print(f"{name.replace('_', ' '):13}  A median {a:6.2f} s ({min(by['A']):.2f}-{max(by['A']):.2f})"
          f"  B median {b:6.2f} s ({min(by['B']):.2f}-{max(by['B']):.2f})  A/B {a / b:5.1f}x")
EOF
echo "load at the end $(cut -d' ' -f1 /proc/loadavg)"
