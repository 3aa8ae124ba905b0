// What a daemon's start pays to read what was asked of its running jobs
// (StateStore::events_of_running_jobs: their job.cancel/preempt/kill events), as the events
// table grows with every job. Each size is a real store in a fresh folder under $TMPDIR (or
// /tmp) holding N finished jobs as the engine leaves them (3 transitions; job.start and
// job.end events, and a job.cancel for every tenth job, which ended CANCELLED: 2.1 events a
// job), then 8 jobs started through the store, 6 of them asked to stop. A copy of the file
// has the index events_by_job (schema 7) dropped: the database as schema 6 left it.
//
// Measured side by side, each on the same rows:
// - before:    the statement the store ran before schema 7, on the copy without the index
//              (raw sqlite3: the store no longer holds it): every event is read.
// - old+index: that same statement with the index (SQLite's planner picks it up alone).
// - after:     the store's events_of_running_jobs, on the database with the index.
// and, for the index's price: append_event with and without it, and once per size the
// migration of a schema-6 copy to 7 (building the index: a one-time cost at the upgrade).
// Prints before/after ratios after the Google Benchmark table.
//
// Reproduce: store_events_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
// (the 1M-job database takes about 23 s to write, and disk for two copies of it).
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "fastgpu/store/state_store.h"

namespace {

namespace fs = std::filesystem;
using fastgpu::store::Event;
using fastgpu::store::JobId;
using fastgpu::store::JobSpec;
using fastgpu::store::StateStore;
using fastgpu::store::WallTime;

constexpr std::int64_t kBaseUs = 1'764'000'000'000'000;
constexpr int kRunning = 8;
const std::vector<std::string> kKinds = {"job.cancel", "job.preempt", "job.kill"};

// The statement of events_of_running_jobs up to schema 6 (src/store/sqlite_state_store.cc
// at f7131fe), kept here to measure what a daemon's start paid.
constexpr const char* kOldEventsOfRunningJobs =
    "SELECT seq, at_us, kind, job, message FROM events "
    "WHERE kind IN (SELECT value FROM json_each(?1)) "
    "AND job IN (SELECT id FROM jobs WHERE state = 'RUNNING') "
    "AND at_us >= (SELECT MAX(at_us) FROM transitions t "
    "WHERE t.job = events.job AND t.to_state = 'RUNNING') "
    "ORDER BY seq";

fs::path bench_dir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "fastgpu-events-bench-XXXXXX").string();
    return fs::path(::mkdtemp(pattern.data()));
  }();
  return dir;
}

bool raw_exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return true;
  std::fprintf(stderr, "sqlite: %s\n", error ? error : "?");
  sqlite3_free(error);
  return false;
}

bool raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  const bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK && raw_exec(db, sql);
  sqlite3_close(db);
  return ok;
}

// N finished jobs' rows, as the engine writes them (a job's JSON and texts of typical size).
std::string fill_sql(std::int64_t jobs) {
  const std::string n = std::to_string(jobs);
  const std::string t0 = std::to_string(kBaseUs);
  return "BEGIN;"
         "INSERT INTO environments (id, body) VALUES (1, "
         "'[\"PATH=/usr/bin:/bin\",\"HOME=/home/ada\",\"WANDB_MODE=offline\"]');"
         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
         n +
         ") INSERT INTO jobs (id, name, argv, shell_command, working_dir, environment_id, gpus, "
         "gpu_mem, util_share, priority, time_limit_s, restartable, uid, user, signature, "
         "submit_us, state, placed_gpus, start_us, end_us, exit_code, signal, supervisor_pid, "
         "job_pid, log_path, peak_gpu_mem, gpu_seconds, mean_util, attempts, placed_bytes) "
         "SELECT i, 'train-' || i, json_array('python', 'train.py', '--lr', '0.001', '--seed', "
         "i), '', '/home/ada/project', 1, 1, 21474836480, 1.0, 0, 7200, 0, 1000, 'ada', "
         "'train.py', " +
         t0 + " + i * 1000, CASE WHEN i % 10 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END, '[0]', " +
         t0 + " + i * 1000 + 100, " + t0 +
         " + i * 1000 + 900, CASE WHEN i % 10 = 0 THEN NULL ELSE 0 END, "
         "CASE WHEN i % 10 = 0 THEN 15 END, 100000 + i, 100001 + i, "
         "'/home/ada/.local/state/fastgpu/logs/' || i || '.log', 17179869184, 0.8, 87.5, 1, "
         "21474836480 FROM n;"
         "INSERT INTO transitions (job, from_state, to_state, at_us, reason) "
         "SELECT job, from_state, to_state, at_us, reason FROM ("
         "SELECT id AS job, NULL AS from_state, 'QUEUED' AS to_state, submit_us AS at_us, "
         "'submitted' AS reason FROM jobs "
         "UNION ALL SELECT id, 'QUEUED', 'RUNNING', start_us, 'placed on GPU 0' FROM jobs "
         "UNION ALL SELECT id, 'RUNNING', state, end_us, CASE state WHEN 'CANCELLED' THEN "
         "'cancelled by uid 1000 (terminated by SIGTERM)' ELSE 'exited 0' END FROM jobs"
         ") ORDER BY at_us;"
         "INSERT INTO events (at_us, kind, job, message) "
         "SELECT at_us, kind, job, message FROM ("
         "SELECT id AS job, start_us AS at_us, 'job.start' AS kind, json_object('gpus', "
         "json('[0]'), 'bytes_per_gpu', 21474836480, 'supervisor_pid', 100000 + id) AS message "
         "FROM jobs "
         "UNION ALL SELECT id, start_us + 400, 'job.cancel', '{\"uid\":1000}' FROM jobs "
         "WHERE state = 'CANCELLED' "
         "UNION ALL SELECT id, end_us, 'job.end', json_object('state', state, 'reason', "
         "CASE state WHEN 'CANCELLED' THEN 'cancelled by uid 1000 (terminated by SIGTERM)' "
         "ELSE 'exited 0' END) FROM jobs"
         ") ORDER BY at_us;"
         "COMMIT;";
}

JobSpec running_job(int n) {
  JobSpec spec;
  spec.name = "running-" + std::to_string(n);
  spec.argv = {"python", "train.py", "--seed", std::to_string(n)};
  spec.working_dir = "/home/ada/project";
  spec.environment = {"PATH=/usr/bin:/bin", "HOME=/home/ada", "WANDB_MODE=offline"};
  spec.gpus = 1;
  spec.uid = 1000;
  spec.user = "ada";
  spec.signature = "train.py";
  spec.submit_time = WallTime(std::chrono::microseconds(kBaseUs + n));
  return spec;
}

struct Databases {
  std::string indexed;    // schema 7
  std::string unindexed;  // the same rows, events_by_job dropped
  std::int64_t events = 0;
  double migrate_s = 0;  // opening a schema-6 copy (building the index)
};

bool fill(const std::string& path, std::int64_t jobs) {
  {
    auto store = fastgpu::store::open_sqlite_store(path);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
      return false;
    }
  }
  if (!raw_exec(path, fill_sql(jobs))) return false;
  auto store = fastgpu::store::open_sqlite_store(path);
  if (!store.ok()) return false;
  const std::int64_t now = kBaseUs + (jobs + 10) * 1000;
  for (int i = 0; i < kRunning; ++i) {
    auto ids = (*store)->submit(std::vector<JobSpec>{running_job(i)});
    if (!ids.ok()) return false;
    const JobId id = ids->front();
    const WallTime at(std::chrono::microseconds(now + i * 10));
    if (!(*store)->record_start(id, {{0}, at, "", {}, {}, {}}).ok()) return false;
    // Six of the eight asked to stop: 4 cancelled, 2 preempted (what the daemon reads back).
    if (i < 6) {
      const Event asked{0, WallTime(std::chrono::microseconds(now + i * 10 + 5)),
                        i < 4 ? "job.cancel" : "job.preempt", id,
                        i < 4 ? R"({"uid":1000})" : R"({"cause":"priority","reason":"job 9"})"};
      if (!(*store)->append_event(asked).ok()) return false;
    }
  }
  return true;
}

const Databases& databases(std::int64_t jobs) {
  static std::map<std::int64_t, Databases> made;
  auto [it, added] = made.try_emplace(jobs);
  Databases& dbs = it->second;
  if (!added) return dbs;
  const std::string name = std::to_string(jobs);
  dbs.indexed = (bench_dir() / (name + "-indexed.db")).string();
  dbs.unindexed = (bench_dir() / (name + "-unindexed.db")).string();
  const auto start = std::chrono::steady_clock::now();
  if (!fill(dbs.indexed, jobs)) std::fprintf(stderr, "could not fill %s\n", dbs.indexed.c_str());
  // The store checkpoints and drops its WAL when it closes: the file is whole.
  fs::copy_file(dbs.indexed, dbs.unindexed, fs::copy_options::overwrite_existing);
  raw_exec(dbs.unindexed, "DROP INDEX events_by_job");
  sqlite3* db = nullptr;
  sqlite3_open(dbs.indexed.c_str(), &db);
  sqlite3_stmt* count = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM events", -1, &count, nullptr);
  if (sqlite3_step(count) == SQLITE_ROW) dbs.events = sqlite3_column_int64(count, 0);
  sqlite3_finalize(count);
  sqlite3_close(db);

  // The upgrade: a schema-6 database (no index) opened by this FastGPU.
  const std::string old = (bench_dir() / (name + "-schema6.db")).string();
  fs::copy_file(dbs.unindexed, old, fs::copy_options::overwrite_existing);
  raw_exec(old, "PRAGMA user_version = 6");
  const auto opening = std::chrono::steady_clock::now();
  {
    auto store = fastgpu::store::open_sqlite_store(old);
    if (!store.ok()) std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
  }
  dbs.migrate_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - opening).count();
  fs::remove(old);
  std::fprintf(stderr, "%lld jobs, %lld events: written in %.1f s; schema 6 -> 7 in %.2f s\n",
               static_cast<long long>(jobs), static_cast<long long>(dbs.events),
               std::chrono::duration<double>(opening - start).count(), dbs.migrate_s);
  return dbs;
}

void store_read(benchmark::State& state, bool indexed) {
  const Databases& dbs = databases(state.range(0));
  auto store = fastgpu::store::open_sqlite_store(indexed ? dbs.indexed : dbs.unindexed);
  if (!store.ok()) return state.SkipWithError(store.status().to_string().c_str());
  std::size_t found = 0;
  for (auto _ : state) {
    auto events = (*store)->events_of_running_jobs(kKinds);
    if (!events.ok()) return state.SkipWithError(events.status().to_string().c_str());
    found = events->size();
  }
  if (found != 6) state.SkipWithError("expected the 6 events of the running jobs");
  state.counters["events_found"] = static_cast<double>(found);
  state.counters["events_in_table"] = static_cast<double>(dbs.events);
}

// The old statement through the raw C API, reading every column as the store does.
void old_read(benchmark::State& state, bool indexed) {
  const Databases& dbs = databases(state.range(0));
  sqlite3* db = nullptr;
  sqlite3_open((indexed ? dbs.indexed : dbs.unindexed).c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, kOldEventsOfRunningJobs, -1, &stmt, nullptr);
  const std::string kinds = R"(["job.cancel","job.preempt","job.kill"])";
  std::size_t found = 0;
  for (auto _ : state) {
    sqlite3_bind_text(stmt, 1, kinds.c_str(), static_cast<int>(kinds.size()), SQLITE_STATIC);
    std::vector<Event> events;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      Event event;
      event.seq = sqlite3_column_int64(stmt, 0);
      event.at = WallTime(std::chrono::microseconds(sqlite3_column_int64(stmt, 1)));
      event.kind = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2));
      event.job = JobId(static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 3)));
      event.message_json = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 4));
      events.push_back(std::move(event));
    }
    sqlite3_reset(stmt);
    found = events.size();
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (found != 6) state.SkipWithError("expected the 6 events of the running jobs");
  state.counters["events_found"] = static_cast<double>(found);
}

// The index's price on writes: one event appended (one transaction), as the engine does,
// about the jobs running now (the newest ids, where the index's last pages are), of the
// kind every job writes (job.start; job.end is the same). The index is partial (the stop
// events only), so these are not in it.
void store_append(benchmark::State& state, bool indexed) {
  const std::int64_t jobs = state.range(0);
  const Databases& dbs = databases(jobs);
  auto store = fastgpu::store::open_sqlite_store(indexed ? dbs.indexed : dbs.unindexed);
  if (!store.ok()) return state.SkipWithError(store.status().to_string().c_str());
  std::int64_t n = 0;
  for (auto _ : state) {
    const JobId job(static_cast<std::uint64_t>(jobs + 1 + n++ % kRunning));
    const Event event{0, WallTime(std::chrono::microseconds(kBaseUs + n)), "job.start", job,
                      R"({"gpus":[0],"supervisor_pid":4242,"job_pid":4243})"};
    if (!(*store)->append_event(event).ok()) return state.SkipWithError("append_event failed");
  }
  state.SetItemsProcessed(state.iterations());
}

// Keeps each run's CPU and wall time per iteration, to print the ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if ((run.run_type != Run::RT_Iteration && !median) || run.error_occurred) continue;
      // Adjusted times are in the run's unit; the multiplier turns seconds into it.
      const double per_second = benchmark::GetTimeUnitMultiplier(run.time_unit);
      times_[run.run_name.str()] = {run.GetAdjustedRealTime() / per_second,
                                    run.GetAdjustedCPUTime() / per_second};
    }
    ConsoleReporter::ReportRuns(runs);
  }

  struct Time {
    double wall_s = 0;
    double cpu_s = 0;
  };
  const Time* find(const std::string& name) const {
    const auto it = times_.find(name);
    return it == times_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, Time> times_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::vector<std::int64_t> sizes = {100'000, 1'000'000};
  for (const auto& [name, function, indexed] :
       {std::tuple{"before/old_query_no_index", &old_read, false},
        std::tuple{"old_query_with_index", &old_read, true},
        std::tuple{"after/store_with_index", &store_read, true},
        std::tuple{"append_event/no_index", &store_append, false},
        std::tuple{"append_event/with_index", &store_append, true}}) {
    auto* bench = benchmark::RegisterBenchmark(name, function, indexed);
    for (std::int64_t size : sizes) bench->Arg(size);
    bench->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  std::printf("\nevents_of_running_jobs (6 events of 8 running jobs), median per call:\n");
  for (std::int64_t size : sizes) {
    const std::string tail = "/" + std::to_string(size) + "/real_time";
    const auto* before = reporter.find("before/old_query_no_index" + tail);
    const auto* old_indexed = reporter.find("old_query_with_index" + tail);
    const auto* after = reporter.find("after/store_with_index" + tail);
    const auto* append_no = reporter.find("append_event/no_index" + tail);
    const auto* append_with = reporter.find("append_event/with_index" + tail);
    if (!before && !after && !append_no) continue;  // filtered out
    const Databases& dbs = databases(size);
    std::printf("  %7lld jobs, %8lld events:", static_cast<long long>(size),
                static_cast<long long>(dbs.events));
    if (before && after) {
      std::printf(
          " before %.2f ms (cpu %.2f) | after %.1f us (cpu %.1f) | before/after wall "
          "%.0fx, cpu %.0fx",
          before->wall_s * 1e3, before->cpu_s * 1e3, after->wall_s * 1e6, after->cpu_s * 1e6,
          before->wall_s / after->wall_s, before->cpu_s / after->cpu_s);
    }
    if (old_indexed) std::printf(" | old query with the index %.1f us", old_indexed->wall_s * 1e6);
    std::printf("\n");
    if (append_no && append_with) {
      std::printf("  %7s append_event: %.1f us without the index, %.1f us with (%.2fx)\n", "",
                  append_no->wall_s * 1e6, append_with->wall_s * 1e6,
                  append_with->wall_s / append_no->wall_s);
    }
    std::printf("  %7s schema 6 -> 7 (building the index) at open: %.2f s\n", "", dbs.migrate_s);
  }
  std::error_code ignored;
  fs::remove_all(bench_dir(), ignored);
  benchmark::Shutdown();
  return 0;
}
