// The store on real files: reopening, schema versions, bad files, two writers, and a
// writer killed with SIGKILL in the middle of its work.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "fastgpu/store/state_store.h"
#include "store/store_test_util.h"

namespace fastgpu::store {
namespace {

using testing::at_seconds;
using testing::full_spec;
using ::testing::HasSubstr;
using testing::open_or_die;
using testing::TempDir;

// Runs one statement on the file with the plain SQLite API (no FastGPU code), returning
// the first column of the first row as text.
std::string raw_query(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  std::string result = "<error>";
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      result = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    } else if (rc == SQLITE_DONE) {
      result = "";
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

TEST(StoreDurabilityTest, CommittedDataIsSeenByASecondConnectionAndAfterReopen) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  auto writer = open_or_die(path);
  auto reader = open_or_die(path);
  const JobSpec spec = full_spec(1);
  auto ids = writer->submit(std::span(&spec, 1));
  ASSERT_TRUE(ids.ok());
  auto seen = reader->get_job(ids->at(0));
  ASSERT_TRUE(seen.ok()) << seen.status().to_string();
  EXPECT_EQ(seen->spec, spec);

  writer.reset();
  reader.reset();
  auto reopened = open_or_die(path);
  EXPECT_EQ(reopened->get_job(ids->at(0))->spec, spec);
  EXPECT_EQ(raw_query(path, "PRAGMA journal_mode"), "wal");
}

TEST(StoreDurabilityTest, IdsKeepIncreasingAcrossReopenAndDeletion) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2), full_spec(3)};
  JobId last;
  {
    auto store = open_or_die(path);
    last = store->submit(batch)->back();
  }
  // Even if the newest jobs are deleted by hand, their ids are not handed out again.
  raw_query(path, "DELETE FROM transitions");
  raw_query(path, "DELETE FROM jobs");
  auto store = open_or_die(path);
  // The counts by state follow a delete by hand too (the database keeps them).
  EXPECT_TRUE(store->count_jobs_by_state()->empty());
  auto next = store->submit(batch);
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->front(), last);
  EXPECT_LT(next->at(0), next->at(1));
}

TEST(StoreSchemaTest, EmptyFileIsMigratedToTheCurrentVersion) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  { std::ofstream(path).flush(); }  // zero bytes: SQLite treats it as a new database
  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ(raw_query(path, "PRAGMA user_version"), std::to_string(store_schema_version()));
  EXPECT_EQ(raw_query(path, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs'"), "1");
  store->reset();
  // Opening an up-to-date database again changes nothing and succeeds.
  EXPECT_TRUE(open_sqlite_store(path).ok());
}

TEST(StoreSchemaTest, DatabaseFromANewerFastGpuIsRefusedNamingBothVersions) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  { auto store = open_or_die(path); }
  const int newer = store_schema_version() + 1;
  raw_query(path, ("PRAGMA user_version = " + std::to_string(newer)).c_str());
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version " + std::to_string(newer)));
  EXPECT_THAT(store.status().message(),
              HasSubstr("up to " + std::to_string(store_schema_version())));
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST(StoreSchemaTest, GarbageFileIsRefusedNamingThePath) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 37) % 251));
  }
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("not a valid SQLite database"));
}

TEST(StoreSchemaTest, AnotherProgramsDatabaseIsRefused) {
  TempDir tmp;
  const std::string path = tmp.file("other.db");
  raw_query(path, "PRAGMA application_id = 12345");
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("another program"));
}

TEST(StoreSchemaTest, MissingFolderIsAnIoErrorNamingThePath) {
  TempDir tmp;
  const std::string path = tmp.file("no/such/folder/fastgpu.db");
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

// A tick's batch of claims that cannot get the write lock (another process holds it past
// the busy timeout) fails every claim, naming the cause, and claims nothing: the engine
// launches none of them.
TEST(StoreConcurrencyTest, ABatchThatCannotBeginClaimsNothing) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(50);
  auto opened = open_sqlite_store(path, options);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  std::unique_ptr<StateStore> store = std::move(opened).value();
  const std::vector<JobSpec> specs = {full_spec(1), full_spec(2)};
  const auto ids = store->submit(specs);
  ASSERT_TRUE(ids.ok());
  const std::vector<std::pair<JobId, JobStart>> starts = {
      {ids->at(0), {{0}, at_seconds(10), "", {}, {}, {}}},
      {ids->at(1), {{1}, at_seconds(10), "", {}, {}, {}}}};

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const std::vector<Status> refused = store->record_starts(starts);
  ASSERT_EQ(refused.size(), 2u);
  for (const Status& status : refused) {
    EXPECT_EQ(status.code(), ErrorCode::kUnavailable);
    EXPECT_NE(status.message().find("busy"), std::string::npos) << status.to_string();
  }
  EXPECT_EQ(store->get_job(ids->at(0))->state, JobState::kQueued);
  EXPECT_EQ(store->get_job(ids->at(1))->state, JobState::kQueued);

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  for (const Status& status : store->record_starts(starts)) EXPECT_TRUE(status.ok());
  EXPECT_EQ(store->get_job(ids->at(1))->state, JobState::kRunning);
}

TEST(StoreConcurrencyTest, TwoConnectionsWritingAtOnceLoseNothing) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  { auto store = open_or_die(path); }  // migrate once, before the race
  constexpr int kJobsPerWriter = 150;
  std::vector<std::vector<JobId>> ids(2);
  std::vector<Status> errors(2);
  auto write = [&](int writer) {
    auto store = open_or_die(path);
    for (int i = 0; i < kJobsPerWriter && errors[writer].ok(); ++i) {
      JobSpec spec = full_spec(i);
      spec.uid = static_cast<std::uint32_t>(writer);
      auto submitted = store->submit(std::span(&spec, 1));
      if (!submitted.ok()) {
        errors[writer] = submitted.status();
        break;
      }
      ids[writer].push_back(submitted->at(0));
      errors[writer] = store->record_start(submitted->at(0), {{0}, at_seconds(i), "", {}, {}, {}});
    }
  };
  std::thread first(write, 0);
  std::thread second(write, 1);
  first.join();
  second.join();
  ASSERT_TRUE(errors[0].ok()) << errors[0].to_string();
  ASSERT_TRUE(errors[1].ok()) << errors[1].to_string();

  auto store = open_or_die(path);
  for (std::uint32_t writer = 0; writer < 2; ++writer) {
    JobFilter filter;
    filter.states = {JobState::kRunning};
    filter.uid = writer;
    auto jobs = store->list_jobs(filter);
    ASSERT_TRUE(jobs.ok());
    EXPECT_EQ(jobs->size(), static_cast<std::size_t>(kJobsPerWriter));
  }
  std::vector<JobId> all = ids[0];
  all.insert(all.end(), ids[1].begin(), ids[1].end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "an id was given twice";
}

// The child writes batches of kBatch jobs (submit, then start and end each), reporting
// each committed batch on a pipe, until the parent kills it with SIGKILL.
constexpr int kBatch = 5;

[[noreturn]] void crash_writer(const std::string& path, int report_fd) {
  auto opened = open_sqlite_store(path);
  if (!opened.ok()) _exit(2);
  auto store = std::move(opened).value();
  for (int round = 0;; ++round) {
    std::vector<JobSpec> batch;
    for (int i = 0; i < kBatch; ++i) batch.push_back(full_spec(round * kBatch + i));
    auto ids = store->submit(batch);
    if (!ids.ok()) _exit(3);
    for (JobId id : *ids) {
      if (!store->record_start(id, {{0, 1}, at_seconds(round), "/l", 10, 11, {}}).ok()) _exit(4);
      JobEnd end{JobState::kCompleted,
                 at_seconds(round + 1),
                 0,
                 {},
                 {Bytes{1} << 30, 2.0, 3.0, false, 50.0},
                 "",
                 {}};
      if (!store->record_end(id, end).ok()) _exit(5);
    }
    const int done = round + 1;
    if (write(report_fd, &done, sizeof done) != sizeof done) _exit(6);
  }
}

TEST(StoreCrashTest, WriterKilledMidWayLeavesAConsistentDatabase) {
  TempDir tmp;
  const std::string path = tmp.file("fastgpu.db");
  { auto store = open_or_die(path); }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    crash_writer(path, fds[1]);
  }
  close(fds[1]);
  int reported = 0;
  // Let it commit some batches, then kill it wherever it is (most likely mid-batch).
  while (reported < 40 && read(fds[0], &reported, sizeof reported) == sizeof reported) {
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  waitpid(child, &wait_status, 0);
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the writer stopped early, status " << wait_status;

  EXPECT_EQ(raw_query(path, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw_query(path, "PRAGMA foreign_key_check"), "");
  auto store = open_or_die(path);
  auto jobs = store->list_jobs({});
  ASSERT_TRUE(jobs.ok());
  // Every batch acknowledged before the kill is there, and batches are whole.
  EXPECT_GE(jobs->size(), static_cast<std::size_t>(reported * kBatch));
  EXPECT_EQ(jobs->size() % kBatch, 0u);
  for (std::size_t i = 0; i < jobs->size(); ++i) {
    const JobRecord& job = jobs->at(i);
    EXPECT_EQ(job.spec, full_spec(static_cast<int>(i))) << "job " << job.id;
    auto log = store->transitions(job.id);
    ASSERT_TRUE(log.ok());
    // The log agrees with the state: submitted (1), + started (2), + ended (3).
    const std::size_t expected = job.state == JobState::kQueued    ? 1
                                 : job.state == JobState::kRunning ? 2
                                                                   : 3;
    EXPECT_EQ(log->size(), expected) << "job " << job.id;
    EXPECT_EQ(log->back().to, job.state);
    if (job.state == JobState::kCompleted) {
      EXPECT_EQ(job.accounting.peak_gpu_mem, Bytes{1} << 30);
      EXPECT_EQ(job.attempts, 1u);
    }
  }
  EXPECT_EQ(raw_query(path, "SELECT count(*) FROM history"),
            raw_query(path, "SELECT count(*) FROM jobs WHERE state = 'COMPLETED'"));
}

}  // namespace
}  // namespace fastgpu::store
