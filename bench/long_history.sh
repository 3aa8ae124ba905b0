#!/usr/bin/env bash
# A daemon whose state database holds a long past: OLD jobs that ended 30 days ago (before
# the ten days that the fair policy weighs by default) and a recent array of RECENT, two
# builds side by side on the same database (for instance the code before a change and after
# it). The state goes on tmpfs (/dev/shm), simulated GPUs (1xH100-80G), two CPU slots.
#
# The database is made once, with BUILD_A (make_long_past in daemon_bench_lib.sh): a daemon
# runs RECENT tasks of `true`, then the sqlite3 shell copies those jobs' rows (with their
# transitions and events) until OLD jobs ended a month ago. Each build then
# gets its own copy of it, several times in turn (A, B, A, B, ...), and for each:
#   open     `fastgpu daemon start` under fair on the copy: the wall time until it answers
#            (a build with a newer schema migrates the database first, its cost is here);
#   first    then one job submitted and waited for: the wall time from the start until it
#            ended (the first tick reads what fair weighs), and the daemon's CPU by then;
#   since    `fastgpu history --since 1h`: the wall time (the recent jobs among all);
#   last     `fastgpu history --since 1h -n 10`;
#   last10   `fastgpu history -n 10` (the last ten to end of every one: what the dashboard's
#            ended jobs ask too);
#   queue    `fastgpu queue` (the queue is empty: what every command costs besides its own).
# Each build's medians, and B / A.
#
# Usage: bench/long_history.sh BUILD_A BUILD_B [OLD] [RECENT] [RUNS]
#   BUILD_A, BUILD_B  build folders holding fastgpu and fastgpu-supervisor
#   OLD               jobs that ended a month ago (default 500000)
#   RECENT            jobs that ended in the last minutes (default 1000)
#   RUNS              runs of each build (default 3)
set -euo pipefail

A=${1:?usage: $0 BUILD_A BUILD_B [OLD] [RECENT] [RUNS]}
B=${2:?usage: $0 BUILD_A BUILD_B [OLD] [RECENT] [RUNS]}
OLD=${3:-500000}
RECENT=${4:-1000}
RUNS=${5:-3}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$A" "$B"
require_shm
require_sqlite3

WORK=$(mktemp -d /dev/shm/fastgpu-long-history.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

use_state() {
  export FASTGPU_STATE_DIR=$1 FASTGPU_SOCKET=$1/fastgpu.sock
  export FASTGPU_POLICY=fair FASTGPU_CPU_SLOTS=2 FASTGPU_DEVICES=1xH100-80G
}

now_s() { date +%s.%N; }
elapsed() { echo "$(now_s) - $1" | bc; }

# One run of one build on a fresh copy: "OPEN FIRST FIRST_CPU SINCE LAST LAST10 QUEUE"
# (seconds).
run_one() {
  local build=$1 state=$WORK/run
  rm -rf "$state"
  cp -a "$WORK/base" "$state"
  use_state "$state"
  FASTGPU=$build/fastgpu
  local begin open first first_cpu since last last10 queue id
  begin=$(now_s)
  "$FASTGPU" daemon start --devices 1xH100-80G --policy fair >/dev/null
  open=$(elapsed "$begin")
  DAEMON_PID=$(daemon_pid)
  id=$("$FASTGPU" submit --gpus 0 -- true)
  "$FASTGPU" wait "$id" --timeout 600s >/dev/null
  first=$(elapsed "$begin")
  first_cpu=$(daemon_cpu)
  begin=$(now_s)
  "$FASTGPU" history --since 1h >/dev/null
  since=$(elapsed "$begin")
  begin=$(now_s)
  "$FASTGPU" history --since 1h -n 10 >/dev/null
  last=$(elapsed "$begin")
  begin=$(now_s)
  "$FASTGPU" history -n 10 >/dev/null
  last10=$(elapsed "$begin")
  begin=$(now_s)
  "$FASTGPU" queue >/dev/null
  queue=$(elapsed "$begin")
  "$FASTGPU" daemon stop >/dev/null 2>&1 || kill "$DAEMON_PID" 2>/dev/null || true
  echo "$open $first $first_cpu $since $last $last10 $queue"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

use_state "$WORK/run"
make_long_past "$A" "$WORK/run" "$RECENT" "$OLD"
cp -a "$WORK/run" "$WORK/base"
printf '%-5s %8s %9s %11s %10s %9s %9s %9s\n' build "open s" "first s" "first CPU s" \
  "since s" "last s" "last10 s" "queue s"
declare -A col
for ((run = 0; run < RUNS; run++)); do
  for build in "$A" "$B"; do
    label=$([[ $build == "$A" ]] && echo A || echo B)
    read -r -a f <<<"$(run_one "$build")"
    printf '%-5s %8.3f %9.3f %11.3f %10.3f %9.3f %9.3f %9.3f\n' "$label" "${f[@]}"
    for i in 0 1 2 3 4 5 6; do col[$label$i]+="${f[i]} "; done
  done
done
names=(open first "first CPU" since last last10 queue)
for i in 0 1 2 3 4 5 6; do
  # shellcheck disable=SC2086  # the words are the runs' figures
  a=$(median ${col[A$i]})
  # shellcheck disable=SC2086
  b=$(median ${col[B$i]})
  printf 'median %-10s A %8.3f s  B %8.3f s  B/A %s\n' "${names[i]}" "$a" "$b" \
    "$(echo "scale=3; $b / $a" | bc)"
done
