#!/usr/bin/env bash
# `fastgpu report` on a long past, against what a script would read to sum the same jobs up
# itself: `fastgpu history --json` of every ended job. One daemon on a state database that
# holds OLD jobs that ended a month ago and RECENT that just ended (make_long_past in
# daemon_bench_lib.sh), on tmpfs (/dev/shm), simulated GPUs (1xH100-80G). The commands run
# in turn, RUNS times each (`report`, `report --by day`, `history --json`); the wall time of
# each, their medians, and report / history and by day / by name.
#
# Usage: bench/usage_report.sh BUILD [OLD] [RECENT] [RUNS]
#   BUILD   a build folder holding fastgpu and fastgpu-supervisor
#   OLD     jobs that ended a month ago (default 100000)
#   RECENT  jobs that ended in the last minutes (default 1000)
#   RUNS    runs of each command (default 5)
set -euo pipefail

BUILD=${1:?usage: $0 BUILD [OLD] [RECENT] [RUNS]}
OLD=${2:-100000}
RECENT=${3:-1000}
RUNS=${4:-5}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$BUILD"
require_shm
require_sqlite3

WORK=$(mktemp -d /dev/shm/fastgpu-usage-report.XXXXXX)
cleanup() {
  "$BUILD/fastgpu" daemon stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export FASTGPU_STATE_DIR=$WORK/state FASTGPU_SOCKET=$WORK/state/fastgpu.sock
export FASTGPU_CPU_SLOTS=2 FASTGPU_DEVICES=1xH100-80G

now_s() { date +%s.%N; }
elapsed() { echo "$(now_s) - $1" | bc; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

make_long_past "$BUILD" "$FASTGPU_STATE_DIR" "$RECENT" "$OLD"
FASTGPU=$BUILD/fastgpu
"$FASTGPU" daemon start >/dev/null
summed=$("$FASTGPU" report --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["jobs"])')
echo "jobs summed up: $summed (OLD $OLD + RECENT $RECENT)"
printf '%-4s %10s %17s %16s\n' run "report s" "report --by day s" "history --json s"
report_times=() day_times=() history_times=()
for ((run = 1; run <= RUNS; run++)); do
  begin=$(now_s)
  "$FASTGPU" report >/dev/null
  report_times+=("$(elapsed "$begin")")
  begin=$(now_s)
  "$FASTGPU" report --by day >/dev/null
  day_times+=("$(elapsed "$begin")")
  begin=$(now_s)
  "$FASTGPU" history --json >/dev/null
  history_times+=("$(elapsed "$begin")")
  printf '%-4s %10.3f %17.3f %16.3f\n' "$run" "${report_times[-1]}" "${day_times[-1]}" \
    "${history_times[-1]}"
done
r=$(median "${report_times[@]}")
d=$(median "${day_times[@]}")
h=$(median "${history_times[@]}")
printf 'median report %.3f s, report --by day %.3f s, history --json %.3f s\n' "$r" "$d" "$h"
printf 'report / history %s, by day / by name %s\n' "$(echo "scale=3; $r / $h" | bc)" \
  "$(echo "scale=3; $d / $r" | bc)"
