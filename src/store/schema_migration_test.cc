// Schema 2 (the engine's columns): a schema-1 database written by an older FastGPU opens,
// keeps its jobs, and gains the array limit and the placed bytes; both round-trip.
// Schema 3 (environments stored once): a schema-2 database's jobs keep their environments.
// Schema 4 (the submitter's umask): a schema-3 database's jobs run with the daemon's, as
// they did.
// Schema 5 (energy as a lower bound): a schema-4 database's energy stays as measured.
// Schema 6 (the current run's peak GPU memory): a schema-4 database's running job has none
// measured, and gets one raised (never lowered) until its next run starts.
// Schema 7 (events by job): a schema-6 database gains the index, and what a restarted
// daemon reads of its running jobs' events goes through it, not through every event.
// Schema 8 (jobs by end time, counts by state): a schema-7 database's jobs are counted, and
// listed by end time through the index.
// Schema 11 (the submitter's limits): a schema-10 database's jobs run with the daemon's.
// Schema 10 (entries by state): a schema-9 database's transitions are counted once; a
// purge then leaves the counts as they are.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fastgpu/store/state_store.h"
#include "store/schema.h"
#include "store/store_test_util.h"

namespace fastgpu::store {
namespace {

using testing::at_seconds;
using testing::full_spec;
using testing::TempDir;

// Runs `sql` on the file with the raw SQLite API (no migration); false on any error.
bool raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
            sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

// A database exactly as a schema-1 FastGPU left it: one queued job, one ended run.
void write_version_one_database(const std::string& path) {
  ASSERT_EQ(schema_migrations().front().version, 1);
  const std::string setup = std::string(schema_migrations().front().sql) +
                            "PRAGMA user_version = 1;"
                            "PRAGMA application_id = " +
                            std::to_string(kApplicationId) + ";";
  ASSERT_TRUE(raw_exec(path, setup));
  const std::string insert =
      "INSERT INTO jobs (name, argv, shell_command, working_dir, environment, gpus, gpu_mem, "
      "util_share, priority, restartable, uid, user, signature, submit_us, state, array_id, "
      "array_index, placed_gpus, start_us) VALUES ('old', '[\"true\"]', '', '/tmp', '[]', 1, "
      "1024, 1.0, 0, 0, 7, 'ada', '', 5, 'RUNNING', 1, 3, '[2]', 9);"
      "INSERT INTO transitions (job, from_state, to_state, at_us, reason) "
      "VALUES (1, NULL, 'QUEUED', 5, 'submitted');";
  ASSERT_TRUE(raw_exec(path, insert));
}

TEST(StoreSchemaMigrationTest, VersionOneDatabaseOpensAndKeepsItsJobs) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_version_one_database(path);

  auto store = testing::open_or_die(path);
  auto job = store->get_job(JobId(1));
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  EXPECT_EQ(job->spec.name, "old");
  EXPECT_EQ(job->state, JobState::kRunning);
  EXPECT_EQ(job->placed_gpus, std::vector<std::uint32_t>{2});
  ASSERT_TRUE(job->spec.array.has_value());
  EXPECT_EQ(job->spec.array->max_running, 0u);  // no limit: what schema 1 meant
  EXPECT_FALSE(job->placed_bytes_per_gpu.has_value());
  EXPECT_TRUE(job->spec.environment.empty());   // stored as []
  EXPECT_FALSE(job->spec.held_by.has_value());  // not held: what every earlier schema meant
  EXPECT_FALSE(job->spec.resubmitted_from.has_value());  // a job submitted anew
  EXPECT_TRUE(store->resubmissions_of(JobId(1))->empty());
  EXPECT_EQ(store_schema_version(), 13);
}

// Schema-2 jobs with environments: two equal lists, one other, one empty.
void write_version_two_database(const std::string& path) {
  std::string setup;
  for (const Migration& migration : schema_migrations()) {
    if (migration.version <= 2) setup += migration.sql;
  }
  setup +=
      "PRAGMA user_version = 2; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  ASSERT_TRUE(raw_exec(path, setup));
  std::string insert;
  for (const char* environment :
       {R"(["A=1","PATH=/bin"])", R"(["B=2"])", R"(["A=1","PATH=/bin"])", "[]"}) {
    insert += std::string(
                  "INSERT INTO jobs (name, argv, shell_command, working_dir, environment, gpus, "
                  "util_share, priority, restartable, uid, user, signature, submit_us, state) "
                  "VALUES ('j', '[\"true\"]', '', '/tmp', '") +
              environment + "', 0, 1.0, 0, 0, 7, 'ada', '', 5, 'QUEUED');";
  }
  ASSERT_TRUE(raw_exec(path, insert));
}

TEST(StoreSchemaMigrationTest, VersionTwoJobsKeepTheirEnvironmentsStoredOnce) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_version_two_database(path);

  auto store = testing::open_or_die(path);
  const std::vector<std::string> shared = {"A=1", "PATH=/bin"};
  EXPECT_EQ(store->get_job(JobId(1)).value().spec.environment, shared);
  EXPECT_EQ(store->get_job(JobId(2)).value().spec.environment, std::vector<std::string>{"B=2"});
  EXPECT_EQ(store->get_job(JobId(3)).value().spec.environment, shared);
  EXPECT_TRUE(store->get_job(JobId(4)).value().spec.environment.empty());
  store.reset();
  EXPECT_EQ(testing::count_rows(path, "environments"), 3);       // [] is a list too
  EXPECT_FALSE(raw_exec(path, "SELECT environment FROM jobs"));  // the old column is gone
}

// A database at schema `version` (3 or later) with one queued CPU-only job, 'old', id 1.
void write_database_with_one_job(const std::string& path, int version) {
  std::string setup;
  for (const Migration& migration : schema_migrations()) {
    if (migration.version <= version) setup += migration.sql;
  }
  setup += "PRAGMA user_version = " + std::to_string(version) +
           "; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  setup +=
      "INSERT INTO environments (id, body) VALUES (1, '[]');"
      "INSERT INTO jobs (name, argv, shell_command, working_dir, environment_id, gpus, "
      "util_share, priority, restartable, uid, user, signature, submit_us, state) "
      "VALUES ('old', '[\"true\"]', '', '/tmp', 1, 0, 1.0, 0, 0, 7, 'ada', '', 5, 'QUEUED');";
  ASSERT_TRUE(raw_exec(path, setup));
}

TEST(StoreSchemaMigrationTest, VersionThreeJobsHaveNoUmaskAndANewOneKeepsItsOwn) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_database_with_one_job(path, 3);

  auto store = testing::open_or_die(path);
  auto old = store->get_job(JobId(1));
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_EQ(old->spec.name, "old");
  EXPECT_FALSE(old->spec.umask.has_value());  // the daemon's, as before
  JobSpec spec = full_spec(1);
  spec.umask = 077;
  auto ids = store->submit(std::span(&spec, 1));
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_EQ(store->get_job(ids->at(0)).value().spec.umask, 077u);
  spec.umask = 01000;
  auto refused = store->submit(std::span(&spec, 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("umask 1000 is not a umask; give 0000 to 0777"));
}

// A job stored under schema 8 has no grace of its own (the daemon's); a new one keeps its
// own, and one past a day is refused.
TEST(StoreSchemaMigrationTest, VersionEightJobsHaveTheDaemonsGraceAndANewOneKeepsItsOwn) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_database_with_one_job(path, 8);

  auto store = testing::open_or_die(path);
  auto old = store->get_job(JobId(1));
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_FALSE(old->spec.kill_grace_s.has_value());
  JobSpec spec = full_spec(1);
  spec.kill_grace_s = 300;
  auto ids = store->submit(std::span(&spec, 1));
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_EQ(store->get_job(ids->at(0)).value().spec.kill_grace_s, 300);
  spec.kill_grace_s = 86401;
  auto refused = store->submit(std::span(&spec, 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("grace 86401 s is outside 0 to 86400 s (a day)"));
}

// A job stored under schema 10 has no limits of its own (the daemon's); a new one keeps its
// submitter's, unlimited ones included, and a soft value above its hard one is refused.
TEST(StoreSchemaMigrationTest, VersionTenJobsHaveTheDaemonsLimitsAndANewOneKeepsItsOwn) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_database_with_one_job(path, 10);

  auto store = testing::open_or_die(path);
  auto old = store->get_job(JobId(1));
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_TRUE(old->spec.limits.empty());
  JobSpec spec = full_spec(1);
  spec.limits = {{"core", 0, std::nullopt}, {"stack", std::nullopt, std::nullopt}};
  auto ids = store->submit(std::span(&spec, 1));
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_EQ(store->get_job(ids->at(0)).value().spec.limits, spec.limits);
  spec.limits = {{"nofile", 2048, 1024}};
  auto refused = store->submit(std::span(&spec, 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(
      refused.status().message(),
      ::testing::HasSubstr("the nofile limit's soft value 2048 is above its hard one 1024"));
  spec.limits = {{"nice", 0, 0}};
  refused = store->submit(std::span(&spec, 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("'nice' is not a resource limit FastGPU carries"));
}

// A schema-9 job submitted, started and requeued entered QUEUED twice and RUNNING once, as
// its transitions say; its next start counts on from there.
TEST(StoreSchemaMigrationTest, VersionNineTransitionsAreCountedOnceAsEntries) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_database_with_one_job(path, 9);
  ASSERT_TRUE(raw_exec(path,
                       "INSERT INTO transitions (job, from_state, to_state, at_us, reason) VALUES "
                       "(1, NULL, 'QUEUED', 5, 'submitted'), (1, 'QUEUED', 'RUNNING', 6, ''), "
                       "(1, 'RUNNING', 'QUEUED', 7, 'preempted');"));
  auto store = testing::open_or_die(path);
  EXPECT_THAT(*store->count_state_entries(),
              ::testing::ElementsAre(::testing::Pair(JobState::kQueued, 2u),
                                     ::testing::Pair(JobState::kRunning, 1u)));
  ASSERT_TRUE(store->record_start(JobId(1), {{}, at_seconds(10), "", {}, {}, {}}).ok());
  EXPECT_EQ(store->count_state_entries()->at(JobState::kRunning), 2u);
  EXPECT_EQ(store->count_jobs_by_state()->at(JobState::kRunning), 1u);
}

// A job ended under schema 4 keeps its energy as measured: no lower bound, no unread GPU.
TEST(StoreSchemaMigrationTest, VersionFourEnergyStaysAsMeasured) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  std::string setup;
  for (const Migration& migration : schema_migrations()) {
    if (migration.version <= 4) setup += migration.sql;
  }
  setup +=
      "PRAGMA user_version = 4; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  setup +=
      "INSERT INTO environments (id, body) VALUES (1, '[]');"
      "INSERT INTO jobs (name, argv, shell_command, working_dir, environment_id, gpus, "
      "util_share, priority, restartable, uid, user, signature, submit_us, state, "
      "energy_joules, energy_estimate) "
      "VALUES ('old', '[\"true\"]', '', '/tmp', 1, 1, 1.0, 0, 0, 7, 'ada', '', 5, 'COMPLETED', "
      "250.0, 1);";
  ASSERT_TRUE(raw_exec(path, setup));

  auto store = testing::open_or_die(path);
  auto old = store->get_job(JobId(1));
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_EQ(old->accounting.energy_joules, 250.0);
  EXPECT_TRUE(old->accounting.energy_is_estimate);
  EXPECT_FALSE(old->accounting.energy_at_least_joules.has_value());
  EXPECT_TRUE(old->accounting.energy_unread_gpus.empty());
}

TEST(StoreSchemaMigrationTest, VersionFourRunningJobHasNoRunPeakUntilOneIsRecorded) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  std::string setup;
  for (const Migration& migration : schema_migrations()) {
    if (migration.version <= 4) setup += migration.sql;
  }
  setup +=
      "PRAGMA user_version = 4; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  setup +=
      "INSERT INTO environments (id, body) VALUES (1, '[]');"
      "INSERT INTO jobs (name, argv, shell_command, working_dir, environment_id, gpus, "
      "util_share, priority, restartable, uid, user, signature, submit_us, state, "
      "placed_gpus, start_us, peak_gpu_mem, attempts) VALUES ('old', '[\"true\"]', '', '/tmp', "
      "1, 1, 1.0, 0, 1, 7, 'ada', '', 5, 'RUNNING', '[0]', 9, 1024, 1);";
  ASSERT_TRUE(raw_exec(path, setup));

  auto store = testing::open_or_die(path);
  const JobId id(1);
  auto old = store->get_job(id);
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_FALSE(old->run_peak_gpu_mem.has_value());
  EXPECT_EQ(old->accounting.peak_gpu_mem, Bytes{1024});  // an earlier run's, kept apart

  const std::pair<JobId, Bytes> high{id, 300}, low{id, 200};
  ASSERT_TRUE(store->record_run_peaks(std::span(&high, 1)).ok());
  ASSERT_TRUE(store->record_run_peaks(std::span(&low, 1)).ok());
  EXPECT_EQ(store->get_job(id)->run_peak_gpu_mem, Bytes{300});
  EXPECT_EQ(store->get_job(id)->accounting.peak_gpu_mem, Bytes{1024});

  // The next run starts with none measured; a job that no longer runs is left alone.
  JobEnd end;
  end.state = JobState::kPreempted;
  end.at = at_seconds(20);
  ASSERT_TRUE(store->record_end(id, end).ok());
  const std::pair<JobId, Bytes> after_end{id, 500};
  ASSERT_TRUE(store->record_run_peaks(std::span(&after_end, 1)).ok());
  EXPECT_EQ(store->get_job(id)->run_peak_gpu_mem, Bytes{300});
  ASSERT_TRUE(
      store->transition(id, JobState::kPreempted, JobState::kQueued, at_seconds(21), "requeued")
          .ok());
  ASSERT_TRUE(store->record_start(id, {{0}, at_seconds(30), "", {}, {}, {}}).ok());
  EXPECT_FALSE(store->get_job(id)->run_peak_gpu_mem.has_value());
}

// The query plan of `sql` on the file, one line per step (EXPLAIN QUERY PLAN's detail
// column: "SEARCH e USING INDEX events_by_job (job=?)"); empty if it cannot be read.
std::vector<std::string> query_plan(const std::string& path, const std::string& sql) {
  std::vector<std::string> plan;
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return plan;
}

// A schema-6 database: finished jobs 1 and 2 (job 2 cancelled), job 3 running and asked to
// stop (a preemption of its first run, then a cancel of this one).
void write_version_six_database(const std::string& path) {
  std::string setup;
  for (const Migration& migration : schema_migrations()) {
    if (migration.version <= 6) setup += migration.sql;
  }
  setup +=
      "PRAGMA user_version = 6; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  setup += "INSERT INTO environments (id, body) VALUES (1, '[]');";
  for (const char* state : {"COMPLETED", "CANCELLED", "RUNNING"}) {
    setup += std::string(
                 "INSERT INTO jobs (name, argv, shell_command, working_dir, environment_id, "
                 "gpus, util_share, priority, restartable, uid, user, signature, submit_us, "
                 "state, placed_gpus, start_us, attempts) VALUES ('j', '[\"true\"]', '', "
                 "'/tmp', 1, 1, 1.0, 0, 1, 7, 'ada', '', 5, '") +
             state + "', '[0]', 10, 1);";
  }
  setup +=
      "INSERT INTO transitions (job, from_state, to_state, at_us, reason) VALUES "
      "(1, 'QUEUED', 'RUNNING', 10, ''), (2, 'QUEUED', 'RUNNING', 10, ''), "
      "(3, 'QUEUED', 'RUNNING', 10, ''), (3, 'RUNNING', 'PREEMPTED', 30, ''), "
      "(3, 'PREEMPTED', 'QUEUED', 30, ''), (3, 'QUEUED', 'RUNNING', 40, '');"
      "INSERT INTO events (at_us, kind, job, message) VALUES "
      "(10, 'job.start', 1, '{}'), (10, 'job.start', 2, '{}'), (10, 'job.start', 3, '{}'), "
      "(20, 'job.preempt', 3, '{}'), (25, 'job.cancel', 2, '{\"uid\": 7}'), "
      "(40, 'job.start', 3, '{}'), (45, 'job.cancel', 3, '{\"uid\": 7}'), "
      "(50, 'job.end', 1, '{}');";
  ASSERT_TRUE(raw_exec(path, setup));
}

TEST(StoreSchemaMigrationTest, VersionSixDatabaseGainsTheEventsIndexAndReadsTheSameEvents) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_version_six_database(path);
  ASSERT_EQ(testing::count_rows(path, "events"), 8);

  auto store = testing::open_or_die(path);
  const std::vector<std::string> kinds = {"job.cancel", "job.preempt", "job.kill"};
  Result<std::vector<Event>> events = store->events_of_running_jobs(kinds);
  ASSERT_TRUE(events.ok()) << events.status().to_string();
  ASSERT_EQ(events->size(), 1u);  // job 3's cancel; its preemption was of its first run
  EXPECT_EQ(events->at(0).seq, 7);
  EXPECT_EQ(events->at(0).job, JobId(3));
  EXPECT_EQ(events->at(0).kind, "job.cancel");
  store.reset();

  EXPECT_EQ(testing::count_rows(path,
                                "sqlite_master WHERE type = 'index' AND name = 'events_by_job' "
                                "AND tbl_name = 'events'"),
            1);
  // Partial: the start and end events every job writes are not in it (each would cost an
  // index entry at every job's start and end).
  EXPECT_EQ(testing::count_rows(path,
                                "sqlite_master WHERE name = 'events_by_job' AND sql LIKE "
                                "'%WHERE kind IN (''job.cancel'', ''job.preempt'', "
                                "''job.kill'')%'"),
            1);
}

// The plan goes from the running jobs to their events by the index, never through the whole
// table, even where ANALYZE has told SQLite that nearly every job has ended.
TEST(StoreSchemaMigrationTest, EventsOfRunningJobsReadOnlyThoseJobsEvents) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_version_six_database(path);
  testing::open_or_die(path).reset();
  ASSERT_TRUE(raw_exec(path, "ANALYZE"));

  const std::vector<std::string> plan = query_plan(path, kEventsOfRunningJobs);
  ASSERT_FALSE(plan.empty());
  std::string steps;
  for (const std::string& step : plan) steps += step + "\n";
  EXPECT_THAT(plan, ::testing::Contains(::testing::HasSubstr("USING INDEX events_by_job")))
      << steps;
  EXPECT_THAT(plan, ::testing::Contains(::testing::HasSubstr("jobs_by_state"))) << steps;
  EXPECT_THAT(plan, ::testing::Not(::testing::Contains(::testing::StartsWith("SCAN e")))) << steps;
}

// A schema-7 database as an older FastGPU left it: a job in each of four states, two ended.
void write_version_seven_database(const std::string& path) {
  std::string setup;
  for (const Migration& migration : schema_migrations()) {
    if (migration.version <= 7) setup += migration.sql;
  }
  setup +=
      "PRAGMA user_version = 7; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  setup += "INSERT INTO environments (id, body) VALUES (1, '[]');";
  const std::pair<const char*, const char*> jobs[] = {
      {"COMPLETED", "100"}, {"CANCELLED", "200"}, {"RUNNING", "NULL"}, {"QUEUED", "NULL"}};
  for (const auto& [state, end_us] : jobs) {
    setup += std::string(
                 "INSERT INTO jobs (name, argv, shell_command, working_dir, environment_id, "
                 "gpus, util_share, priority, restartable, uid, user, signature, submit_us, "
                 "state, end_us) VALUES ('j', '[\"true\"]', '', '/tmp', 1, 1, 1.0, 0, 1, 7, "
                 "'ada', '', 5, '") +
             state + "', " + end_us + ");";
  }
  ASSERT_TRUE(raw_exec(path, setup));
}

// Schema 8: a schema-7 database's jobs are counted once by state, and the counts then follow
// each new job; its ended jobs are listed by end time through the new index.
TEST(StoreSchemaMigrationTest, VersionSevenDatabaseGainsCountsAndTheEndIndex) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  write_version_seven_database(path);
  auto store = testing::open_or_die(path);
  Result<std::map<JobState, std::uint64_t>> counts = store->count_jobs_by_state();
  ASSERT_TRUE(counts.ok()) << counts.status().to_string();
  EXPECT_THAT(*counts, ::testing::ElementsAre(::testing::Pair(JobState::kQueued, 1u),
                                              ::testing::Pair(JobState::kRunning, 1u),
                                              ::testing::Pair(JobState::kCompleted, 1u),
                                              ::testing::Pair(JobState::kCancelled, 1u)));
  // Schema 10: with no transitions stored, each state was entered by its jobs at least.
  EXPECT_EQ(*store->count_state_entries(), *counts);
  ASSERT_TRUE(store->submit(std::vector<JobSpec>(2, full_spec(1))).ok());
  EXPECT_EQ(store->count_jobs_by_state()->at(JobState::kQueued), 3u);
  EXPECT_EQ(store->count_state_entries()->at(JobState::kQueued), 3u);

  JobFilter since;
  since.ended_from = WallTime(std::chrono::microseconds(150));
  Result<std::vector<JobId>> ids = store->list_job_ids(since);
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_THAT(*ids, ::testing::ElementsAre(JobId(2)));
  store.reset();
  // Partial: a queued or running job (no end) costs no entry.
  EXPECT_EQ(testing::count_rows(path,
                                "sqlite_master WHERE type = 'index' AND name = 'jobs_by_end' "
                                "AND sql LIKE '%WHERE end_us IS NOT NULL%'"),
            1);
}

TEST(StoreSchemaMigrationTest, ArrayLimitAndPlacedBytesRoundTrip) {
  auto store = testing::open_or_die(":memory:");
  JobSpec spec = full_spec(1);
  spec.array = ArrayMember{0, 4, 2};
  auto ids = store->submit(std::span(&spec, 1));
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  const JobId id = ids->at(0);
  const Bytes placed = Bytes{21} << 30;
  ASSERT_TRUE(store->record_start(id, {{0, 1}, at_seconds(10), "", {}, {}, placed}).ok());

  auto job = store->get_job(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->spec.array, (ArrayMember{id.value(), 4, 2}));
  EXPECT_EQ(job->placed_bytes_per_gpu, placed);
}

TEST(StoreSchemaMigrationTest, CpuOnlyRunHasNoPlacedBytes) {
  auto store = testing::open_or_die(":memory:");
  JobSpec spec = full_spec(1);
  spec.gpus = 0;
  auto ids = store->submit(std::span(&spec, 1));
  ASSERT_TRUE(ids.ok());
  ASSERT_TRUE(store->record_start(ids->at(0), {{}, at_seconds(10), "", {}, {}, {}}).ok());
  auto job = store->get_job(ids->at(0));
  ASSERT_TRUE(job.ok());
  EXPECT_FALSE(job->placed_bytes_per_gpu.has_value());
}

}  // namespace
}  // namespace fastgpu::store
