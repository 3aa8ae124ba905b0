#include "exec/run_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <csignal>
#include <fstream>

namespace fastgpu::exec {
namespace {

using ::testing::HasSubstr;

class RunFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "fastgpu-run-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(RunFilesTest, RequestRoundTripsWithEveryField) {
  LaunchRequest request;
  request.job = JobId(42);
  request.argv = {"python", "train.py", "--lr=1e-3", "with \"quotes\"\n"};
  request.working_dir = "/home/ada/project";
  request.environment = {"PATH=/usr/bin", "EMPTY="};
  request.gpus = {0, 3};
  request.gpu_mem_quota = Bytes{20} << 30;
  request.array_index = 7;
  request.time_limit_s = 7200.5;
  request.kill_grace_s = 3;
  request.log_path = "/var/log/fastgpu/42.log";
  request.run_file = "/var/lib/fastgpu/runs/42.1.jsonl";
  request.uid = 1001;
  request.gid = 1002;
  request.groups = std::vector<gid_t>{1002, 27};
  Result<LaunchRequest> read = request_from_json(request_to_json(request));
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(read->job, request.job);
  EXPECT_EQ(read->argv, request.argv);
  EXPECT_EQ(read->shell_command, "");
  EXPECT_EQ(read->working_dir, request.working_dir);
  EXPECT_EQ(read->environment, request.environment);
  EXPECT_EQ(read->gpus, request.gpus);
  EXPECT_EQ(read->gpu_mem_quota, request.gpu_mem_quota);
  EXPECT_EQ(read->array_index, request.array_index);
  EXPECT_EQ(read->time_limit_s, request.time_limit_s);
  EXPECT_EQ(read->kill_grace_s, request.kill_grace_s);
  EXPECT_EQ(read->log_path, request.log_path);
  EXPECT_EQ(read->run_file, request.run_file);
  EXPECT_EQ(read->uid, request.uid);
  EXPECT_EQ(read->gid, request.gid);
  EXPECT_EQ(read->groups, request.groups);
}

TEST_F(RunFilesTest, UnsetOptionalsStayUnset) {
  LaunchRequest request;
  request.shell_command = "echo hi";
  Result<LaunchRequest> read = request_from_json(request_to_json(request));
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->gpu_mem_quota || read->array_index || read->time_limit_s || read->uid ||
               read->gid);
  EXPECT_EQ(read->shell_command, "echo hi");
}

TEST_F(RunFilesTest, EveryOutcomeRoundTrips) {
  const std::vector<Outcome> outcomes = {Exited{3},       Signaled{9},    TimedOut{},
                                         Stopped{true},   Stopped{false}, LaunchFailed{"no"},
                                         Lost{"vanished"}};
  for (const Outcome& outcome : outcomes) {
    RunOutcome run{outcome, WallTime(std::chrono::microseconds(1'700'000'000'000'001)),
                   WallTime(std::chrono::microseconds(1'700'000'000'500'000)),
                   Usage{1.5, 0.25, Bytes{123} << 20}};
    Result<RunOutcome> read = outcome_from_json(outcome_to_json(run));
    ASSERT_TRUE(read.ok()) << read.status().to_string();
    EXPECT_EQ(read->outcome.index(), outcome.index());
    EXPECT_EQ(read->started, run.started);
    EXPECT_EQ(read->ended, run.ended);
    EXPECT_EQ(read->usage.user_cpu_s, 1.5);
    EXPECT_EQ(read->usage.system_cpu_s, 0.25);
    EXPECT_EQ(read->usage.max_rss_bytes, Bytes{123} << 20);
  }
  Result<RunOutcome> exited = outcome_from_json(outcome_to_json({Exited{3}, {}, {}, {}}));
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(std::get<Exited>(exited->outcome).code, 3);
  EXPECT_FALSE(exited->usage.max_rss_bytes.has_value());  // unknown stays unknown, not 0
  Result<RunOutcome> stopped = outcome_from_json(outcome_to_json({Stopped{true}, {}, {}, {}}));
  EXPECT_TRUE(std::get<Stopped>(stopped->outcome).preempted);
  // How a stopped job ended is unknown in a record written before the fields.
  EXPECT_FALSE(std::get<Stopped>(stopped->outcome).signal.has_value());
  Result<RunOutcome> stopped_by =
      outcome_from_json(outcome_to_json({Stopped{false, SIGTERM, std::nullopt}, {}, {}, {}}));
  ASSERT_TRUE(stopped_by.ok()) << stopped_by.status().to_string();
  EXPECT_EQ(std::get<Stopped>(stopped_by->outcome).signal, SIGTERM);
  EXPECT_FALSE(std::get<Stopped>(stopped_by->outcome).exit_code.has_value());
  // A program that could not be run keeps the status a shell gives it; an earlier step's
  // failure, and a record written before the field, have none.
  Result<RunOutcome> not_found =
      outcome_from_json(outcome_to_json({LaunchFailed{"no", 127}, {}, {}, {}}));
  ASSERT_TRUE(not_found.ok()) << not_found.status().to_string();
  EXPECT_EQ(std::get<LaunchFailed>(not_found->outcome).exit_code, 127);
  Result<RunOutcome> no_folder =
      outcome_from_json(outcome_to_json({LaunchFailed{"no"}, {}, {}, {}}));
  ASSERT_TRUE(no_folder.ok()) << no_folder.status().to_string();
  EXPECT_FALSE(std::get<LaunchFailed>(no_folder->outcome).exit_code.has_value());
  Result<RunOutcome> killed =
      outcome_from_json(outcome_to_json({TimedOut{SIGKILL, std::nullopt}, {}, {}, {}}));
  ASSERT_TRUE(killed.ok()) << killed.status().to_string();
  EXPECT_EQ(std::get<TimedOut>(killed->outcome).signal, SIGKILL);
  EXPECT_FALSE(std::get<TimedOut>(killed->outcome).exit_code.has_value());
  Result<RunOutcome> caught =
      outcome_from_json(outcome_to_json({TimedOut{std::nullopt, 143}, {}, {}, {}}));
  ASSERT_TRUE(caught.ok()) << caught.status().to_string();
  EXPECT_EQ(std::get<TimedOut>(caught->outcome).exit_code, 143);
}

// A supervisor of an earlier version wrote a time limit's end without how the job died.
TEST_F(RunFilesTest, AnOlderTimedOutOutcomeReadsWithNoSignal) {
  Result<RunOutcome> read =
      outcome_from_json(R"({"outcome": "timed_out", "started_us": 1, "ended_us": 2, "usage": {}})");
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  ASSERT_TRUE(std::holds_alternative<TimedOut>(read->outcome));
  EXPECT_FALSE(std::get<TimedOut>(read->outcome).signal.has_value());
}

TEST_F(RunFilesTest, RecordKeepsItsThreeLinesInOneFile) {
  const std::filesystem::path run = dir_ / "7.1.jsonl";
  ASSERT_TRUE(start_run_record(run, {1234, 987654321}).ok());
  Result<RunRecord> record = read_run_record(run);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  ASSERT_TRUE(record->supervisor.has_value());
  EXPECT_EQ(record->supervisor->pid, 1234);
  EXPECT_EQ(record->supervisor->start_time_ticks, 987654321u);
  EXPECT_FALSE(record->job || record->outcome);

  ASSERT_TRUE(append_job_pid(run, {1235, WallTime(std::chrono::microseconds(5))}).ok());
  ASSERT_TRUE(append_outcome(run, {Signaled{9}, WallTime(std::chrono::microseconds(5)),
                                   WallTime(std::chrono::microseconds(9)), Usage{}})
                  .ok());
  record = read_run_record(run);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_EQ(record->job->pid, 1235);
  EXPECT_EQ(record->job->started.time_since_epoch().count(), 5);
  ASSERT_TRUE(record->outcome.has_value());
  EXPECT_EQ(std::get<Signaled>(record->outcome->outcome).signal, 9);
  EXPECT_EQ(record->outcome->ended.time_since_epoch().count(), 9);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);

  // A new run at the same path starts afresh: the old outcome is not read as its own.
  ASSERT_TRUE(start_run_record(run, {2000, 1}).ok());
  record = read_run_record(run);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->supervisor->pid, 2000);
  EXPECT_FALSE(record->job || record->outcome);
}

// The limit a supervisor holds: the one its job started with, then the last one the
// launcher appended. A record of an earlier supervisor (no limit in its job line) takes
// none, and a limit line in it changes nothing.
TEST_F(RunFilesTest, TheTimeLimitIsTheJobLinesUntilALimitLineChangesIt) {
  const std::filesystem::path run = dir_ / "10.1.jsonl";
  ASSERT_TRUE(start_run_record(run, {1234, 1}).ok());
  EXPECT_FALSE(read_run_record(run)->time_limit);
  ASSERT_TRUE(
      append_job_pid(run, {1235, WallTime(std::chrono::microseconds(5)), TimeLimit{3600.0}}).ok());
  EXPECT_EQ(read_run_record(run)->time_limit, TimeLimit{3600.0});
  ASSERT_TRUE(append_time_limit(run, TimeLimit{std::nullopt}).ok());
  EXPECT_EQ(read_run_record(run)->time_limit, TimeLimit{std::nullopt});
  ASSERT_TRUE(append_time_limit(run, TimeLimit{90.0}).ok());
  Result<RunRecord> record = read_run_record(run);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_EQ(record->time_limit, TimeLimit{90.0});
  EXPECT_EQ(record->job->time_limit, TimeLimit{3600.0});
  EXPECT_THAT(*read_whole_file(run), HasSubstr(R"({"limit":{"time_limit_s":null}})"));

  const std::filesystem::path older = dir_ / "11.1.jsonl";
  std::ofstream(older) << R"({"supervisor": {"pid": 1, "start_time_ticks": 2}})"
                       << "\n"
                       << R"({"job": {"pid": 3, "started_us": 5}})"
                       << "\n"
                       << R"({"limit": {"time_limit_s": 60}})"
                       << "\n";
  record = read_run_record(older);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_FALSE(record->job->time_limit);
  EXPECT_FALSE(record->time_limit);
  std::ofstream(older) << R"({"supervisor": {"pid": 1, "start_time_ticks": 2}})"
                       << "\n"
                       << R"({"job": {"pid": 3, "started_us": 5, "time_limit_s": 60}})"
                       << "\n"
                       << R"({"limit": {"seconds": 60}})"
                       << "\n";
  EXPECT_THAT(read_run_record(older).status().message(), HasSubstr(older.string() + " line 3"));
}

TEST_F(RunFilesTest, LastLineWithoutItsNewlineIsNotReadYet) {
  const std::filesystem::path run = dir_ / "8.1.jsonl";
  ASSERT_TRUE(start_run_record(run, {1234, 1}).ok());
  std::ofstream(run, std::ios::app) << R"({"outcome": {"outcome": "exited", "exit_co)";
  Result<RunRecord> record = read_run_record(run);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_TRUE(record->supervisor.has_value());
  EXPECT_FALSE(record->outcome.has_value());
}

TEST_F(RunFilesTest, BadRecordsGiveErrorsThatNameTheFileAndLine) {
  const std::filesystem::path run = dir_ / "9.1.jsonl";
  EXPECT_EQ(read_run_record(run).status().code(), ErrorCode::kNotFound);
  std::ofstream(run) << R"({"supervisor": {"pid": 1, "start_time_ticks": 2}})"
                     << "\n"
                     << R"({"outcome": {"outcome": "exploded", "started_us": 0}})"
                     << "\n";
  Status status = read_run_record(run).status();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(run.string() + " line 2"));
  EXPECT_THAT(status.message(), HasSubstr("'exploded'"));

  std::ofstream(run) << "not json\n";
  EXPECT_THAT(read_run_record(run).status().message(), HasSubstr("line 1 is not JSON"));
  std::ofstream(run) << R"({"job": {"pid": "twelve"}})"
                     << "\n";
  EXPECT_EQ(read_run_record(run).status().code(), ErrorCode::kInvalidArgument);
  std::ofstream(run) << R"({"pids": {}})"
                     << "\n";
  EXPECT_THAT(read_run_record(run).status().message(), HasSubstr("unknown key 'pids'"));
}

TEST_F(RunFilesTest, RunFolderOfAnEarlierVersionIsRead) {
  std::ofstream(dir_ / "supervisor.pid") << R"({"pid": 1234, "start_time_ticks": 77})";
  std::ofstream(dir_ / "job.pid") << R"({"pid": 1235, "started_us": 5})";
  Result<RunRecord> record = read_run_record(dir_);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_EQ(record->supervisor->start_time_ticks, 77u);
  EXPECT_EQ(record->job->pid, 1235);
  EXPECT_FALSE(record->outcome.has_value());
  std::ofstream(dir_ / "outcome.json") << R"({"outcome": "exploded", "started_us": 0})";
  Status status = read_run_record(dir_).status();
  EXPECT_THAT(status.message(), HasSubstr("outcome.json"));
  EXPECT_THAT(status.message(), HasSubstr("'exploded'"));
}

TEST_F(RunFilesTest, WriteIntoAMissingFolderIsAnIoErrorNamingIt) {
  Status status = start_run_record(dir_ / "missing" / "1.1.jsonl", {1, 1});
  EXPECT_EQ(status.code(), ErrorCode::kIoError);
  EXPECT_THAT(status.message(), HasSubstr("missing"));
}

}  // namespace
}  // namespace fastgpu::exec
