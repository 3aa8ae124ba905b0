# Shared by the benchmark scripts that run daemons of two builds side by side on tmpfs
# (queued_gpu_jobs.sh, queue_listing.sh, long_history.sh, purge.sh); sourced, not run.

# Exits 2 unless each build folder given holds fastgpu.
require_builds() {
  local build
  for build in "$@"; do
    if [[ ! -x $build/fastgpu ]]; then
      echo "missing $build/fastgpu; build it first (--target fastgpu fastgpu-supervisor)" >&2
      exit 2
    fi
  done
}

# Exits 2 unless /dev/shm is a writable folder (the daemons' state goes there).
require_shm() {
  if [[ ! -d /dev/shm || ! -w /dev/shm ]]; then
    echo "needs a writable /dev/shm (tmpfs) for the daemons' state" >&2
    exit 2
  fi
}

# Exits 2 unless the sqlite3 shell is there (make_long_past writes the database with it).
require_sqlite3() {
  if ! command -v sqlite3 >/dev/null; then
    echo "needs the sqlite3 shell (Debian package sqlite3)" >&2
    exit 2
  fi
}

# The pid of the daemon that $FASTGPU talks to.
daemon_pid() {
  "$FASTGPU" daemon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

# The CPU seconds (user + system) of $DAEMON_PID so far.
daemon_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$DAEMON_PID/stat"
}

# make_long_past BUILD DIR RECENT OLD [LOGS]: a state folder DIR whose database holds a long
# past. A daemon of BUILD (its settings from the environment) runs RECENT tasks of `true`;
# then the sqlite3 shell copies those jobs, with their transitions and events, into OLD jobs
# that ended a month ago, each with its own log path (DIR/logs/old-I.log), written as an
# empty file when LOGS is 1. The runs must use DIR itself (the log paths name it): copy it
# away first, and back before each run.
make_long_past() {
  local build=$1 dir=$2 recent=$3 old=$4 logs=${5:-0}
  local month_us=$((30 * 86400 * 1000000))
  mkdir -m 700 "$dir"
  FASTGPU=$build/fastgpu
  "$FASTGPU" daemon start --devices "${FASTGPU_DEVICES:-1xH100-80G}" >/dev/null
  "$FASTGPU" submit --gpus 0 --array "0-$((recent - 1))" -- true >/dev/null
  "$FASTGPU" wait --all --timeout 600s >/dev/null
  "$FASTGPU" daemon stop >/dev/null
  sqlite3 "$dir/fastgpu.db" <<SQL
PRAGMA foreign_keys = OFF;
CREATE TEMP TABLE model AS SELECT * FROM jobs;
CREATE TEMP TABLE model_events AS SELECT * FROM events WHERE job IS NOT NULL;
CREATE INDEX temp.model_events_by_job ON model_events (job);
CREATE TEMP TABLE copy AS SELECT (SELECT max(id) FROM jobs) + 1 AS first_id,
  (SELECT min(id) FROM jobs) AS first_model;
CREATE TEMP TABLE n AS WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k
  WHERE i + 1 < $old) SELECT i, (SELECT first_model FROM copy) + i % $recent AS model,
  (SELECT first_id FROM copy) + i AS id, $month_us + i AS shift FROM k;
INSERT INTO jobs (id, name, argv, shell_command, working_dir, gpus, gpu_mem, util_share,
  priority, time_limit_s, deadline_us, array_id, array_index, restartable, uid, user,
  signature, submit_us, state, placed_gpus, start_us, end_us, exit_code, signal,
  supervisor_pid, job_pid, log_path, peak_gpu_mem, gpu_seconds, energy_joules,
  energy_estimate, mean_util, attempts, array_max_running, placed_bytes, environment_id,
  umask, energy_at_least, energy_unread, run_peak_gpu_mem)
SELECT n.id, m.name, m.argv, m.shell_command, m.working_dir, m.gpus, m.gpu_mem,
  m.util_share, m.priority, m.time_limit_s, m.deadline_us, NULL, NULL, m.restartable, m.uid,
  m.user, m.signature, m.submit_us - n.shift, m.state, m.placed_gpus, m.start_us - n.shift,
  m.end_us - n.shift, m.exit_code, m.signal, m.supervisor_pid, m.job_pid,
  '$dir/logs/old-' || n.i || '.log', m.peak_gpu_mem, m.gpu_seconds, m.energy_joules,
  m.energy_estimate, m.mean_util, m.attempts, m.array_max_running, m.placed_bytes,
  m.environment_id, m.umask, m.energy_at_least, m.energy_unread, m.run_peak_gpu_mem
FROM n JOIN model AS m ON m.id = n.model ORDER BY n.i;
INSERT INTO transitions (job, from_state, to_state, at_us, reason)
SELECT n.id, t.from_state, t.to_state, t.at_us - n.shift, t.reason
FROM n JOIN transitions AS t ON t.job = n.model ORDER BY n.i, t.seq;
INSERT INTO events (at_us, kind, job, message)
SELECT e.at_us - n.shift, e.kind, n.id, e.message
FROM n JOIN model_events AS e ON e.job = n.model ORDER BY n.i, e.seq;
SQL
  if [[ $logs == 1 ]]; then
    (cd "$dir/logs" && seq 0 $((old - 1)) | sed 's/.*/old-&.log/' | xargs touch)
  fi
  echo "database: $(sqlite3 "$dir/fastgpu.db" 'SELECT count(*) FROM jobs') jobs," \
    "$(sqlite3 "$dir/fastgpu.db" 'SELECT count(*) FROM transitions') transitions," \
    "$(sqlite3 "$dir/fastgpu.db" 'SELECT count(*) FROM events') events," \
    "$(du -m "$dir/fastgpu.db" | cut -f1) MB, schema version" \
    "$(sqlite3 "$dir/fastgpu.db" 'PRAGMA user_version')"
}
