#include "store/schema.h"

#include <string>

#include "fastgpu/store/state_store.h"

namespace fastgpu::store {
namespace {

// Times are integer microseconds since the Unix epoch; memory is bytes; lists (argv,
// environment, placed GPUs) are JSON arrays, readable with the sqlite3 shell.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused
  name             TEXT    NOT NULL,
  argv             TEXT    NOT NULL CHECK (json_valid(argv)),
  shell_command    TEXT    NOT NULL,
  working_dir      TEXT    NOT NULL,
  environment      TEXT    NOT NULL CHECK (json_valid(environment)),
  gpus             INTEGER NOT NULL CHECK (gpus >= 0),
  gpu_mem          INTEGER CHECK (gpu_mem >= 0),       -- NULL: auto
  util_share       REAL    NOT NULL CHECK (util_share > 0 AND util_share <= 1),
  priority         INTEGER NOT NULL,
  time_limit_s     INTEGER CHECK (time_limit_s > 0),
  deadline_us      INTEGER,
  array_id         INTEGER,
  array_index      INTEGER,
  restartable      INTEGER NOT NULL CHECK (restartable IN (0, 1)),
  uid              INTEGER NOT NULL,
  user             TEXT    NOT NULL,
  signature        TEXT    NOT NULL,
  submit_us        INTEGER NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'COMPLETED',
                     'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED')),
  placed_gpus      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(placed_gpus)),
  start_us         INTEGER,
  end_us           INTEGER,
  exit_code        INTEGER,
  signal           INTEGER,
  supervisor_pid   INTEGER,
  job_pid          INTEGER,
  log_path         TEXT    NOT NULL DEFAULT '',
  peak_gpu_mem     INTEGER,
  gpu_seconds      REAL,
  energy_joules    REAL,
  energy_estimate  INTEGER NOT NULL DEFAULT 0,
  mean_util        REAL,
  attempts         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_uid ON jobs (uid, id);
CREATE INDEX jobs_by_array ON jobs (array_id, array_index) WHERE array_id IS NOT NULL;

CREATE TABLE dependencies (
  job    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  after  INTEGER NOT NULL REFERENCES jobs (id),
  kind   TEXT    NOT NULL CHECK (kind IN ('afterok', 'afterany')),
  PRIMARY KEY (job, after)
) WITHOUT ROWID;
CREATE INDEX dependencies_by_after ON dependencies (after);

CREATE TABLE transitions (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  job         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  from_state  TEXT,                                   -- NULL: the submission
  to_state    TEXT    NOT NULL,
  at_us       INTEGER NOT NULL,
  reason      TEXT    NOT NULL
);
CREATE INDEX transitions_by_job ON transitions (job, seq);

CREATE TABLE events (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  at_us    INTEGER NOT NULL,
  kind     TEXT    NOT NULL,
  job      INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  message  TEXT    NOT NULL CHECK (json_valid(message))
);

CREATE TABLE samples (
  at_us        INTEGER NOT NULL,
  gpu          INTEGER NOT NULL,
  memory_used  INTEGER,
  util         REAL,
  power_w      REAL,
  energy_mj    INTEGER
);
CREATE INDEX samples_by_time ON samples (at_us);

CREATE TABLE history (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  signature     TEXT    NOT NULL,
  job           INTEGER NOT NULL,
  peak_gpu_mem  INTEGER,
  run_seconds   REAL    NOT NULL,
  outcome       TEXT    NOT NULL,
  ended_us      INTEGER NOT NULL
);
CREATE INDEX history_by_signature ON history (signature, seq);
)sql";

// The engine's additions: an array's concurrency limit (--array 0-15%4), and the declared
// bytes per GPU a run was placed with (the scheduler's ledger needs them for running jobs,
// and for an "auto" job they cannot be derived again once the history has moved on).
constexpr const char* kVersion2 = R"sql(
ALTER TABLE jobs ADD COLUMN array_max_running INTEGER NOT NULL DEFAULT 0
  CHECK (array_max_running >= 0);                     -- 0: no limit
ALTER TABLE jobs ADD COLUMN placed_bytes INTEGER CHECK (placed_bytes >= 0);  -- per GPU
)sql";

// Each distinct environment once: the jobs of a batch share theirs, and a login shell's is a
// few kB, so a 10,000-job array stored it 10,000 times. Existing jobs keep what they had:
// equal lists become one row (the first job's id order gives the row ids).
constexpr const char* kVersion3 = R"sql(
CREATE TABLE environments (
  id    INTEGER PRIMARY KEY,
  body  TEXT    NOT NULL UNIQUE CHECK (json_valid(body))  -- a JSON list of "KEY=VALUE"
);
INSERT OR IGNORE INTO environments (body) SELECT environment FROM jobs ORDER BY id;
ALTER TABLE jobs ADD COLUMN environment_id INTEGER REFERENCES environments (id);
UPDATE jobs SET environment_id = (SELECT id FROM environments WHERE body = jobs.environment);
ALTER TABLE jobs DROP COLUMN environment;
)sql";

// The submitter's umask, set in the job's process: files a job makes are as open as its user
// asked for, not as the daemon's umask lets them be. NULL (every job stored before): the
// daemon's own, as those jobs ran.
constexpr const char* kVersion4 = R"sql(
ALTER TABLE jobs ADD COLUMN umask INTEGER CHECK (umask BETWEEN 0 AND 511);  -- 0..0777
)sql";

// A run's energy known only as a lower bound: some of its GPUs' energy counters could not
// be read across it. energy_joules is then NULL, energy_at_least the joules measured on the
// others, energy_unread a JSON list of those GPUs. Jobs stored before: NULL (as measured).
constexpr const char* kVersion5 = R"sql(
ALTER TABLE jobs ADD COLUMN energy_at_least REAL;
ALTER TABLE jobs ADD COLUMN energy_unread TEXT
  CHECK (energy_unread IS NULL OR json_valid(energy_unread));  -- a JSON list of GPU indices
)sql";

// The peak GPU memory measured so far in a job's current run: a daemon restarted while the
// job runs goes on from it (its in-memory figure was lost, and a job that ended meanwhile
// read "peak GPU mem: n/a" though it had been measured). NULL: none measured yet.
constexpr const char* kVersion6 = R"sql(
ALTER TABLE jobs ADD COLUMN run_peak_gpu_mem INTEGER CHECK (run_peak_gpu_mem >= 0);
)sql";

// A job's stop events found without reading them all: the table only grows (a few events
// per job, never pruned), and a daemon's start reads what was asked of its running jobs
// (events_of_running_jobs), which scanned the whole table (356 ms at 2.1 million events,
// 21 us with it). Partial: only the stop events, rare, are in it, so the start and end
// events every job writes cost nothing more. Building it on an old database reads the
// table once (about 1.3 s for 2.1 million events on a 2-core VM; docs/benchmarks.md).
constexpr const char* kVersion7 =
    "CREATE INDEX events_by_job ON events (job, seq) WHERE kind IN " FASTGPU_STOP_EVENT_KINDS ";";

// Two costs that grew with every job that ever ended, now each the size of its answer:
// - A listing by end time (`history --since`, the ended jobs the fair policy weighs at a
//   daemon's start) read every ended job through the state index to test its end: 0.16 s at
//   500,000 ended jobs for the last hour's thousand. Partial: a queued or running job has no
//   end, and costs no entry at its submission.
// - The jobs in each state, which every command asks first (`daemon_info`), were counted
//   from the state index: 40-60 ms at 500,000 jobs. They are kept in job_counts, one row
//   per state, by triggers on every insert, change of state and delete of a job, whoever
//   writes it; counted once here from the jobs an older FastGPU left.
constexpr const char* kVersion8 = R"sql(
CREATE INDEX jobs_by_end ON jobs (end_us) WHERE end_us IS NOT NULL;
CREATE TABLE job_counts (
  state  TEXT    PRIMARY KEY,
  jobs   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO job_counts (state, jobs) SELECT s.value, (SELECT count(*) FROM jobs WHERE state = s.value)
  FROM json_each('["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                   "PREEMPTED"]') AS s;
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
  UPDATE job_counts SET jobs = jobs + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
  UPDATE job_counts SET jobs = jobs - 1 WHERE state = OLD.state;
  UPDATE job_counts SET jobs = jobs + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
  UPDATE job_counts SET jobs = jobs - 1 WHERE state = OLD.state;
END;
)sql";

// A job's own grace between SIGTERM and SIGKILL (`grace: 5m`): the daemon's 10 s is too short
// for a large model's checkpoint. NULL (every job stored before): the daemon's.
constexpr const char* kVersion9 = R"sql(
ALTER TABLE jobs ADD COLUMN kill_grace_s INTEGER CHECK (kill_grace_s BETWEEN 0 AND 86400);
)sql";

// How many times a job entered each state, never lowered: `fastgpu_jobs_entered_total`, so
// that the rate of failures can be charted across a purge, which lowers job_counts.jobs.
// Counted once here from the transitions still stored (at least the jobs in each state:
// a database may hold jobs without them); then by the same triggers as the counts.
constexpr const char* kVersion10 = R"sql(
ALTER TABLE job_counts ADD COLUMN entered INTEGER NOT NULL DEFAULT 0;
UPDATE job_counts SET entered = max(jobs,
  (SELECT count(*) FROM transitions WHERE to_state = job_counts.state));
DROP TRIGGER job_counts_insert;
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
  UPDATE job_counts SET jobs = jobs + 1, entered = entered + 1 WHERE state = NEW.state;
END;
DROP TRIGGER job_counts_update;
CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
  UPDATE job_counts SET jobs = jobs - 1 WHERE state = OLD.state;
  UPDATE job_counts SET jobs = jobs + 1, entered = entered + 1 WHERE state = NEW.state;
END;
)sql";

// The submitter's resource limits (`ulimit`), set in the job's process: a job needing an
// unlimited stack gets it as under Slurm, whatever the daemon's own limits are. A JSON object
// {"stack": [soft, hard], ...}, null for unlimited. NULL (every job stored before): the
// daemon's own, as those jobs ran.
constexpr const char* kVersion11 = R"sql(
ALTER TABLE jobs ADD COLUMN limits TEXT CHECK (limits IS NULL OR json_valid(limits));
)sql";

// A queued job held (`fastgpu hold`, `submit --hold`): the uid of who held it; NULL (every
// job stored before) when it is not held.
constexpr const char* kVersion12 = R"sql(
ALTER TABLE jobs ADD COLUMN held_by INTEGER CHECK (held_by >= 0);
)sql";

// The job a job runs again (`fastgpu resubmit`); NULL (every job stored before) for a job
// submitted anew. Its index holds the resubmitted jobs alone, for `show`'s "run again as".
constexpr const char* kVersion13 = R"sql(
ALTER TABLE jobs ADD COLUMN resubmitted_from INTEGER CHECK (resubmitted_from > 0);
CREATE INDEX jobs_by_resubmitted_from ON jobs (resubmitted_from)
  WHERE resubmitted_from IS NOT NULL;
)sql";

constexpr Migration kMigrations[] = {
    {1, "jobs, dependencies, transitions, events, samples, history", kVersion1},
    {2, "array concurrency limit and placed bytes per GPU", kVersion2},
    {3, "environments stored once, shared by the jobs that have them", kVersion3},
    {4, "the submitter's umask", kVersion4},
    {5, "energy known only as a lower bound, and the GPUs whose counters were unread", kVersion5},
    {6, "the peak GPU memory of a job's current run", kVersion6},
    {7, "events found by job", kVersion7},
    {8, "jobs found by end time, and counted by state as they change", kVersion8},
    {9, "a job's own grace between SIGTERM and SIGKILL", kVersion9},
    {10, "how many times a job entered each state, never lowered", kVersion10},
    {11, "the submitter's resource limits", kVersion11},
    {12, "who holds a queued job", kVersion12},
    {13, "the job a job runs again", kVersion13},
};

Status check_application_id(sqlite::Db& db) {
  Result<std::int64_t> id = db.query_int("PRAGMA application_id");
  if (!id.ok()) return id.status();
  if (*id == 0 || *id == kApplicationId) return {};
  return failed_precondition("'" + db.path() +
                             "' is an SQLite database of another program, not a FastGPU "
                             "state database; set FASTGPU_STATE_DIR to another folder");
}

// A database from a newer FastGPU may have tables or meanings this one would corrupt.
Status check_not_newer(sqlite::Db& db, std::int64_t version) {
  if (version <= store_schema_version()) return {};
  return failed_precondition(
      "state database '" + db.path() + "' has schema version " + std::to_string(version) +
      ", written by a newer FastGPU; this FastGPU understands versions up to " +
      std::to_string(store_schema_version()) +
      ". Upgrade FastGPU, or set FASTGPU_STATE_DIR "
      "to another folder");
}

Status apply(sqlite::Db& db, const Migration& migration) {
  Status status = db.exec(migration.sql);
  if (!status.ok()) {
    return status.with_context("schema migration " + std::to_string(migration.version) + " (" +
                               migration.description + ")");
  }
  const std::string pragma = "PRAGMA user_version = " + std::to_string(migration.version);
  return db.exec(pragma.c_str());
}

}  // namespace

std::span<const Migration> schema_migrations() { return kMigrations; }

int store_schema_version() { return schema_migrations().back().version; }

Status migrate_schema(sqlite::Db& db) {
  FASTGPU_RETURN_IF_ERROR(check_application_id(db));
  Result<std::int64_t> version = db.query_int("PRAGMA user_version");
  if (!version.ok()) return version.status();
  FASTGPU_RETURN_IF_ERROR(check_not_newer(db, *version));
  if (*version == store_schema_version()) return {};

  Result<sqlite::Transaction> txn = sqlite::Transaction::begin(db);
  if (!txn.ok()) return txn.status();
  // Read again under the write lock: another process may have migrated meanwhile.
  version = db.query_int("PRAGMA user_version");
  if (!version.ok()) return version.status();
  FASTGPU_RETURN_IF_ERROR(check_not_newer(db, *version));
  for (const Migration& migration : schema_migrations()) {
    if (migration.version > *version) FASTGPU_RETURN_IF_ERROR(apply(db, migration));
  }
  const std::string set_id = "PRAGMA application_id = " + std::to_string(kApplicationId);
  FASTGPU_RETURN_IF_ERROR(db.exec(set_id.c_str()));
  return txn->commit();
}

}  // namespace fastgpu::store
