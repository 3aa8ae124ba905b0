#!/usr/bin/env bash
# `fastgpu purge` of a long past against SQLite's own cascade, on the same database: OLD jobs
# that ended a month ago, each with its transitions, events and log file, beside RECENT that
# ended now (make_long_past in daemon_bench_lib.sh; state on tmpfs, simulated 1xH100-80G).
#   purge    a daemon of BUILD runs `fastgpu purge --before 7d`: the wall time, the daemon's
#            CPU, the jobs and logs left after it (RECENT of each), and `fastgpu queue` after;
#   cascade  the sqlite3 shell, foreign keys on, deletes the NAIVE oldest of those jobs with
#            one DELETE FROM jobs: SQLite deletes their transitions and dependencies by its
#            cascades and sets their events' job to NULL (no log is deleted). Its time per
#            job against the purge's is the ratio printed.
#
# Usage: bench/purge.sh BUILD [OLD] [RECENT] [NAIVE]
#   BUILD   a build folder holding fastgpu and fastgpu-supervisor (with `fastgpu purge`)
#   OLD     jobs that ended a month ago (default 200000)
#   RECENT  jobs that ended now (default 1000)
#   NAIVE   jobs the cascade deletes (default 500; it reads every event for each job)
set -euo pipefail

BUILD=${1:?usage: $0 BUILD [OLD] [RECENT] [NAIVE]}
OLD=${2:-200000}
RECENT=${3:-1000}
NAIVE=${4:-500}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$BUILD"
require_shm
require_sqlite3

WORK=$(mktemp -d /dev/shm/fastgpu-purge-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
STATE=$WORK/run
export FASTGPU_STATE_DIR=$STATE FASTGPU_SOCKET=$STATE/fastgpu.sock
export FASTGPU_CPU_SLOTS=2 FASTGPU_DEVICES=1xH100-80G
now_s() { date +%s.%N; }

make_long_past "$BUILD" "$STATE" "$RECENT" "$OLD" 1
cp -a "$STATE" "$WORK/base"

# The purge, through the daemon.
FASTGPU=$BUILD/fastgpu
"$FASTGPU" daemon start >/dev/null
DAEMON_PID=$(daemon_pid)
cpu0=$(daemon_cpu)
begin=$(now_s)
purged=$("$FASTGPU" purge --before 7d --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["purged"])')
purge_s=$(echo "$(now_s) - $begin" | bc)
purge_cpu=$(echo "$(daemon_cpu) - $cpu0" | bc)
begin=$(now_s)
"$FASTGPU" queue >/dev/null
queue_s=$(echo "$(now_s) - $begin" | bc)
"$FASTGPU" daemon stop >/dev/null
jobs_left=$(sqlite3 "$STATE/fastgpu.db" 'SELECT count(*) FROM jobs')
logs_left=$(find "$STATE/logs" -type f | wc -l)
events_left=$(sqlite3 "$STATE/fastgpu.db" 'SELECT count(*) FROM events')

# SQLite's cascade, on a fresh copy.
rm -rf "$STATE"
cp -a "$WORK/base" "$STATE"
begin=$(now_s)
sqlite3 "$STATE/fastgpu.db" "PRAGMA foreign_keys = ON; DELETE FROM jobs WHERE id IN
  (SELECT id FROM jobs WHERE end_us IS NOT NULL ORDER BY end_us LIMIT $NAIVE);"
cascade_s=$(echo "$(now_s) - $begin" | bc)

per_purge=$(echo "scale=2; $purge_s * 1000000 / $purged" | bc)
per_cascade=$(echo "scale=2; $cascade_s * 1000000 / $NAIVE" | bc)
printf 'purge    %d jobs in %.2f s (daemon CPU %.2f s): %s us a job; left %s jobs, %s logs, %s events; queue after: %.3f s\n' \
  "$purged" "$purge_s" "$purge_cpu" "$per_purge" "$jobs_left" "$logs_left" "$events_left" "$queue_s"
printf 'cascade  %d jobs in %.2f s: %s us a job\n' "$NAIVE" "$cascade_s" "$per_cascade"
printf 'per job, cascade / purge: %sx\n' "$(echo "scale=1; $per_cascade / $per_purge" | bc)"
