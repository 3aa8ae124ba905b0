// Runs the built `fastgpu simulate` as a user would: on the Tiresias sample when the shared
// traces are next to the repository, and on small files written here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using RunResult = fastgpu::test_support::CliRun;
using fastgpu::test_support::run_cli;

std::filesystem::path tiresias_dir() {
  return std::filesystem::path(FASTGPU_SOURCE_DIR) / ".." / "shared" / "traces" / "tiresias-sample";
}

// In a folder of the test's own in the temp folder: ctest runs the tests of this file at
// once, and one test truncating a file another read made the reader fail now and then.
std::string write_file(const std::string& name, const std::string& content) {
  const std::filesystem::path folder =
      std::filesystem::path(::testing::TempDir()) /
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::create_directories(folder);
  const std::filesystem::path path = folder / name;
  std::ofstream(path) << content;
  return path.string();
}

// Three 2-GPU jobs (A t=0 10 s, B t=1 8 s, C t=2 2 s) in the generic CSV format.
std::string three_jobs_csv() {
  return write_file("simulate_three_jobs.csv",
                    "id,submit,duration,gpus\nA,0,10,2\nB,1,8,2\nC,2,2,2\n");
}

TEST(SimulateCommand, TiresiasSampleFifoAndSjfAsJson) {
  const auto dir = tiresias_dir();
  if (!std::filesystem::exists(dir / "60_job.csv")) GTEST_SKIP() << "no " << dir;
  // 64 GPUs as in Tiresias's cluster_spec.csv, but 8 to a node: its 8-GPU jobs span two
  // 4-GPU nodes there, and FastGPU runs a job within one node (it would reject them).
  const RunResult run = run_cli("simulate --trace 'tiresias:" + (dir / "60_job.csv").string() +
                                    "' --cluster spec:8x8 --policy fifo,sjf --json",
                                false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json json = nlohmann::json::parse(run.output);
  EXPECT_EQ(json["trace_jobs"], 60);
  ASSERT_EQ(json["runs"].size(), 2u);
  EXPECT_EQ(json["runs"][0]["policy"], "fifo");
  EXPECT_EQ(json["runs"][1]["policy"], "sjf");
  for (const auto& run_json : json["runs"]) {
    EXPECT_EQ(run_json["jobs"], 60);
    EXPECT_EQ(run_json["completed"], 60);
    EXPECT_EQ(run_json["rejected"], 0);
    EXPECT_EQ(run_json["unfinished"], 0);
    EXPECT_EQ(run_json["gpus"], 64);
    EXPECT_GT(run_json["avg_jct_s"].get<double>(), 0);
    EXPECT_GE(run_json["p99_jct_s"].get<double>(), run_json["median_jct_s"].get<double>());
    const double utilization = run_json["gpu_utilization"].get<double>();
    EXPECT_GT(utilization, 0);
    EXPECT_LE(utilization, 1.0 + 1e-9);
    EXPECT_EQ(run_json["usage_over_time"].size(), 50u);
    EXPECT_TRUE(run_json["deadline_miss_rate"].is_null());
  }
}

TEST(SimulateCommand, TableShowsEachPolicyWithHandCheckedJct) {
  const RunResult run = run_cli("simulate --trace 'generic:" + three_jobs_csv() +
                                    "' --cluster spec:1x2 --policy fifo,sjf-oracle --json",
                                false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json json = nlohmann::json::parse(run.output);
  ASSERT_EQ(json["runs"].size(), 2u);
  // FIFO: JCTs 10, 17, 18; SJF with the oracle runs C before B: 10, 19, 10.
  EXPECT_DOUBLE_EQ(json["runs"][0]["avg_jct_s"].get<double>(), 15);
  EXPECT_DOUBLE_EQ(json["runs"][1]["avg_jct_s"].get<double>(), 13);

  const RunResult table = run_cli("simulate --trace 'generic:" + three_jobs_csv() +
                                      "' --cluster spec:1x2 --policy fifo,sjf-oracle",
                                  false);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("avg JCT"));
  EXPECT_THAT(table.output, HasSubstr("sjf-oracle"));
}

// --config replays with a daemon's settings file: its policy when --policy is not given
// (srtf runs C before B, as sjf-oracle does above: 13 s against fifo's 15 s); --policy on the
// command line wins over it; a bad file is refused naming its line.
TEST(SimulateCommand, ASettingsFileChoosesThePolicyUnlessTheCommandLineDoes) {
  const std::string trace = "'generic:" + three_jobs_csv() + "'";
  const std::string settings = write_file("simulate_settings.yaml", "policy: srtf\nbackfill: on\n");
  RunResult run = run_cli(
      "simulate --trace " + trace + " --cluster spec:1x2 --config " + settings + " --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json json = nlohmann::json::parse(run.output);
  ASSERT_EQ(json["runs"].size(), 1u);
  EXPECT_EQ(json["runs"][0]["policy"], "srtf");
  EXPECT_DOUBLE_EQ(json["runs"][0]["avg_jct_s"].get<double>(), 13);
  EXPECT_EQ(json["settings_file"], settings);
  EXPECT_EQ(json["backfill"], true);

  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --config " + settings +
                    " --policy fifo --json",
                false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json = nlohmann::json::parse(run.output);
  EXPECT_EQ(json["runs"][0]["policy"], "fifo");
  EXPECT_DOUBLE_EQ(json["runs"][0]["avg_jct_s"].get<double>(), 15);

  const std::string bad =
      write_file("simulate_bad_settings.yaml", "policy: srtf\nagin-per-hour: 2\n");
  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --config " + bad, true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("line 2: unknown setting 'agin-per-hour' (did you mean "
                                    "aging-per-hour?)"));
}

TEST(SimulateCommand, BadInputExitsWithTheDocumentedCodes) {
  const std::string trace = "'generic:" + three_jobs_csv() + "'";
  RunResult run =
      run_cli("simulate --trace " + trace + " --cluster spec:1x2 --policy nosuch", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("unknown policy 'nosuch'"));

  run = run_cli("simulate --trace 'nosuch:x.csv' --cluster spec:1x2", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("FORMAT:FILE"));

  run = run_cli("simulate --trace 'philly:/nonexistent/jobs.csv' --cluster spec:1x2", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("fastgpu simulate:"));

  // An unknown cluster kind is named, with the kinds; a spec string is usage even when it
  // reads but gives no GPU at all.
  run = run_cli("simulate --trace " + trace + " --cluster bogus:x", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("unknown cluster kind 'bogus'; write KIND:SPEC_OR_FILE with "
                                    "KIND one of philly-vc, openb, tiresias, spec"));
  run = run_cli("simulate --trace " + trace + " --cluster spec:1x0", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--cluster 'spec:1x0': the cluster has no GPU"));

  // Options a replay would ignore are refused, naming the option and when it applies.
  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --vc foo", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--vc 'foo' picks one cluster of several"));
  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --seeds 3", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output,
              HasSubstr("--seeds applies only to FGD's experiment; add --protocol fgd"));

  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --time-scale 0", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--time-scale"));
  // inf reads as a number, and is no more a time scale or a factor than 0 is.
  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --time-scale inf", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--time-scale inf: use a finite number above 0, e.g. 4"));
  run = run_cli("simulate --trace " + trace + " --cluster spec:1x2 --time-limit-factor inf", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--time-limit-factor inf: use 0 (none) or a finite factor"));
}

// A column the format does not read is named on stderr, with the column meant when it is a
// typo of one, and in the JSON; the replay ran without a word, as if the jobs declared no
// memory.
TEST(SimulateCommand, AnUnknownColumnIsToldWithTheNearestKnownOne) {
  const std::string trace =
      write_file("simulate_typo.csv", "id,submit,duration,gpus,gpu_memory\nA,0,10,1,100G\n");
  RunResult run = run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:1x2", true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("fastgpu simulate: generic:simulate_typo.csv: ignored unknown "
                                    "column 'gpu_memory' (did you mean gpu_mem?); its values "
                                    "were not read"));

  run = run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:1x2 --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json json = nlohmann::json::parse(run.output);
  EXPECT_EQ(json["trace_warnings"],
            nlohmann::json::array({"ignored unknown column 'gpu_memory' (did you mean gpu_mem?)"}));
}

// --strict ends the read at the first malformed row, and the error's other fix is to leave
// --strict out; it read "or read with malformed rows skipped", no flag of the command.
TEST(SimulateCommand, StrictNamesTheRowAndHowToSkipIt) {
  const std::string trace =
      write_file("simulate_strict.csv", "id,submit,duration,gpus\nA,0,10,1\nB,1,abc,1\n");
  RunResult run =
      run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:1x2 --strict", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("line 3: column 'duration': value 'abc'"));
  EXPECT_THAT(run.output, HasSubstr("; fix the row, or leave out --strict to skip malformed rows "
                                    "(they are counted and shown)\n"));
  run = run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:1x2", true);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr("2 rows read, 1 skipped (line 3: column 'duration'"));
}

// --help names every trace format and policy; it gave one example of each, and a user had
// to read docs/simulator.md to learn that generic (their own history) or edf existed.
TEST(SimulateCommand, HelpNamesEveryTraceFormatAndPolicy) {
  const RunResult run = run_cli("simulate --help", false);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr("FORMAT one of philly, openb, chronus, tiresias, generic"));
  EXPECT_THAT(run.output,
              HasSubstr("fifo, priority, sjf, srtf, edf, las, fair, sjf-oracle (default fifo)"));
}

// A policy whose key the trace does not give runs as fifo, and the table says so with the
// fix: its row repeated fifo's without a word. Given the key (limits), no note.
TEST(SimulateCommand, APolicyTheTraceGivesNothingToOrderBySaysSo) {
  const std::string trace = "'generic:" + three_jobs_csv() + "'";
  RunResult run = run_cli(
      "simulate --trace " + trace + " --cluster spec:1x2 --policy fifo,sjf,edf,fair", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("\nsjf: no job of the trace has a signature (for past runs) "
                                    "or a time limit, so it had nothing to order by and ran as "
                                    "fifo; add --time-limit-factor F, or compare with sjf-oracle"));
  EXPECT_THAT(run.output,
              HasSubstr("\nedf: no job of the trace has a deadline, so it ran as fifo"));
  EXPECT_THAT(run.output, HasSubstr("\nfair: the jobs of each cluster have one user"));

  run = run_cli(
      "simulate --trace " + trace + " --cluster spec:1x2 --policy sjf --time-limit-factor 1 --json",
      false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(nlohmann::json::parse(run.output)["policy_notes"], nlohmann::json::array());
}

TEST(SimulateCommand, JobTooLargeForTheClusterIsReportedAsRejected) {
  // C needs both nodes (a multi-node job takes whole nodes); B needs more than there are.
  const std::string trace = write_file("simulate_too_big.csv",
                                       "id,submit,duration,gpus\nA,0,10,1\nB,0,10,32\nC,0,10,16\n");
  const RunResult run =
      run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:2x8 --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json json = nlohmann::json::parse(run.output);
  EXPECT_EQ(json["runs"][0]["completed"], 2);
  EXPECT_EQ(json["runs"][0]["rejected"], 1);
  EXPECT_THAT(json["runs"][0]["rejected_reasons"][0]["reason"].get<std::string>(),
              HasSubstr("the cluster has 16"));
}

// The scheduler's checks name the job ("job 1 has time limit inf s; ..."): the table groups
// the jobs one reason rejected on one line without it, with the first ids. It printed one
// "1 jobs: job N ..." line per job. A duration of 1e308 s times 2 is an infinite limit.
TEST(SimulateCommand, JobsRejectedForOneReasonShareALine) {
  const std::string huge = "1" + std::string(308, '0');
  const std::string trace =
      write_file("simulate_same_reason.csv", "id,submit,duration,gpus\nA,0,10,1\nB,1," + huge +
                                                 ",1\nC,2," + huge + ",1\nD,3," + huge +
                                                 ",1\nE,4," + huge + ",1\nF,5,10,32\n");
  const std::string base =
      "simulate --trace 'generic:" + trace + "' --cluster spec:1x2 --time-limit-factor 2";
  RunResult run = run_cli(base, false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("  4 jobs (B, C, D, ...): has time limit inf s; give a "
                                    "positive, finite duration, or none for no limit\n"));
  EXPECT_THAT(run.output, HasSubstr("  1 job (F): needs 32 GPUs"));
  EXPECT_THAT(run.output, Not(HasSubstr("job 1 has")));

  run = run_cli(base + " --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json reasons = nlohmann::json::parse(run.output)["runs"][0]["rejected_reasons"];
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0]["reason"],
            "has time limit inf s; give a positive, finite duration, or none for no limit");
  EXPECT_EQ(reasons[0]["jobs"], 4);
  EXPECT_EQ(reasons[0]["first_ids"], nlohmann::json({"B", "C", "D"}));
}

// A trace without durations (as openb's) rejects every job: the table says why, with the
// count, and points at --protocol fgd; the figures over completed jobs are n/a (null in the
// JSON), not 0. So is every figure of a trace with no job at all.
TEST(SimulateCommand, NoCompletedJobShowsWhyAndNotAvailableFigures) {
  const std::string trace =
      write_file("simulate_no_duration.csv", "id,submit,duration,gpus\nA,0,,1\nB,5,,1\n");
  RunResult run = run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:1x2", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Rejected, never run (fifo on "));
  EXPECT_THAT(run.output, HasSubstr("  2 jobs (A, B): the trace gives no duration\n"));
  EXPECT_THAT(run.output, HasSubstr("add --protocol fgd"));
  const std::size_t row = run.output.find("\n1x2 ");
  ASSERT_NE(row, std::string::npos) << run.output;
  const std::string fifo_row = run.output.substr(row + 1, run.output.find('\n', row + 1) - row);
  EXPECT_THAT(fifo_row, HasSubstr("n/a"));
  EXPECT_THAT(fifo_row, Not(HasSubstr("0.0")));

  run = run_cli("simulate --trace 'generic:" + trace + "' --cluster spec:1x2 --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json json = nlohmann::json::parse(run.output);
  for (const char* figure :
       {"avg_jct_s", "median_jct_s", "p99_jct_s", "avg_queueing_delay_s", "makespan_s",
        "gpu_utilization", "gpu_allocation_ratio", "peak_allocation_ratio"}) {
    EXPECT_TRUE(json["runs"][0][figure].is_null()) << figure;
  }

  const std::string empty = write_file("simulate_header_only.csv", "id,submit,duration,gpus\n");
  run = run_cli("simulate --trace 'generic:" + empty + "' --cluster spec:1x2 --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json = nlohmann::json::parse(run.output);
  EXPECT_TRUE(json["runs"][0]["avg_jct_s"].is_null());
  EXPECT_TRUE(json["runs"][0]["gpu_utilization"].is_null());
}

}  // namespace
}  // namespace fastgpu::cli
