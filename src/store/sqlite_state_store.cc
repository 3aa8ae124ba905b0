// The SQLite StateStore: one connection, one mutex, one transaction per operation (or per
// tick's batch of starts, pids or ends).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/batch_error.h"
#include "fastgpu/store/state_store.h"
#include "store/environments.h"
#include "store/job_rows.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

// Declares `lhs` from a Result-valued `expr`, or returns its error. `lhs` is a declaration
// ("Statement stmt"), which parentheses would break.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define STORE_CONCAT_INNER(a, b) a##b
#define STORE_CONCAT(a, b) STORE_CONCAT_INNER(a, b)
#define STORE_ASSIGN_OR_RETURN(lhs, expr)                                                     \
  auto STORE_CONCAT(result_, __LINE__) = (expr);                                              \
  if (!STORE_CONCAT(result_, __LINE__).ok()) return STORE_CONCAT(result_, __LINE__).status(); \
  lhs = std::move(STORE_CONCAT(result_, __LINE__)).value()
// NOLINTEND(bugprone-macro-parentheses)

namespace fastgpu::store {
namespace {

using sqlite::Db;
using sqlite::Statement;
using sqlite::Transaction;

constexpr const char* kInsertJob =
    "INSERT INTO jobs (name, argv, shell_command, working_dir, environment_id, gpus, gpu_mem, "
    "util_share, priority, time_limit_s, deadline_us, array_id, array_index, restartable, uid, "
    "user, signature, submit_us, array_max_running, umask, kill_grace_s, limits, held_by, "
    "resubmitted_from, state) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24, 'QUEUED')";
constexpr const char* kChangeQueued =
    "UPDATE jobs SET held_by = ?2, priority = ?3, time_limit_s = ?4, kill_grace_s = ?5, "
    "deadline_us = ?6 WHERE id = ?1 AND state = 'QUEUED'";
constexpr const char* kChangeRunningLimit =
    "UPDATE jobs SET time_limit_s = ?2 WHERE id = ?1 AND state = 'RUNNING'";
constexpr const char* kSetOwnArrayId = "UPDATE jobs SET array_id = id WHERE id = ?1";
constexpr const char* kJobExists = "SELECT state FROM jobs WHERE id = ?1";
constexpr const char* kInsertDependency =
    "INSERT INTO dependencies (job, after, kind) VALUES (?1, ?2, ?3)";
constexpr const char* kInsertTransition =
    "INSERT INTO transitions (job, from_state, to_state, at_us, reason) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
// A tick's writes share one transaction, each in a savepoint (in_one_transaction).
constexpr const char* kSavepoint = "SAVEPOINT item";
constexpr const char* kRollbackToSavepoint = "ROLLBACK TO item";
constexpr const char* kReleaseSavepoint = "RELEASE item";
constexpr const char* kCasState = "UPDATE jobs SET state = ?3 WHERE id = ?1 AND state = ?2";
// The end of a job that ends by a transition (cancelled or failed while queued) rather than
// by record_end: the moment of that transition. A job that ran keeps its run's end.
constexpr const char* kSetEndTime = "UPDATE jobs SET end_us = ?2 WHERE id = ?1";
constexpr const char* kKeepRunEndTime =
    "UPDATE jobs SET end_us = COALESCE(end_us, ?2) WHERE id = ?1";
constexpr const char* kSetStart =
    "UPDATE jobs SET placed_gpus = ?2, start_us = ?3, log_path = ?4, supervisor_pid = ?5, "
    "job_pid = ?6, placed_bytes = ?7, end_us = NULL, exit_code = NULL, signal = NULL, "
    "run_peak_gpu_mem = NULL, attempts = attempts + 1 WHERE id = ?1";
constexpr const char* kRaiseRunPeak =
    "UPDATE jobs SET run_peak_gpu_mem = max(coalesce(run_peak_gpu_mem, ?2), ?2) "
    "WHERE id = ?1 AND state = 'RUNNING'";
constexpr const char* kSetPids =
    "UPDATE jobs SET supervisor_pid = ?2, job_pid = ?3, start_us = COALESCE(?4, start_us) "
    "WHERE id = ?1 AND state = 'RUNNING'";
// A job's accounting covers all its runs: a restartable job preempted and started again
// adds each run's GPU time and energy, keeps the largest peak, and weighs each run's mean
// utilization by its GPU time (the right-hand sides read the row before the update; a run
// with a figure not measured leaves the earlier runs' figure as it was). Energy known only
// as a lower bound in one run (?10, with the unread GPUs ?11) makes the job's a lower bound:
// energy_joules NULL, energy_at_least the sum of every run's figure.
constexpr const char* kSetEnd =
    "UPDATE jobs SET end_us = ?2, exit_code = ?3, signal = ?4, "
    "peak_gpu_mem = CASE WHEN ?5 IS NULL THEN peak_gpu_mem "
    "ELSE max(coalesce(peak_gpu_mem, ?5), ?5) END, "
    "gpu_seconds = CASE WHEN ?6 IS NULL THEN gpu_seconds ELSE coalesce(gpu_seconds, 0) + ?6 END, "
    "energy_joules = CASE WHEN energy_at_least IS NOT NULL OR ?10 IS NOT NULL THEN NULL "
    "WHEN ?7 IS NULL THEN energy_joules ELSE coalesce(energy_joules, 0) + ?7 END, "
    "energy_at_least = CASE WHEN energy_at_least IS NULL AND ?10 IS NULL THEN NULL "
    "ELSE coalesce(energy_at_least, energy_joules, 0) + coalesce(?10, ?7, 0) END, "
    "energy_unread = CASE WHEN ?11 IS NULL THEN energy_unread WHEN energy_unread IS NULL "
    "THEN ?11 ELSE (SELECT json_group_array(value) FROM (SELECT value FROM "
    "json_each(energy_unread) UNION SELECT value FROM json_each(?11) ORDER BY 1)) END, "
    "energy_estimate = CASE WHEN ?7 IS NULL AND ?10 IS NULL THEN energy_estimate "
    "WHEN energy_joules IS NULL AND energy_at_least IS NULL THEN ?8 "
    "ELSE max(energy_estimate, ?8) END, "
    "mean_util = CASE WHEN ?9 IS NULL THEN mean_util "
    "WHEN mean_util IS NULL OR coalesce(gpu_seconds, 0) + coalesce(?6, 0) <= 0 THEN ?9 "
    "ELSE (mean_util * coalesce(gpu_seconds, 0) + ?9 * coalesce(?6, 0)) / "
    "(coalesce(gpu_seconds, 0) + coalesce(?6, 0)) END WHERE id = ?1";
constexpr const char* kClearRun = "UPDATE jobs SET start_us = NULL, job_pid = NULL WHERE id = ?1";
constexpr const char* kInsertHistory =
    "INSERT INTO history (signature, job, peak_gpu_mem, run_seconds, outcome, ended_us) "
    "SELECT signature, id, ?2, max(0, ?3 - coalesce(start_us, ?3)) / 1e6, ?4, ?3 "
    "FROM jobs WHERE id = ?1 AND signature <> ''";
constexpr const char* kGetJob = "SELECT " FASTGPU_STORE_JOB_COLUMNS " FROM jobs WHERE id = ?1";
constexpr const char* kResubmissionsOf =
    "SELECT id FROM jobs INDEXED BY jobs_by_resubmitted_from WHERE resubmitted_from = ?1 "
    "ORDER BY id";
// Four forms of each listing. With states, the state test comes first and bare, so SQLite
// searches the jobs_by_state index and reads only the rows in those states (the `+uid`
// keeps it from preferring jobs_by_uid, which would read every job the user ever ran);
// with "(? IS NULL OR state IN ...)" it scanned the whole table, finished jobs included,
// at every tick. The end-time and name tests (?6, ?7, ?8) are asked of the rows the index
// gives. With a first end time (?6), the jobs_by_end index gives the rows that ended
// since, sorted by id afterwards: without INDEXED BY, SQLite walked every job in id order
// to spare the sort (its estimate knows nothing of how few ended lately). With a number of
// last ended (?9), the same index walked from its newest end picks them (down to the first
// end time, if any: past it nothing is read), then their rows are read by id.
#define FASTGPU_LIST_FILTER_MORE                                      \
  "AND (?6 IS NULL OR end_us >= ?6) AND (?7 IS NULL OR end_us < ?7) " \
  "AND (?8 IS NULL OR name IN (SELECT value FROM json_each(?8))) "
#define FASTGPU_LIST_FILTER_ANY_STATE                                  \
  " WHERE (?1 IS NULL OR uid = ?1) AND (?2 IS NULL OR array_id = ?2) " \
  "AND id > ?3 " FASTGPU_LIST_FILTER_MORE "ORDER BY id LIMIT ?5"
#define FASTGPU_LIST_FILTER_STATES                                                            \
  " WHERE state IN (SELECT value FROM json_each(?4)) AND id > ?3 "                            \
  "AND (?1 IS NULL OR +uid = ?1) AND (?2 IS NULL OR array_id = ?2) " FASTGPU_LIST_FILTER_MORE \
  "ORDER BY id LIMIT ?5"
#define FASTGPU_LIST_FILTER_OF_ENDED                                                           \
  "(?4 IS NULL OR +state IN (SELECT value FROM json_each(?4))) AND (?1 IS NULL OR +uid = ?1) " \
  "AND (?2 IS NULL OR array_id = ?2) " FASTGPU_LIST_FILTER_MORE
#define FASTGPU_LIST_FILTER_ENDED                                                             \
  " INDEXED BY jobs_by_end WHERE end_us >= ?6 AND +id > ?3 AND " FASTGPU_LIST_FILTER_OF_ENDED \
  "ORDER BY +id LIMIT ?5"
#define FASTGPU_LIST_FILTER_LAST_ENDED                                                   \
  " WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_by_end "                            \
  "WHERE end_us >= coalesce(?6, -9223372036854775808) AND " FASTGPU_LIST_FILTER_OF_ENDED \
  "ORDER BY end_us DESC, id DESC LIMIT ?9) AND id > ?3 ORDER BY id LIMIT ?5"
constexpr const char* kListJobs =
    "SELECT " FASTGPU_STORE_JOB_COLUMNS " FROM jobs" FASTGPU_LIST_FILTER_ANY_STATE;
constexpr const char* kListJobsInStates =
    "SELECT " FASTGPU_STORE_JOB_COLUMNS " FROM jobs" FASTGPU_LIST_FILTER_STATES;
constexpr const char* kListJobsEnded =
    "SELECT " FASTGPU_STORE_JOB_COLUMNS " FROM jobs" FASTGPU_LIST_FILTER_ENDED;
constexpr const char* kListJobsLastEnded =
    "SELECT " FASTGPU_STORE_JOB_COLUMNS " FROM jobs" FASTGPU_LIST_FILTER_LAST_ENDED;
constexpr const char* kListJobIds = "SELECT id FROM jobs" FASTGPU_LIST_FILTER_ANY_STATE;
constexpr const char* kListJobIdsInStates = "SELECT id FROM jobs" FASTGPU_LIST_FILTER_STATES;
constexpr const char* kListJobIdsEnded = "SELECT id FROM jobs" FASTGPU_LIST_FILTER_ENDED;
constexpr const char* kListJobIdsLastEnded = "SELECT id FROM jobs" FASTGPU_LIST_FILTER_LAST_ENDED;
// purge_ended: the jobs to forget, into a temporary table of this connection, and the
// deletes of their rows. A job that a job not yet ended depends on is kept.
#define FASTGPU_PURGE_SELECTED                                                     \
  " FROM jobs INDEXED BY jobs_by_end WHERE end_us < ?1 "                           \
  "AND +state IN (SELECT value FROM json_each(?2)) AND (?3 IS NULL OR +uid = ?3) " \
  "AND (?4 IS NULL OR name IN (SELECT value FROM json_each(?4))) AND "
#define FASTGPU_PURGE_WAITED_ON                                                      \
  "EXISTS (SELECT 1 FROM dependencies AS d JOIN jobs AS w ON w.id = d.job "          \
  "WHERE d.after = jobs.id AND w.state NOT IN ('COMPLETED', 'FAILED', 'CANCELLED', " \
  "'TIMEOUT'))"
constexpr const char* kPurgeTable =
    "CREATE TEMP TABLE IF NOT EXISTS purging (id INTEGER PRIMARY KEY, log_path TEXT NOT NULL);"
    "DELETE FROM purging;";
constexpr const char* kPurgeSelect =
    "INSERT INTO purging (id, log_path) SELECT id, log_path" FASTGPU_PURGE_SELECTED
    "NOT " FASTGPU_PURGE_WAITED_ON " ORDER BY end_us, id LIMIT ?5";
constexpr const char* kPurgeKept = "SELECT count(*)" FASTGPU_PURGE_SELECTED FASTGPU_PURGE_WAITED_ON;
constexpr const char* kPurgeDelete =
    "DELETE FROM transitions WHERE job IN (SELECT id FROM purging);"
    "DELETE FROM dependencies WHERE job IN (SELECT id FROM purging);"
    "DELETE FROM dependencies WHERE after IN (SELECT id FROM purging);"
    "DELETE FROM events WHERE job IN (SELECT id FROM purging);"
    "DELETE FROM jobs WHERE id IN (SELECT id FROM purging);";
constexpr const char* kPurgedJobs = "SELECT id, log_path FROM purging ORDER BY id";
// Kept by triggers (schema version 8), not counted.
constexpr const char* kCountJobsByState = "SELECT state, jobs FROM job_counts WHERE jobs <> 0";
constexpr const char* kCountStateEntries =
    "SELECT state, entered FROM job_counts WHERE entered <> 0";
constexpr const char* kTransitions =
    "SELECT from_state, to_state, at_us, reason FROM transitions WHERE job = ?1 ORDER BY seq";
constexpr const char* kInsertEvent =
    "INSERT INTO events (at_us, kind, job, message) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kEventsSince =
    "SELECT seq, at_us, kind, job, message FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
constexpr const char* kInsertSample =
    "INSERT INTO samples (at_us, gpu, memory_used, util, power_w, energy_mj) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kSamplesBetween =
    "SELECT at_us, gpu, memory_used, util, power_w, energy_mj FROM samples "
    "WHERE at_us >= ?1 AND at_us < ?2 ORDER BY at_us, gpu";
constexpr const char* kPruneSamples =
    "DELETE FROM samples WHERE rowid IN "
    "(SELECT rowid FROM samples WHERE at_us < ?1 ORDER BY at_us LIMIT ?2)";
constexpr const char* kHistory =
    "SELECT job, peak_gpu_mem, run_seconds, outcome, ended_us FROM history "
    "WHERE signature = ?1 ORDER BY seq DESC LIMIT ?2";

std::int64_t as_int64(std::uint64_t value) { return static_cast<std::int64_t>(value); }

std::optional<std::int64_t> optional_int64(const std::optional<std::uint64_t>& value) {
  if (!value) return std::nullopt;
  return as_int64(*value);
}

std::optional<std::int64_t> optional_int64(const std::optional<int>& value) {
  if (!value) return std::nullopt;
  return *value;
}

std::string state_name(JobState state) { return std::string(job_state_name(state)); }

class SqliteStateStore final : public StateStore {
 public:
  explicit SqliteStateStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Result<std::vector<JobRecord>> submit_records(std::span<const JobSpec> jobs) override {
    return insert_batch(jobs, /*store=*/true);
  }

  Status check_records(std::span<const JobSpec> jobs) override {
    return insert_batch(jobs, /*store=*/false).status();
  }

  Status transition(JobId job, JobState from, JobState to, WallTime at,
                    std::string_view reason) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    FASTGPU_RETURN_IF_ERROR(compare_and_set(job, from, to, at, reason));
    if (is_terminal(to)) FASTGPU_RETURN_IF_ERROR(write_end_time(job, from, at));
    return txn.commit();
  }

  Status record_start(JobId job, const JobStart& start) override {
    return record_starts({{{job, start}}}).front();
  }

  std::vector<Status> record_starts(std::span<const std::pair<JobId, JobStart>> starts) override {
    return in_one_transaction(starts, [this](const std::pair<JobId, JobStart>& item) {
      return write_start(item.first, item.second);
    });
  }

  Status record_pids(JobId job, std::int32_t supervisor_pid, std::int32_t job_pid,
                     std::optional<WallTime> started, const std::optional<Event>& event) override {
    return record_pids_of({{JobPids{job, supervisor_pid, job_pid, started, event}}}).front();
  }

  std::vector<Status> record_pids_of(std::span<const JobPids> pids) override {
    return in_one_transaction(pids, [this](const JobPids& item) { return write_pids(item); });
  }

  Status record_run_peaks(std::span<const std::pair<JobId, Bytes>> peaks) override {
    if (peaks.empty()) return {};
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    for (const auto& [job, bytes] : peaks) {
      STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kRaiseRunPeak));
      stmt.bind(1, as_int64(job.value())).bind(2, static_cast<std::int64_t>(bytes));
      FASTGPU_RETURN_IF_ERROR(stmt.run());
    }
    return txn.commit();
  }

  Status record_end(JobId job, const JobEnd& end) override {
    return record_ends({{{job, end}}}).front();
  }

  std::vector<Status> record_ends(std::span<const std::pair<JobId, JobEnd>> ends) override {
    return in_one_transaction(ends, [this](const std::pair<JobId, JobEnd>& item) {
      return write_run_end(item.first, item.second);
    });
  }

  Status change_queued(JobId job, const QueuedJobChange& change) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    STORE_ASSIGN_OR_RETURN(JobRecord record, job_in_state(job, JobState::kQueued));
    JobSpec& spec = record.spec;
    if (change.held_by) spec.held_by = *change.held_by;
    if (change.priority) spec.priority = *change.priority;
    if (change.time_limit_s) spec.time_limit_s = *change.time_limit_s;
    if (change.kill_grace_s) spec.kill_grace_s = *change.kill_grace_s;
    if (change.deadline) spec.deadline = *change.deadline;
    FASTGPU_RETURN_IF_ERROR(validate_changed_spec(spec, job));
    STORE_ASSIGN_OR_RETURN(Statement write, db_->prepare(kChangeQueued));
    write.bind(1, as_int64(job.value()))
        .bind(2, map_optional(spec.held_by, [](std::uint32_t uid) { return std::int64_t{uid}; }))
        .bind(3, std::int64_t{spec.priority})
        .bind(4, spec.time_limit_s)
        .bind(5, spec.kill_grace_s)
        .bind(6, map_optional(spec.deadline, to_micros));
    FASTGPU_RETURN_IF_ERROR(write.run());
    if (change.event) FASTGPU_RETURN_IF_ERROR(insert_event(*change.event).status());
    return txn.commit();
  }

  Status change_running_limit(JobId job, std::optional<std::int64_t> time_limit_s,
                              std::optional<Event> event) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    STORE_ASSIGN_OR_RETURN(JobRecord record, job_in_state(job, JobState::kRunning));
    record.spec.time_limit_s = time_limit_s;
    FASTGPU_RETURN_IF_ERROR(validate_changed_spec(record.spec, job));
    STORE_ASSIGN_OR_RETURN(Statement write, db_->prepare(kChangeRunningLimit));
    write.bind(1, as_int64(job.value())).bind(2, time_limit_s);
    FASTGPU_RETURN_IF_ERROR(write.run());
    if (event) FASTGPU_RETURN_IF_ERROR(insert_event(*event).status());
    return txn.commit();
  }

  Result<JobRecord> get_job(JobId job) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kGetJob));
    stmt.bind(1, as_int64(job.value()));
    STORE_ASSIGN_OR_RETURN(bool found, stmt.step());
    if (!found) return unknown_job(job);
    return read_job_row(stmt, environments_.read(*db_, stmt.column_optional_int64(5)));
  }

  Result<std::vector<JobRecord>> list_jobs(const JobFilter& filter) override {
    return list_rows<JobRecord>(
        filter, {kListJobs, kListJobsInStates, kListJobsEnded, kListJobsLastEnded},
        [this](const Statement& row) {
          return read_job_row(row, environments_.read(*db_, row.column_optional_int64(5)));
        });
  }

  Result<std::vector<JobId>> list_job_ids(const JobFilter& filter) override {
    return list_rows<JobId>(
        filter, {kListJobIds, kListJobIdsInStates, kListJobIdsEnded, kListJobIdsLastEnded},
        [](const Statement& row) -> Result<JobId> {
          return JobId(static_cast<std::uint64_t>(row.column_int64(0)));
        });
  }

  Result<std::vector<JobId>> resubmissions_of(JobId job) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kResubmissionsOf));
    stmt.bind(1, as_int64(job.value()));
    std::vector<JobId> ids;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return ids;
      ids.emplace_back(static_cast<std::uint64_t>(stmt.column_int64(0)));
    }
  }

  Result<std::map<JobState, std::uint64_t>> count_jobs_by_state() override {
    return counts_by_state(kCountJobsByState);
  }

  Result<std::map<JobState, std::uint64_t>> count_state_entries() override {
    return counts_by_state(kCountStateEntries);
  }

  Result<bool> skip_ids_through(JobId last) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(std::int64_t issued,
                           db_->query_int("SELECT coalesce((SELECT seq FROM sqlite_sequence "
                                          "WHERE name = 'jobs'), 0)"));
    STORE_ASSIGN_OR_RETURN(std::int64_t highest,
                           db_->query_int("SELECT coalesce(max(id), 0) FROM jobs"));
    if (as_int64(last.value()) <= std::max(issued, highest)) return false;
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    STORE_ASSIGN_OR_RETURN(Statement clear,
                           db_->prepare("DELETE FROM sqlite_sequence WHERE name = 'jobs'"));
    FASTGPU_RETURN_IF_ERROR(clear.run());
    STORE_ASSIGN_OR_RETURN(
        Statement set, db_->prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?1)"));
    set.bind(1, as_int64(last.value()));
    FASTGPU_RETURN_IF_ERROR(set.run());
    FASTGPU_RETURN_IF_ERROR(txn.commit());
    return true;
  }

  Status copy_to(const std::string& path) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare("VACUUM INTO ?1"));
    stmt.bind(1, path);
    return stmt.run().with_context("writing the state database to '" + path + "'");
  }

  // A (state, count) query's rows.
  Result<std::map<JobState, std::uint64_t>> counts_by_state(const char* query) {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(query));
    std::map<JobState, std::uint64_t> counts;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return counts;
      STORE_ASSIGN_OR_RETURN(JobState state, parse_job_state(stmt.column_text(0)));
      counts[state] = static_cast<std::uint64_t>(stmt.column_int64(1));
    }
  }

  Result<std::vector<Transition>> transitions(JobId job) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kTransitions));
    stmt.bind(1, as_int64(job.value()));
    std::vector<Transition> result;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      STORE_ASSIGN_OR_RETURN(Transition transition, read_transition(job, stmt));
      result.push_back(std::move(transition));
    }
    if (result.empty()) return unknown_job(job);  // every stored job has its submission
    return result;
  }

  Result<std::int64_t> append_event(const Event& event) override {
    FASTGPU_RETURN_IF_ERROR(check_event(event));
    std::lock_guard lock(mutex_);
    return insert_event(event);
  }

  Result<std::vector<Event>> events_since(std::int64_t after_seq, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kEventsSince));
    stmt.bind(1, after_seq).bind(2, static_cast<std::int64_t>(limit));
    return read_events(stmt);
  }

  Result<std::vector<Event>> events_of_running_jobs(std::span<const std::string> kinds) override {
    for (const std::string& kind : kinds) {
      if (std::find(std::begin(kStopEventKinds), std::end(kStopEventKinds), kind) ==
          std::end(kStopEventKinds)) {
        // The statement (and the index it goes through) holds only those.
        return invalid_argument(
            fmt::format("events_of_running_jobs reads the stop events only ({}), not '{}'",
                        fmt::join(kStopEventKinds, ", "), kind));
      }
    }
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kEventsOfRunningJobs));
    stmt.bind(1, nlohmann::json(std::vector<std::string>(kinds.begin(), kinds.end())).dump());
    return read_events(stmt);
  }

  Status append_samples(std::span<const Sample> samples) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    for (const Sample& sample : samples) FASTGPU_RETURN_IF_ERROR(insert_sample(sample));
    return txn.commit();
  }

  Result<std::vector<Sample>> samples_between(WallTime from, WallTime to) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kSamplesBetween));
    stmt.bind(1, to_micros(from)).bind(2, to_micros(to));
    std::vector<Sample> samples;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return samples;
      samples.push_back(read_sample(stmt));
    }
  }

  Result<std::uint64_t> prune_samples(WallTime before, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kPruneSamples));
    stmt.bind(1, to_micros(before)).bind(2, static_cast<std::int64_t>(limit));
    FASTGPU_RETURN_IF_ERROR(stmt.run());
    return static_cast<std::uint64_t>(db_->changes());
  }

  Result<Purged> purge_ended(const JobFilter& filter, std::size_t limit) override {
    if (!filter.ended_before) {
      return invalid_argument("purging needs a moment: only jobs that ended before it go");
    }
    std::vector<std::string> states;
    for (JobState state : filter.states) {
      if (!is_terminal(state)) {
        return invalid_argument("a " + state_name(state) +
                                " job has not ended and cannot be purged; give COMPLETED, "
                                "FAILED, CANCELLED or TIMEOUT");
      }
      states.push_back(state_name(state));
    }
    if (states.empty()) states = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"};
    std::lock_guard lock(mutex_);
    // Without foreign keys for the transaction: SQLite would set each deleted job's events'
    // job to NULL by scanning the events table once per job (events are indexed by job for
    // the stop events alone); the rows that refer to the jobs are deleted here instead, each
    // kind by an index or one scan. (The pragma is a no-op inside a transaction.)
    FASTGPU_RETURN_IF_ERROR(db_->exec("PRAGMA foreign_keys = OFF"));
    struct ForeignKeysBack {
      Db& db;
      ~ForeignKeysBack() { (void)db.exec("PRAGMA foreign_keys = ON"); }
    } back{*db_};
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    FASTGPU_RETURN_IF_ERROR(db_->exec(kPurgeTable));
    const auto bind_selected = [&](Statement& stmt) {
      stmt.bind(1, to_micros(*filter.ended_before)).bind(2, strings_to_json(states));
      if (filter.uid) stmt.bind(3, std::int64_t{*filter.uid});
      if (!filter.names.empty()) stmt.bind(4, strings_to_json(filter.names));
    };
    {
      STORE_ASSIGN_OR_RETURN(Statement select, db_->prepare(kPurgeSelect));
      bind_selected(select);
      select.bind(5, static_cast<std::int64_t>(limit));
      FASTGPU_RETURN_IF_ERROR(select.run());
    }
    Purged purged;
    {
      STORE_ASSIGN_OR_RETURN(Statement read, db_->prepare(kPurgedJobs));
      for (;;) {
        STORE_ASSIGN_OR_RETURN(bool row, read.step());
        if (!row) break;
        purged.jobs.push_back(
            {JobId(static_cast<std::uint64_t>(read.column_int64(0))), read.column_text(1)});
      }
    }
    // Counted once, by the last call of a purge in parts (the one that found fewer than it
    // could take): the count reads every job of the window.
    if (purged.jobs.size() < limit) {
      STORE_ASSIGN_OR_RETURN(Statement kept, db_->prepare(kPurgeKept));
      bind_selected(kept);
      STORE_ASSIGN_OR_RETURN(bool row, kept.step());
      if (row) purged.kept_waited_on = static_cast<std::uint64_t>(kept.column_int64(0));
    }
    if (!purged.jobs.empty()) FASTGPU_RETURN_IF_ERROR(db_->exec(kPurgeDelete));
    FASTGPU_RETURN_IF_ERROR(txn.commit());
    return purged;
  }

  Result<std::vector<HistoryEntry>> history(std::string_view signature,
                                            std::size_t limit) override {
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kHistory));
    stmt.bind(1, signature).bind(2, static_cast<std::int64_t>(limit));
    std::vector<HistoryEntry> entries;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return entries;
      STORE_ASSIGN_OR_RETURN(JobState outcome, parse_job_state(stmt.column_text(3)));
      entries.push_back({JobId(static_cast<std::uint64_t>(stmt.column_int64(0))),
                         map_optional(stmt.column_optional_int64(1),
                                      [](std::int64_t bytes) { return static_cast<Bytes>(bytes); }),
                         stmt.column_double(2), outcome, from_micros(stmt.column_int64(4))});
    }
  }

 private:
  // The job's row without its environment, for a change that compares and sets its state:
  // kNotFound, or kFailedPrecondition naming the state it is in instead of `expected`.
  // REQUIRES: mutex_ held.
  Result<JobRecord> job_in_state(JobId job, JobState expected) {
    STORE_ASSIGN_OR_RETURN(Statement read, db_->prepare(kGetJob));
    read.bind(1, as_int64(job.value()));
    STORE_ASSIGN_OR_RETURN(bool found, read.step());
    if (!found) return unknown_job(job);
    STORE_ASSIGN_OR_RETURN(JobRecord record, read_job_row(read, Environment{}));
    if (record.state != expected) {
      return failed_precondition(fmt::format("job {} is {}, not {}", job.value(),
                                             job_state_name(record.state),
                                             job_state_name(expected)));
    }
    return record;
  }

  // submit_records(), and check_records() when not `store`: the batch is inserted in a
  // transaction that only a stored batch commits; the others are rolled back as it goes out
  // of scope.
  Result<std::vector<JobRecord>> insert_batch(std::span<const JobSpec> jobs, bool store) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      FASTGPU_RETURN_IF_ERROR(validate_job_spec(jobs[i], i));
    }
    std::lock_guard lock(mutex_);
    STORE_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(*db_));
    BatchIds batch;
    batch.size = jobs.size();
    environments_.begin_batch();
    for (const JobSpec& spec : jobs) FASTGPU_RETURN_IF_ERROR(insert_job(spec, batch));
    if (!batch.refusals.empty()) return refused_jobs(batch.refusals);
    if (!store) return std::vector<JobRecord>{};
    FASTGPU_RETURN_IF_ERROR(txn.commit());
    return std::move(batch.records);
  }

  struct BatchIds {
    std::size_t size = 0;  // jobs in the batch
    std::vector<JobId> ids;
    std::optional<std::uint64_t> new_array_id;  // the batch's new array, once created
    std::vector<JobRecord> records;             // each job as get_job() reads it back
    // The batch's refused dependencies, each told once (an array's members share theirs).
    std::vector<Status> refusals;
  };

  // The job as the row insert_job wrote reads back: the array id and dependencies
  // resolved, the dependencies in the order of their table's key (the job waited for).
  static JobRecord stored_record(JobId id, const JobSpec& spec, const BatchIds& batch) {
    JobRecord record;
    record.id = id;
    record.spec = spec;
    if (record.spec.array && record.spec.array->array_id == 0) {
      record.spec.array->array_id = batch.new_array_id.value_or(id.value());
    }
    for (Dependency& dependency : record.spec.dependencies) {
      if (dependency.batch_index) dependency.job = batch.ids.at(*dependency.batch_index);
      dependency.batch_index.reset();
    }
    std::stable_sort(record.spec.dependencies.begin(), record.spec.dependencies.end(),
                     [](const Dependency& a, const Dependency& b) { return a.job < b.job; });
    return record;
  }

  // REQUIRES: inside a transaction (all the private writers below).
  Status insert_job(const JobSpec& spec, BatchIds& batch) {
    const bool joins_new_array = spec.array && spec.array->array_id == 0;
    STORE_ASSIGN_OR_RETURN(std::int64_t environment, environments_.row_for(*db_, spec.environment));
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kInsertJob));
    bind_spec(stmt, spec, joins_new_array ? batch.new_array_id : std::nullopt);
    stmt.bind(5, environment);
    FASTGPU_RETURN_IF_ERROR(stmt.run());
    const JobId id(static_cast<std::uint64_t>(db_->last_insert_rowid()));
    if (joins_new_array && !batch.new_array_id) {
      batch.new_array_id = id.value();
      FASTGPU_RETURN_IF_ERROR(set_own_array_id(id));
    }
    for (const Dependency& dependency : spec.dependencies) {
      Status inserted = insert_dependency(id, dependency, batch, spec);
      if (inserted.ok()) continue;
      if (!inserted.batch_job()) return inserted;  // the database's error, not the job's
      // The rest of the batch is still read, so that every refusal is told at once.
      const std::string problem = inserted.batch_job()->problem;
      const bool told = spec.array && std::any_of(batch.refusals.begin(), batch.refusals.end(),
                                                  [&](const Status& earlier) {
                                                    return earlier.batch_job()->problem == problem;
                                                  });
      if (!told) batch.refusals.push_back(std::move(inserted));
    }
    FASTGPU_RETURN_IF_ERROR(
        insert_transition(id, std::nullopt, JobState::kQueued, spec.submit_time, "submitted"));
    batch.records.push_back(stored_record(id, spec, batch));
    batch.ids.push_back(id);
    return {};
  }

  static void bind_spec(Statement& stmt, const JobSpec& spec,
                        std::optional<std::uint64_t> new_array_id) {
    stmt.bind(1, spec.name)
        .bind(2, strings_to_json(spec.argv))
        .bind(3, spec.shell_command)
        .bind(4, spec.working_dir)
        .bind(6, std::int64_t{spec.gpus})
        .bind(7, optional_int64(spec.gpu_mem))
        .bind(8, spec.util_share)
        .bind(9, std::int64_t{spec.priority})
        .bind(10, spec.time_limit_s)
        .bind(11, map_optional(spec.deadline, to_micros))
        .bind(14, std::int64_t{spec.restartable ? 1 : 0})
        .bind(15, std::int64_t{spec.uid})
        .bind(16, spec.user)
        .bind(17, spec.signature)
        .bind(18, to_micros(spec.submit_time))
        .bind(19, std::int64_t{0})
        .bind(20, map_optional(spec.umask, [](std::uint32_t mask) { return std::int64_t{mask}; }))
        .bind(21, spec.kill_grace_s)
        .bind(22, limits_to_json(spec.limits))
        .bind(23, map_optional(spec.held_by, [](std::uint32_t uid) { return std::int64_t{uid}; }))
        .bind(24, map_optional(spec.resubmitted_from,
                               [](JobId from) { return as_int64(from.value()); }));
    if (spec.array) {
      const std::uint64_t array_id =
          spec.array->array_id != 0 ? spec.array->array_id : new_array_id.value_or(0);
      if (array_id != 0) stmt.bind(12, as_int64(array_id));  // else set after the insert
      stmt.bind(13, std::int64_t{spec.array->index});
      stmt.bind(19, std::int64_t{spec.array->max_running});
    }
  }

  Status set_own_array_id(JobId id) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kSetOwnArrayId));
    stmt.bind(1, as_int64(id.value()));
    return stmt.run();
  }

  // The job being inserted, as an error names it: "the job" when it is submitted alone,
  // its array or its place in a batch otherwise, with its name when it has one.
  static std::string batch_member(const JobSpec& spec, const BatchIds& batch) {
    const std::string named = spec.name.empty() ? "" : fmt::format(" '{}'", spec.name);
    if (batch.size == 1) return (spec.name.empty() ? "the job" : "job") + named;
    if (spec.array) {
      return fmt::format("task [{}] of the array{}", spec.array->index, named);
    }
    return fmt::format("job {} of {} in the batch{}", batch.ids.size() + 1, batch.size, named);
  }

  Status insert_dependency(JobId id, const Dependency& dependency, const BatchIds& batch,
                           const JobSpec& spec) {
    const JobId after =
        dependency.batch_index ? batch.ids.at(*dependency.batch_index) : dependency.job;
    STORE_ASSIGN_OR_RETURN(std::optional<JobState> state, current_state(after));
    // The job being inserted is the batch's next: its index is the count inserted so far.
    const auto refuse = [&](const std::string& problem) {
      return invalid_argument(batch_member(spec, batch) + " " + problem)
          .with_batch_job(batch.ids.size(), problem);
    };
    if (!state) {
      return refuse(fmt::format(
          "depends on job {}, which does not exist; check the id (nothing was submitted)",
          to_string(after)));
    }
    // Waiting to succeed on a job that ended otherwise, it could only be cancelled.
    if (dependency.kind == DependencyKind::kAfterOk && is_terminal(*state) &&
        *state != JobState::kCompleted) {
      return refuse(fmt::format(
          "waits for job {} to succeed, but it already ended {}, so it could never run; "
          "write afterany:{} to run it after that job anyway (nothing was submitted)",
          to_string(after), state_name(*state), to_string(after)));
    }
    // The id it is given as it is stored (`--after 1` on an empty queue): it would wait for
    // itself for ever.
    if (after == id && !dependency.batch_index) {
      return refuse(fmt::format(
          "depends on job {}, which does not exist: {} is the id it would get itself; check "
          "the id (nothing was submitted)",
          to_string(after), to_string(after)));
    }
    // An id an earlier job of this batch was given: it did not exist when the batch was
    // written, and on a busier queue the same file would wait for an older job of that id.
    if (!dependency.batch_index) {
      const auto earlier = std::find(batch.ids.begin(), batch.ids.end(), after);
      if (earlier != batch.ids.end()) {
        return refuse(fmt::format(
            "depends on job {}, which does not exist: {} is the id job {} of this batch gets; "
            "wait for a job of the same file by its name (after: NAME) (nothing was submitted)",
            to_string(after), to_string(after), earlier - batch.ids.begin() + 1));
      }
    }
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kInsertDependency));
    stmt.bind(1, as_int64(id.value()))
        .bind(2, as_int64(after.value()))
        .bind(3, dependency_kind_name(dependency.kind));
    return stmt.run();
  }

  Status insert_transition(JobId job, std::optional<JobState> from, JobState to, WallTime at,
                           std::string_view reason) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kInsertTransition));
    stmt.bind(1, as_int64(job.value()))
        .bind(2, map_optional(from, state_name))
        .bind(3, job_state_name(to))
        .bind(4, to_micros(at))
        .bind(5, reason);
    return stmt.run();
  }

  // Runs write(item) for each item in one transaction, each item in a savepoint of its own
  // (StateStore::record_starts says what the Statuses mean). One item needs no savepoint:
  // its failure rolls the transaction back.
  template <typename Item, typename Write>
  std::vector<Status> in_one_transaction(std::span<const Item> items, const Write& write) {
    std::vector<Status> statuses(items.size());
    if (items.empty()) return statuses;
    std::lock_guard lock(mutex_);
    Result<Transaction> txn = Transaction::begin(*db_);
    if (!txn.ok()) {
      std::fill(statuses.begin(), statuses.end(), txn.status());
      return statuses;
    }
    const bool one = items.size() == 1;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!one) {
        if (Status begun = run_cached(kSavepoint); !begun.ok()) {
          statuses[i] = begun;
          continue;
        }
      }
      statuses[i] = write(items[i]);
      if (one) break;
      // An item that failed part way leaves nothing; either way the savepoint is closed.
      if (!statuses[i].ok()) (void)run_cached(kRollbackToSavepoint);
      (void)run_cached(kReleaseSavepoint);
      if (!statuses[i].ok() && sqlite3_get_autocommit(db_->handle()) != 0) {
        // SQLite ended the transaction itself (it does on some errors: a full disk, say).
        // What the items before wrote is gone, and the items after are not tried.
        const Status lost = statuses[i];
        for (Status& status : statuses) {
          if (status.ok()) status = lost;
        }
        return statuses;
      }
    }
    if (one && !statuses.front().ok()) return statuses;  // rolled back with the transaction
    const Status committed = txn->commit();
    if (!committed.ok()) {
      for (Status& status : statuses) {
        if (status.ok()) status = committed;
      }
    }
    return statuses;
  }

  Status run_cached(const char* sql) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(sql));
    return stmt.run();
  }

  Status write_start(JobId job, const JobStart& start) {
    FASTGPU_RETURN_IF_ERROR(
        compare_and_set(job, JobState::kQueued, JobState::kRunning, start.at, "started"));
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kSetStart));
    stmt.bind(1, as_int64(job.value()))
        .bind(2, gpus_to_json(start.gpus))
        .bind(3, to_micros(start.at))
        .bind(4, start.log_path)
        .bind(5, optional_int64(start.supervisor_pid))
        .bind(6, optional_int64(start.job_pid))
        .bind(7, optional_int64(start.bytes_per_gpu));
    return stmt.run();
  }

  Status write_pids(const JobPids& pids) {
    if (pids.event) FASTGPU_RETURN_IF_ERROR(check_event(*pids.event));
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kSetPids));
    std::optional<std::int64_t> started_us;
    if (pids.started) started_us = to_micros(*pids.started);
    stmt.bind(1, as_int64(pids.job.value()))
        .bind(2, std::int64_t{pids.supervisor_pid})
        .bind(3, std::int64_t{pids.job_pid})
        .bind(4, started_us);
    FASTGPU_RETURN_IF_ERROR(stmt.run());
    if (db_->changes() != 1) return state_mismatch(pids.job, JobState::kRunning, "record its pids");
    if (pids.event) FASTGPU_RETURN_IF_ERROR(insert_event(*pids.event).status());
    return {};
  }

  Status write_run_end(JobId job, const JobEnd& end) {
    if (end.event) FASTGPU_RETURN_IF_ERROR(check_event(*end.event));
    FASTGPU_RETURN_IF_ERROR(compare_and_set(job, JobState::kRunning, end.state, end.at,
                                            end.reason.empty() ? "ended" : end.reason));
    FASTGPU_RETURN_IF_ERROR(write_end(job, end));
    if (end.never_ran) {
      STORE_ASSIGN_OR_RETURN(Statement clear, db_->prepare(kClearRun));
      clear.bind(1, as_int64(job.value()));
      FASTGPU_RETURN_IF_ERROR(clear.run());
    } else {
      FASTGPU_RETURN_IF_ERROR(write_history(job, end));
    }
    if (end.event) FASTGPU_RETURN_IF_ERROR(insert_event(*end.event).status());
    return {};
  }

  Status compare_and_set(JobId job, JobState from, JobState to, WallTime at,
                         std::string_view reason) {
    if (!is_legal_transition(from, to)) {
      return invalid_argument("job " + to_string(job) + " cannot go from " + state_name(from) +
                              " to " + state_name(to));
    }
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kCasState));
    stmt.bind(1, as_int64(job.value())).bind(2, job_state_name(from)).bind(3, job_state_name(to));
    FASTGPU_RETURN_IF_ERROR(stmt.run());
    if (db_->changes() != 1) {
      return state_mismatch(job, from, "move it to " + state_name(to));
    }
    return insert_transition(job, from, to, at, reason);
  }

  // A PREEMPTED job ended its run already (record_end wrote when): a requeue or a cancel
  // that comes later, even after a daemon restart, does not stretch its run time. Nor does
  // the cancel of a job queued again after such a run (its end is that run's; a job that
  // never ran has none, and gets the moment of the transition).
  Status write_end_time(JobId job, JobState from, WallTime at) {
    const bool keep_run_end = from == JobState::kPreempted || from == JobState::kQueued;
    STORE_ASSIGN_OR_RETURN(Statement stmt,
                           db_->prepare(keep_run_end ? kKeepRunEndTime : kSetEndTime));
    stmt.bind(1, as_int64(job.value())).bind(2, to_micros(at));
    return stmt.run();
  }

  Status write_end(JobId job, const JobEnd& end) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kSetEnd));
    const JobAccounting& use = end.accounting;
    stmt.bind(1, as_int64(job.value()))
        .bind(2, to_micros(end.at))
        .bind(3, optional_int64(end.exit_code))
        .bind(4, optional_int64(end.signal))
        .bind(5, optional_int64(use.peak_gpu_mem))
        .bind(6, use.gpu_seconds)
        .bind(7, use.energy_joules)
        .bind(8, std::int64_t{use.energy_is_estimate ? 1 : 0})
        .bind(9, use.mean_util_percent)
        .bind(10, use.energy_at_least_joules);
    if (use.energy_unread_gpus.empty()) {
      stmt.bind_null(11);
    } else {
      stmt.bind(11, gpus_to_json(use.energy_unread_gpus));
    }
    return stmt.run();
  }

  static Status check_event(const Event& event) {
    if (nlohmann::json::accept(event.message_json)) return {};
    return invalid_argument("event '" + event.kind +
                            "' has a message that is not JSON: " + event.message_json);
  }

  // REQUIRES: mutex_ held.
  Result<std::int64_t> insert_event(const Event& event) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kInsertEvent));
    stmt.bind(1, to_micros(event.at)).bind(2, event.kind).bind(4, event.message_json);
    if (event.job) stmt.bind(3, as_int64(event.job->value()));
    FASTGPU_RETURN_IF_ERROR(stmt.run());
    return db_->last_insert_rowid();
  }

  // The events a statement selecting (seq, at_us, kind, job, message) steps through.
  static Result<std::vector<Event>> read_events(Statement& stmt) {
    std::vector<Event> events;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return events;
      Event event{stmt.column_int64(0), from_micros(stmt.column_int64(1)), stmt.column_text(2),
                  std::nullopt, stmt.column_text(4)};
      if (!stmt.is_null(3)) event.job = JobId(static_cast<std::uint64_t>(stmt.column_int64(3)));
      events.push_back(std::move(event));
    }
  }

  Status write_history(JobId job, const JobEnd& end) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kInsertHistory));
    stmt.bind(1, as_int64(job.value()))
        .bind(2, optional_int64(end.accounting.peak_gpu_mem))
        .bind(3, to_micros(end.at))
        .bind(4, job_state_name(end.state));
    return stmt.run();
  }

  Status insert_sample(const Sample& sample) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kInsertSample));
    stmt.bind(1, to_micros(sample.at))
        .bind(2, std::int64_t{sample.gpu})
        .bind(3, optional_int64(sample.memory_used))
        .bind(4, sample.util_percent)
        .bind(5, sample.power_watts)
        .bind(6, optional_int64(sample.energy_millijoules));
    return stmt.run();
  }

  static Sample read_sample(const Statement& stmt) {
    auto to_u64 = [](std::int64_t value) { return static_cast<std::uint64_t>(value); };
    return {from_micros(stmt.column_int64(0)),
            static_cast<std::uint32_t>(stmt.column_int64(1)),
            map_optional(stmt.column_optional_int64(2), to_u64),
            stmt.column_optional_double(3),
            stmt.column_optional_double(4),
            map_optional(stmt.column_optional_int64(5), to_u64)};
  }

  static Result<Transition> read_transition(JobId job, const Statement& stmt) {
    Transition transition{job, std::nullopt, JobState::kQueued, from_micros(stmt.column_int64(2)),
                          stmt.column_text(3)};
    if (!stmt.is_null(0)) {
      STORE_ASSIGN_OR_RETURN(transition.from, parse_job_state(stmt.column_text(0)));
    }
    STORE_ASSIGN_OR_RETURN(transition.to, parse_job_state(stmt.column_text(1)));
    return transition;
  }

  // A listing's four forms (above): any state, in the filter's states, ended since, the
  // last ended.
  struct ListingQueries {
    const char* any_state;
    const char* in_states;
    const char* ended_since;
    const char* last_ended;
  };

  // The rows a listing selects, each read by `read`: through the end index when the filter
  // asks for the last ended or has a first end time, else without a state test when it
  // names no state, else through the state index.
  template <typename T, typename Read>
  Result<std::vector<T>> list_rows(const JobFilter& filter, const ListingQueries& queries,
                                   Read read) {
    std::lock_guard lock(mutex_);
    const char* sql = filter.last_ended       ? queries.last_ended
                      : filter.ended_from     ? queries.ended_since
                      : filter.states.empty() ? queries.any_state
                                              : queries.in_states;
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(sql));
    bind_filter(stmt, filter);
    std::vector<T> rows;
    for (;;) {
      STORE_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return rows;
      STORE_ASSIGN_OR_RETURN(T value, read(stmt));
      rows.push_back(std::move(value));
    }
  }

  static void bind_filter(Statement& stmt, const JobFilter& filter) {
    if (filter.uid) stmt.bind(1, std::int64_t{*filter.uid});
    if (filter.array_id) stmt.bind(2, as_int64(*filter.array_id));
    stmt.bind(3, filter.after ? as_int64(filter.after->value()) : std::int64_t{0});
    if (!filter.states.empty()) {
      std::vector<std::string> names;
      for (JobState state : filter.states) names.push_back(state_name(state));
      stmt.bind(4, strings_to_json(names));
    }
    stmt.bind(5, filter.limit ? static_cast<std::int64_t>(*filter.limit) : std::int64_t{-1});
    if (filter.ended_from) stmt.bind(6, to_micros(*filter.ended_from));
    if (filter.ended_before) stmt.bind(7, to_micros(*filter.ended_before));
    if (!filter.names.empty()) stmt.bind(8, strings_to_json(filter.names));
    if (filter.last_ended) stmt.bind(9, static_cast<std::int64_t>(*filter.last_ended));
  }

  Result<std::optional<JobState>> current_state(JobId job) {
    STORE_ASSIGN_OR_RETURN(Statement stmt, db_->prepare(kJobExists));
    stmt.bind(1, as_int64(job.value()));
    STORE_ASSIGN_OR_RETURN(bool found, stmt.step());
    if (!found) return std::optional<JobState>();
    STORE_ASSIGN_OR_RETURN(JobState state, parse_job_state(stmt.column_text(0)));
    return std::optional<JobState>(state);
  }

  // The error for a compare-and-set that found the job elsewhere than `expected`.
  Status state_mismatch(JobId job, JobState expected, const std::string& action) {
    STORE_ASSIGN_OR_RETURN(std::optional<JobState> actual, current_state(job));
    if (!actual) return unknown_job(job);
    return failed_precondition("job " + to_string(job) + " is " + state_name(*actual) + ", not " +
                               state_name(expected) + ", so the store did not " + action +
                               "; another writer changed it first: reload the job");
  }

  static Status unknown_job(JobId job) {
    return not_found("no job " + to_string(job) +
                     " in the state database; list jobs with "
                     "`fastgpu queue`");
  }

  std::mutex mutex_;
  std::unique_ptr<Db> db_;         // GUARDED_BY(mutex_)
  EnvironmentTable environments_;  // GUARDED_BY(mutex_)
};

Status configure(Db& db, const StoreOptions& options) {
  // The first statement that reads the file: a non-database fails here, naming the path.
  FASTGPU_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode = WAL"));
  FASTGPU_RETURN_IF_ERROR(db.exec(options.durability == Durability::kFull
                                      ? "PRAGMA synchronous = FULL"
                                      : "PRAGMA synchronous = NORMAL"));
  return db.exec("PRAGMA foreign_keys = ON");
}

}  // namespace

Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path,
                                                      const StoreOptions& options) {
  STORE_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::open(path, options.busy_timeout));
  FASTGPU_RETURN_IF_ERROR(configure(*db, options));
  FASTGPU_RETURN_IF_ERROR(migrate_schema(*db));
  return std::unique_ptr<StateStore>(std::make_unique<SqliteStateStore>(std::move(db)));
}

}  // namespace fastgpu::store
