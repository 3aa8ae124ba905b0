// `fastgpu slurm FILE.yaml` against a real single-node Slurm cluster (Debian's slurmctld
// and slurmd, 4 stand-in GPUs as GRES), as scripts/test.sh starts it with
// ../shared/slurm/local-slurm.sh. Without SLURM_CONF the tests are skipped, unless
// FASTGPU_TEST_SLURM=required (set by scripts/test.sh once the cluster is up): then they fail.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_run.h"
#include "fastgpu/core/text.h"
#include "fastgpu/exec/program_run.h"

namespace fastgpu {
namespace {

using test_support::CliRun;
using test_support::run_cli;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

namespace fs = std::filesystem;

bool slurm_required() {
  const char* required = std::getenv("FASTGPU_TEST_SLURM");
  return required != nullptr && std::string(required) == "required";
}

// Empty when the cluster answers; else why not.
std::string cluster_problem() {
  if (std::getenv("SLURM_CONF") == nullptr) return "SLURM_CONF is not set";
  Result<exec::ProgramOutput> info = exec::run_program({"sinfo", "-h", "-o", "%T"}, "");
  if (!info.ok()) return info.status().message();
  if (info->exit_code != 0) return "sinfo failed: " + info->err;
  return "";
}

// Where the real sbatch is, for a wrapper of it.
std::string sbatch_path() {
  Result<exec::ProgramOutput> found = exec::run_program({"sh", "-c", "command -v sbatch"}, "");
  return found.ok() ? std::string(trim(found->out)) : "sbatch";
}

class SlurmE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string problem = cluster_problem();
    if (!problem.empty()) {
      if (slurm_required()) FAIL() << "no Slurm cluster to test against: " << problem;
      GTEST_SKIP() << "no Slurm cluster (" << problem
                   << "); scripts/test.sh starts one with ../shared/slurm/local-slurm.sh";
    }
    folder_ = fs::temp_directory_path() /
              ("fastgpu-slurm-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override {
    if (!folder_.empty()) fs::remove_all(folder_);
  }

  std::string write_file(const std::string& name, const std::string& text) const {
    std::ofstream(folder_ / name) << text;
    return (folder_ / name).string();
  }
  std::string read(const std::string& name) const {
    std::ifstream file(folder_ / name);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
  }
  CliRun slurm(const std::string& args) const {
    return run_cli("slurm " + args, /*with_stderr=*/true);
  }

  // Waits until none of `ids` is pending or running any more.
  static bool wait_gone(const std::vector<std::string>& ids) {
    std::string list;
    for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < give_up) {
      Result<exec::ProgramOutput> queue =
          exec::run_program({"squeue", "-h", "-j", list, "-o", "%i %T"}, "");
      if (queue.ok() && queue->exit_code == 0 && trim(queue->out).empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }

  fs::path folder_;
};

// The same job file as `fastgpu run` takes: a GPU job, an array that waits for it, and a
// last job that waits for the whole array. Each runs where Slurm put it, with FastGPU's
// job environment, in the order the file asks.
TEST_F(SlurmE2E, AJobFileRunsOnTheClusterInItsOrderWithTheJobEnvironment) {
  const std::string file = write_file("jobs.yaml", R"(
defaults:
  workdir: .
  env: {GREETING: "hello from the file"}
jobs:
  - name: prep
    gpus: 2
    gpu-mem: 1G
    time: 2m
    command: ["sh", "-c", "sleep 1; echo \"$CUDA_VISIBLE_DEVICES|$FASTGPU_JOB_ID|$SLURM_JOB_ID|$FASTGPU_GPU_MEM_QUOTA|$GREETING\" > prep.txt"]
  - name: sweep
    gpus: 1
    array: 0-2
    after: prep
    command: "test -f prep.txt && echo $FASTGPU_ARRAY_INDEX > sweep-$FASTGPU_ARRAY_INDEX.txt"
  - name: gather
    gpus: 0
    after: sweep
    command: "cat sweep-*.txt | sort | tr '\n' ' ' > gather.txt; umask > umask.txt"
)");
  const CliRun ran = slurm("--json '" + file + "'");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const nlohmann::json out = nlohmann::json::parse(ran.output);
  ASSERT_EQ(out["jobs"].size(), 3u);
  std::vector<std::string> ids;
  for (const nlohmann::json& job : out["jobs"]) ids.push_back(job["slurm_id"].get<std::string>());
  EXPECT_EQ(out["jobs"][1]["dependency"], "afterok:" + ids[0]);
  EXPECT_EQ(out["jobs"][2]["dependency"], "afterok:" + ids[1]);
  ASSERT_TRUE(wait_gone(ids)) << "the jobs did not end within 90 s";

  const std::string prep = read("prep.txt");
  EXPECT_EQ(prep, "0,1|" + ids[0] + "|" + ids[0] + "|1073741824|hello from the file\n");
  for (int index = 0; index < 3; ++index) {
    EXPECT_EQ(read("sweep-" + std::to_string(index) + ".txt"), std::to_string(index) + "\n");
  }
  EXPECT_EQ(read("gather.txt"), "0 1 2 ");
  // The umask of the shell that submitted (Slurm's SLURM_UMASK), as `fastgpu run` keeps it.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(read("umask.txt"), fmt::format("{:04o}\n", mask));
  // Each job's log where the table said, named by the job's name and Slurm id.
  EXPECT_TRUE(fs::exists(folder_ / ("prep-" + ids[0] + ".out")));
  EXPECT_TRUE(fs::exists(folder_ / ("sweep-" + ids[1] + "_2.out")));
}

// A script with #FASTGPU lines goes to the cluster as `fastgpu submit ./train.sh` queues it
// here: its flags become the job's, and its own #SBATCH options that FastGPU does not read
// (a partition, memory, a comment) reach Slurm; its --chdir is the job's folder and its
// --output names the log. The script needs no x bit, as for sbatch: its #! line runs it.
TEST_F(SlurmE2E, AScriptsFastgpuLinesAreItsJobOnTheClusterAndItsOtherSbatchOptionsReachSlurm) {
  fs::create_directories(folder_ / "logs");
  const std::string script = write_file("train.sh", R"(#!/bin/sh
#FASTGPU --name scripted --gpus 2 --time 5m
#FASTGPU --env 'GREETING=hello from the script' --array 0-1
#SBATCH --partition=debug --mem 64M
#SBATCH --comment "kept by fastgpu" -o logs/%x-%A_%a.txt
#SBATCH --chdir=)" + folder_.string() + R"(
echo "$CUDA_VISIBLE_DEVICES|$FASTGPU_ARRAY_INDEX|$GREETING" > "out-$FASTGPU_ARRAY_INDEX.txt"
)");
  const CliRun ran = slurm("--wait --json '" + script + "'");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const nlohmann::json out = nlohmann::json::parse(ran.output);
  ASSERT_EQ(out["jobs"].size(), 1u);
  const std::string id = out["jobs"][0]["slurm_id"];
  EXPECT_EQ(out["jobs"][0]["name"], "scripted");
  EXPECT_EQ(out["jobs"][0]["array"], "0-1");
  EXPECT_EQ(out["ended"].size(), 2u) << out.dump();
  // Two GPUs each, which Slurm picks.
  EXPECT_THAT(read("out-0.txt"), MatchesRegex("[0-3],[0-3]\\|0\\|hello from the script\n"));
  EXPECT_THAT(read("out-1.txt"), MatchesRegex("[0-3],[0-3]\\|1\\|hello from the script\n"));
  EXPECT_TRUE(fs::exists(folder_ / "logs" / ("scripted-" + id + "_1.txt")));
  // What Slurm kept of the script's own options.
  Result<exec::ProgramOutput> shown = exec::run_program({"scontrol", "show", "job", id + "_0"}, "");
  ASSERT_TRUE(shown.ok());
  EXPECT_THAT(shown->out, AllOf(HasSubstr("Partition=debug"), HasSubstr("MinMemoryNode=64M"),
                                HasSubstr("Comment=kept by fastgpu")))
      << shown->out;

  // A bad line is refused at its place, and nothing goes to the cluster.
  const std::string bad = write_file("bad.sh", "#!/bin/sh\n#FASTGPU --gpus two\ntrue\n");
  const CliRun refused = slurm("'" + bad + "'");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("bad.sh:2: #FASTGPU --gpus two: gpus 'two'"));
}

// A file is taken whole or not at all: a job the cluster cannot hold is refused at its
// place in the file, and the job before it is not submitted. (Slurm takes a held job
// without checking it: submitted held, this one would have waited for ever.)
TEST_F(SlurmE2E, AJobTheClusterRefusesCancelsTheJobsBeforeItAndNamesItsPlace) {
  const std::string name = "fastgpu-e2e-" + std::to_string(::getpid());
  const std::string file =
      write_file("jobs.yaml", "- {name: " + name +
                                  ", gpus: 0, workdir: ., command: [touch, ran.txt]}\n"
                                  "- {name: too-big, gpus: 9, command: [true]}\n");
  const CliRun ran = slurm("'" + file + "'");
  EXPECT_EQ(ran.exit_code, 1) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("jobs.yaml:2:3: job 2 'too-big': sbatch refused it: "));
  EXPECT_THAT(ran.output, HasSubstr("Requested node configuration is not available (exit 1); "
                                    "nothing was submitted"));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // past a scheduling tick
  Result<exec::ProgramOutput> queue =
      exec::run_program({"squeue", "-h", "-n", name, "-o", "%i"}, "");
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ(trim(queue->out), "");
  EXPECT_FALSE(fs::exists(folder_ / "ran.txt"));
}

// `hold: true` stays held on the cluster (Slurm's JobHeldUser) while the file's other jobs
// run; `scontrol release` starts it.
TEST_F(SlurmE2E, AJobTheFileHoldsStaysHeldUntilReleased) {
  const std::string file = write_file("jobs.yaml", R"(
defaults: {workdir: ., gpus: 0}
jobs:
  - {name: free, command: [touch, free.txt]}
  - {name: kept, hold: true, command: [touch, kept.txt]}
)");
  const CliRun ran = slurm("'" + file + "'");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const std::regex held_line(R"(kept\s+(\d+)\s+.*\(held: `scontrol release (\d+)`\))");
  std::smatch held;
  ASSERT_TRUE(std::regex_search(ran.output, held, held_line)) << ran.output;
  const std::string id = held[1];
  EXPECT_EQ(held[2], id);
  const std::regex free_line(R"(free\s+(\d+)\s)");
  std::smatch free;
  ASSERT_TRUE(std::regex_search(ran.output, free, free_line)) << ran.output;
  ASSERT_TRUE(wait_gone({free[1]})) << "the free job did not end within 90 s";
  EXPECT_TRUE(fs::exists(folder_ / "free.txt"));

  Result<exec::ProgramOutput> reason =
      exec::run_program({"squeue", "-h", "-j", id, "-o", "%r"}, "");
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(trim(reason->out), "JobHeldUser");
  EXPECT_FALSE(fs::exists(folder_ / "kept.txt"));
  Result<exec::ProgramOutput> release = exec::run_program({"scontrol", "release", id}, "");
  ASSERT_TRUE(release.ok());
  ASSERT_EQ(release->exit_code, 0) << release->err;
  ASSERT_TRUE(wait_gone({id})) << "the released job did not end within 90 s";
  EXPECT_TRUE(fs::exists(folder_ / "kept.txt"));
}

// --wait reports how each job ended, as `fastgpu run` reports a batch, and exits 1 when
// one did not complete; a job whose dependency failed is named with what to do about it
// (Slurm keeps it pending for ever).
TEST_F(SlurmE2E, WaitReportsHowEachJobEndedAndFailsWhenOneDidNot) {
  const std::string file = write_file("jobs.yaml", R"(
defaults: {workdir: ., gpus: 0}
jobs:
  - {name: fine, command: [true]}
  - {name: broken, command: [sh, -c, 'exit 3']}
  - {name: after-broken, after: broken, command: [touch, never.txt]}
  - {name: members, array: 0-1, command: [sh, -c, 'exit $FASTGPU_ARRAY_INDEX']}
)");
  const CliRun ran = slurm("--wait --json '" + file + "'");
  EXPECT_EQ(ran.exit_code, 1) << ran.output;
  const nlohmann::json out = nlohmann::json::parse(ran.output);
  std::vector<std::string> ids;
  for (const nlohmann::json& job : out["jobs"]) ids.push_back(job["slurm_id"].get<std::string>());
  ASSERT_EQ(ids.size(), 4u);
  const nlohmann::json& ended = out["ended"];
  ASSERT_EQ(ended.size(), 5u) << ended.dump();
  const auto expect = [&](std::size_t row, const std::string& id, const std::string& state,
                          const std::string& exit_code) {
    EXPECT_EQ(ended[row]["slurm_id"], id) << ended.dump();
    EXPECT_EQ(ended[row]["state"], state) << ended.dump();
    if (!exit_code.empty()) {
      EXPECT_EQ(ended[row]["exit_code"], exit_code) << ended.dump();
    }
  };
  expect(0, ids[0], "COMPLETED", "0:0");
  expect(1, ids[1], "FAILED", "3:0");
  expect(2, ids[2], "PENDING", "");
  EXPECT_EQ(ended[2]["reason"], "DependencyNeverSatisfied");
  expect(3, ids[3] + "_0", "COMPLETED", "0:0");
  expect(4, ids[3] + "_1", "FAILED", "1:0");

  const CliRun text = slurm("--wait '" + file + "'");
  EXPECT_EQ(text.exit_code, 1) << text.output;
  EXPECT_THAT(text.output, HasSubstr("3 of 5 jobs did not complete: "));
  EXPECT_THAT(text.output, HasSubstr("so Slurm will never run "));
  Result<exec::ProgramOutput> cleaned =
      exec::run_program({"scancel", "-n", "after-broken"}, "");  // the two that would wait for ever
  EXPECT_TRUE(cleaned.ok());
  EXPECT_FALSE(fs::exists(folder_ / "never.txt"));
}

// At a job's time limit FastGPU sends SIGTERM to the job's whole process group; Slurm's
// early signal reaches the batch shell alone, which passes it on: here the command's shell
// and the worker it started both get it, and the job ends as its command did.
// `scancel --batch --signal=USR1` sends what --signal=B:USR1 sends at the limit, now.
TEST_F(SlurmE2E, AtTheTimeLimitEveryProcessOfTheJobGetsSigterm) {
  const std::string file = write_file("jobs.yaml", R"(
defaults: {workdir: ., gpus: 0, time: 10m, grace: 1m}
jobs:
  - name: ckpt
    command: |
      sh -c 'trap "echo worker >> term.txt; exit 0" TERM; while :; do sleep 1; done' &
      trap 'echo main >> term.txt; wait; exit 0' TERM
      echo ready > ready.txt
      wait
)");
  const CliRun ran = slurm("--json '" + file + "'");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const std::string id =
      nlohmann::json::parse(ran.output)["jobs"][0]["slurm_id"].get<std::string>();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(folder_ / "ready.txt") && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(fs::exists(folder_ / "ready.txt")) << "the job did not start within 60 s";
  Result<exec::ProgramOutput> signalled =
      exec::run_program({"scancel", "--batch", "--signal=USR1", id}, "");
  ASSERT_TRUE(signalled.ok() && signalled->exit_code == 0)
      << (signalled.ok() ? signalled->err : signalled.status().message());
  ASSERT_TRUE(wait_gone({id})) << "the job did not end within 90 s";
  std::vector<std::string> got;
  std::istringstream lines(read("term.txt"));
  for (std::string line; std::getline(lines, line);) got.push_back(line);
  std::sort(got.begin(), got.end());
  EXPECT_THAT(got, ::testing::ElementsAre("main", "worker"));
  Result<exec::ProgramOutput> shown = exec::run_program({"scontrol", "show", "job", "-o", id}, "");
  ASSERT_TRUE(shown.ok());
  EXPECT_THAT(shown->out, AllOf(HasSubstr(" JobState=COMPLETED "), HasSubstr(" ExitCode=0:0 ")))
      << "its log: " << read("ckpt-" + id + ".out") << "term.txt: " << read("term.txt");

  // A command killed by a signal reads as such, as when the shell became the command.
  const std::string killed =
      write_file("killed.yaml",
                 "- {name: killed, workdir: ., gpus: 0, time: 10m, grace: 1m, command: "
                 "[sh, -c, 'kill -9 $$']}\n");
  const CliRun waited = slurm("--wait --json '" + killed + "'");
  EXPECT_EQ(waited.exit_code, 1) << waited.output;
  const nlohmann::json ended = nlohmann::json::parse(waited.output)["ended"];
  ASSERT_EQ(ended.size(), 1u) << waited.output;
  EXPECT_EQ(ended[0]["state"], "FAILED") << ended.dump();
  EXPECT_EQ(ended[0]["exit_code"], "0:9") << ended.dump();

  // The command reads the script's standard input (sbatch's --input), not a background
  // command's /dev/null.
  write_file("in.txt", "from sbatch --input\n");
  const std::string reader =
      write_file("reader.yaml",
                 "- {name: reader, workdir: ., gpus: 0, time: 10m, grace: 1m, command: "
                 "'cat > got.txt'}\n");
  const CliRun read_input =
      slurm("--wait '" + reader + "' -- '--input=" + (folder_ / "in.txt").string() + "'");
  EXPECT_EQ(read_input.exit_code, 0) << read_input.output;
  EXPECT_EQ(read("got.txt"), "from sbatch --input\n");
}

// Ctrl-C while the jobs go in (held) cancels those taken: none is left held for ever. Each
// sbatch is slowed by a wrapper so that the interrupt comes in the middle.
TEST_F(SlurmE2E, AnInterruptWhileSubmittingCancelsTheJobsTaken) {
  const std::string slow =
      write_file("sbatch",
                 "#!/bin/sh\n"
                 "case \" $* \" in *\" --test-only \"*) ;; *) sleep 1 ;; esac\n"
                 "exec " +
                     sbatch_path() + " \"$@\"\n");
  fs::permissions(slow, fs::perms::owner_all);
  const std::string name = "fastgpu-int-" + std::to_string(::getpid());
  std::string jobs;
  for (int i = 0; i < 5; ++i) jobs += "- {name: " + name + ", gpus: 0, command: [true]}\n";
  const std::string file = write_file("jobs.yaml", jobs);
  const CliRun ran = test_support::run_cli_under(
      "PATH='" + folder_.string() + "':\"$PATH\" timeout -s INT 2.5", "slurm '" + file + "'", true);
  EXPECT_NE(ran.exit_code, 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("fastgpu slurm: interrupted; nothing was submitted"));
  Result<exec::ProgramOutput> queue =
      exec::run_program({"squeue", "-h", "-n", name, "-o", "%i %T"}, "");
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ(trim(queue->out), "");
}

// Without a cluster: --print shows each job's script and the dependency it would get.
TEST(SlurmCli, PrintShowsTheBatchScriptsAndSubmitsNothing) {
  const fs::path folder =
      fs::temp_directory_path() / ("fastgpu-slurm-print-" + std::to_string(::getpid()));
  fs::create_directories(folder);
  std::ofstream(folder / "jobs.yaml") << "- {name: a, command: [echo, hi], time: 5, gpu-mem: 1G}\n"
                                         "- {name: b, gpus: 0, after: a, command: 'echo b'}\n"
                                         "- {name: c, command: [x], gpu-mem: 2G}\n";
  const CliRun ran = test_support::run_cli_under(
      "PATH=/nonexistent",
      "slurm --print '" + (folder / "jobs.yaml").string() + "' -- --partition=gpu '--comment=a b'",
      true);
  fs::remove_all(folder);
  EXPECT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("jobs.yaml:1:3: job 1 'a' -> sbatch --hold --partition=gpu "
                                    "'--comment=a b' (nothing submitted)\n"
                                    "#!/bin/sh\n#SBATCH --job-name=a\n"));
  EXPECT_THAT(ran.output, HasSubstr("#SBATCH --time=0-00:05:00\n"));
  EXPECT_THAT(ran.output, HasSubstr("exec echo hi\n"));
  EXPECT_THAT(ran.output, HasSubstr("job 2 'b' -> sbatch --hold --dependency=afterok:<a> "
                                    "--partition=gpu '--comment=a b' (nothing submitted)\n"));
  EXPECT_THAT(ran.output, HasSubstr("exec /bin/sh -c 'echo b'\n"));
  // What Slurm keeps otherwise, once for every job it is about.
  EXPECT_THAT(ran.output, HasSubstr("\nnote (a, c): gpu-mem: Slurm gives whole GPUs and does not "
                                    "pack by memory; "));
}

// Without a cluster: a script is one job, named after it, its lines read; one without an x
// bit runs through its #! line's interpreter; one without a #! line is told so, not as bad
// YAML.
TEST(SlurmCli, AScriptIsOneJobRunByItsInterpreterWhenItHasNoXBit) {
  const fs::path folder =
      fs::temp_directory_path() / ("fastgpu-slurm-script-" + std::to_string(::getpid()));
  fs::create_directories(folder);
  const fs::path script = folder / "train.py";
  std::ofstream(script) << "#!/usr/bin/env python3\n#FASTGPU --time 5 --gpus 0\n"
                           "#SBATCH --mem=1G\nprint('hi')\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(folder / "bare.sh") << "#FASTGPU --gpus 1\necho hi\n";
  const CliRun ran = test_support::run_cli_under("PATH=/nonexistent",
                                                 "slurm --print '" + script.string() + "'", true);
  const CliRun bare = test_support::run_cli_under(
      "PATH=/nonexistent", "slurm --print '" + (folder / "bare.sh").string() + "'", true);
  fs::remove_all(folder);
  EXPECT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_THAT(ran.output, AllOf(HasSubstr("train.py -> sbatch --hold (nothing submitted)\n"),
                                HasSubstr("#SBATCH --job-name=train.py\n"),
                                HasSubstr("#SBATCH --time=0-00:05:00\n"),
                                HasSubstr("#SBATCH --no-requeue\n#SBATCH --mem=1G\n"),
                                HasSubstr("exec /usr/bin/env python3 " + script.string() + "\n")));
  EXPECT_EQ(bare.exit_code, 1) << bare.output;
  EXPECT_THAT(bare.output, HasSubstr("bare.sh' has #FASTGPU lines but no #! line"));
}

// Slurm fails a job whose folder or log folder is missing at its start, with no log at all:
// told before anything is submitted, at the job's place.
TEST(SlurmCli, AMissingFolderOrLogFolderIsToldBeforeSubmitting) {
  const fs::path folder =
      fs::temp_directory_path() / ("fastgpu-slurm-folders-" + std::to_string(::getpid()));
  fs::create_directories(folder);
  std::ofstream(folder / "jobs.yaml") << "- {name: a, command: [true]}\n"
                                         "- {name: b, workdir: no/such, command: [true]}\n";
  std::ofstream(folder / "one.yaml") << "{name: a, workdir: ., command: [true]}\n";
  const CliRun missing = test_support::run_cli_under(
      "PATH=/nonexistent", "slurm '" + (folder / "jobs.yaml").string() + "'", true);
  const CliRun no_logs = test_support::run_cli_under(
      "PATH=/nonexistent", "slurm --output 'logs/%j.out' '" + (folder / "one.yaml").string() + "'",
      true);
  fs::remove_all(folder);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("jobs.yaml:2:3: job 2 'b': working folder '" +
                                        (folder / "no/such").string() + "' does not exist"));
  EXPECT_EQ(no_logs.exit_code, 1);
  EXPECT_THAT(no_logs.output, HasSubstr("one.yaml:1:1: job 1 'a': the folder of its log, '" +
                                        (folder / "logs").string() + "', does not exist"));
}

// Where Slurm's commands are missing, the error says where to run it or what to install.
TEST(SlurmCli, WithoutSbatchTheErrorSaysWhatToInstall) {
  const fs::path folder =
      fs::temp_directory_path() / ("fastgpu-slurm-nosbatch-" + std::to_string(::getpid()));
  fs::create_directories(folder);
  std::ofstream(folder / "jobs.yaml") << "{name: a, command: [true]}\n";
  const CliRun ran = test_support::run_cli_under(
      "PATH=/nonexistent", "slurm '" + (folder / "jobs.yaml").string() + "'", true);
  fs::remove_all(folder);
  EXPECT_EQ(ran.exit_code, 1) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("cannot run 'sbatch'"));
  EXPECT_THAT(ran.output, HasSubstr("apt-get install slurm-client"));
}

}  // namespace
}  // namespace fastgpu
