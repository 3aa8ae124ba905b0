// Schema 2 (the engine's columns): a schema-1 database written by an older FastGPU opens,
// keeps its jobs, and gains the array limit and the placed bytes; both round-trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

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
  EXPECT_EQ(store_schema_version(), 2);
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
