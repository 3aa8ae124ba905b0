#!/usr/bin/env bash
# A daemon whose state database holds a long past: OLD jobs that ended 30 days ago (before
# the ten days that the fair policy weighs by default) and a recent array of RECENT, two
# builds side by side on the same database (for instance the code before a change and after
# it). The state goes on tmpfs (/dev/shm), simulated GPUs (1xH100-80G), two CPU slots.
#
# The database is made once, with BUILD_A: a daemon runs RECENT tasks of `true`, then the
# sqlite3 shell copies those jobs' rows until OLD jobs ended a month ago. Each build then
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
if ! command -v sqlite3 >/dev/null; then
  echo "needs the sqlite3 shell (Debian package sqlite3) to copy the old jobs" >&2
  exit 2
fi

WORK=$(mktemp -d /dev/shm/fastgpu-long-history.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

use_state() {
  export FASTGPU_STATE_DIR=$1 FASTGPU_SOCKET=$1/fastgpu.sock
  export FASTGPU_POLICY=fair FASTGPU_CPU_SLOTS=2 FASTGPU_DEVICES=1xH100-80G
}

now_s() { date +%s.%N; }
elapsed() { echo "$(now_s) - $1" | bc; }

# The database: RECENT jobs run by BUILD_A, their rows copied into OLD jobs a month older.
make_database() {
  use_state "$WORK/base"
  mkdir -m 700 "$WORK/base"
  FASTGPU=$A/fastgpu
  "$FASTGPU" daemon start --devices 1xH100-80G --policy fair >/dev/null
  "$FASTGPU" submit --gpus 0 --array "0-$((RECENT - 1))" -- true >/dev/null
  "$FASTGPU" wait --all --timeout 600s >/dev/null
  "$FASTGPU" daemon stop >/dev/null
  local month_us=$((30 * 86400 * 1000000))
  sqlite3 "$WORK/base/fastgpu.db" <<SQL
PRAGMA foreign_keys = OFF;
CREATE TEMP TABLE model AS SELECT * FROM jobs;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $OLD)
INSERT INTO jobs (name, argv, shell_command, working_dir, gpus, gpu_mem, util_share,
  priority, time_limit_s, deadline_us, array_id, array_index, restartable, uid, user,
  signature, submit_us, state, placed_gpus, start_us, end_us, exit_code, signal,
  supervisor_pid, job_pid, log_path, peak_gpu_mem, gpu_seconds, energy_joules,
  energy_estimate, mean_util, attempts, array_max_running, placed_bytes, environment_id,
  umask, energy_at_least, energy_unread, run_peak_gpu_mem)
SELECT m.name, m.argv, m.shell_command, m.working_dir, m.gpus, m.gpu_mem, m.util_share,
  m.priority, m.time_limit_s, m.deadline_us, NULL, NULL, m.restartable, m.uid, m.user,
  m.signature, m.submit_us - $month_us - n.i, m.state, m.placed_gpus,
  m.start_us - $month_us - n.i, m.end_us - $month_us - n.i, m.exit_code, m.signal,
  m.supervisor_pid, m.job_pid, m.log_path, m.peak_gpu_mem, m.gpu_seconds, m.energy_joules,
  m.energy_estimate, m.mean_util, m.attempts, m.array_max_running, m.placed_bytes,
  m.environment_id, m.umask, m.energy_at_least, m.energy_unread, m.run_peak_gpu_mem
FROM n JOIN model AS m ON m.id = (SELECT min(id) FROM model) + n.i % $RECENT;
SQL
  echo "database: $(sqlite3 "$WORK/base/fastgpu.db" 'SELECT count(*) FROM jobs') jobs," \
    "$(du -m "$WORK/base/fastgpu.db" | cut -f1) MB, schema version" \
    "$(sqlite3 "$WORK/base/fastgpu.db" 'PRAGMA user_version')"
}

# One run of one build on a fresh copy: "OPEN FIRST FIRST_CPU SINCE LAST LAST10 QUEUE"
# (seconds).
run_one() {
  local build=$1 state=$WORK/run
  rm -rf "$state"
  cp -a "$WORK/base" "$state"
  rm -f "$state/fastgpu.sock"
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

make_database
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
