// `fastgpu resubmit`: a job again as it was submitted, each flag given in place of its field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "engine/job_file_test_util.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine {
namespace {

using store::JobSpec;
using testing::alice;
using ::testing::ElementsAre;
using testing::error_of;
using ::testing::HasSubstr;
using testing::submit_time;

constexpr Bytes kGiB = Bytes{1} << 30;

// A job as the store gives it back: submitted by alice from another folder, a day before.
JobSpec earlier_job() {
  JobSpec job;
  job.name = "train";
  job.argv = {"python3", "train.py", "--lr", "0.1"};
  job.working_dir = "/home/alice/exp";
  job.environment = std::vector<std::string>{"HOME=/home/alice", "PATH=/opt/py/bin:/usr/bin",
                                             "WANDB_MODE=offline"};
  job.gpus = 2;
  job.gpu_mem = 20 * kGiB;
  job.util_share = 0.5;
  job.priority = 3;
  job.time_limit_s = 3600;
  job.deadline = submit_time() + std::chrono::hours(1);
  job.dependencies = {store::Dependency{JobId(7), store::DependencyKind::kAfterOk, std::nullopt}};
  job.array = store::ArrayMember{40, 3, 4};
  job.restartable = true;
  job.held_by = 1000;
  job.umask = 027;
  job.kill_grace_s = 120;
  job.limits = {ResourceLimit{"nofile", 1024, 4096}};
  job.uid = 1000;
  job.user = "alice";
  job.signature = "train";
  job.submit_time = submit_time() - std::chrono::hours(24);
  job.resubmitted_from = JobId(5);  // itself a run of job 5 again
  return job;
}

// `fastgpu resubmit ID FLAGS...` of `job`, as the CLI parses the flags.
Result<JobSpec> resubmit(const JobSpec& job, const std::vector<std::string>& flags) {
  CLI::App app("resubmit");
  SubmitOptions options;
  add_resubmit_flags(app, options);
  std::vector<std::string> reversed(flags.rbegin(), flags.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    return invalid_argument(std::string("flags: ") + error.what());
  }
  return resubmitted_spec(JobId(12), job, options, alice());
}

TEST(Resubmit, WithoutFlagsTheJobIsAsSubmittedButNotHeldAndNewlySubmitted) {
  const JobSpec job = earlier_job();
  Result<JobSpec> again = resubmit(job, {});
  ASSERT_TRUE(again.ok()) << again.status().message();
  JobSpec expected = job;
  expected.held_by.reset();
  expected.submit_time = submit_time();
  expected.resubmitted_from = JobId(12);  // the job it runs again, not the one that one ran
  EXPECT_EQ(*again, expected);
  // The environment is the job's, not the resubmitting shell's.
  EXPECT_THAT(again->environment.entries(),
              ElementsAre("HOME=/home/alice", "PATH=/opt/py/bin:/usr/bin", "WANDB_MODE=offline"));
}

TEST(Resubmit, EachFlagReplacesItsFieldAlone) {
  const JobSpec job = earlier_job();
  Result<JobSpec> again =
      resubmit(job, {"--time", "4h", "--gpu-mem", "30G", "--priority", "9", "--grace", "5m",
                     "--gpus", "4", "--share", "1", "--restartable", "false"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->time_limit_s, 4 * 3600);
  EXPECT_EQ(again->gpu_mem, 30 * kGiB);
  EXPECT_EQ(again->priority, 9);
  EXPECT_EQ(again->kill_grace_s, 300);
  EXPECT_EQ(again->gpus, 4);
  EXPECT_EQ(again->util_share, 1.0);
  EXPECT_FALSE(again->restartable);
  // What no flag named is the job's.
  EXPECT_EQ(again->argv, job.argv);
  EXPECT_EQ(again->working_dir, job.working_dir);
  EXPECT_EQ(again->name, "train");
  EXPECT_EQ(again->signature, "train");
  EXPECT_EQ(again->deadline, job.deadline);
  EXPECT_EQ(again->dependencies, job.dependencies);
  EXPECT_EQ(again->array, job.array);
  EXPECT_EQ(again->umask, job.umask);
  EXPECT_EQ(again->limits, job.limits);
}

TEST(Resubmit, UnlimitedAutoAndNoneClearTheirFields) {
  Result<JobSpec> again =
      resubmit(earlier_job(), {"--time", "unlimited", "--gpu-mem", "auto", "--deadline", "none"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->time_limit_s, std::nullopt);
  EXPECT_EQ(again->gpu_mem, std::nullopt);
  EXPECT_EQ(again->deadline, std::nullopt);
}

TEST(Resubmit, EnvIsAddedToTheJobsEnvironmentAndWorkdirIsReadFromHere) {
  Result<JobSpec> again = resubmit(
      earlier_job(), {"--env", "WANDB_MODE=online", "--env", "SEED=2", "--workdir", "runs/b"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_THAT(
      again->environment.entries(),
      ElementsAre("HOME=/home/alice", "PATH=/opt/py/bin:/usr/bin", "WANDB_MODE=online", "SEED=2"));
  EXPECT_EQ(again->working_dir, "/home/alice/project/runs/b");  // alice() runs from /project
}

TEST(Resubmit, ANameIsAlsoTheNewHistorySignatureAndAfterReplacesTheDependencies) {
  Result<JobSpec> again =
      resubmit(earlier_job(), {"--name", "train-long", "--after", "afterany:12", "--hold"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->name, "train-long");
  EXPECT_EQ(again->signature, "train-long");
  EXPECT_EQ(again->dependencies, (std::vector<store::Dependency>{
                                     {JobId(12), store::DependencyKind::kAfterAny, std::nullopt}}));
  EXPECT_EQ(again->held_by, 1000u);
}

TEST(Resubmit, AShellCommandStaysOne) {
  JobSpec job = earlier_job();
  job.argv.clear();
  job.shell_command = "python3 train.py | tee out.txt";
  Result<JobSpec> again = resubmit(job, {"--time", "2h"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->argv.empty());
  EXPECT_EQ(again->shell_command, job.shell_command);
}

TEST(Resubmit, GpusZeroLeavesTheGpuFieldsBehindAndACpuJobRefusesThemAlone) {
  Result<JobSpec> cpu = resubmit(earlier_job(), {"--gpus", "0"});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  EXPECT_EQ(cpu->gpus, 0);
  EXPECT_EQ(cpu->gpu_mem, std::nullopt);
  EXPECT_EQ(cpu->util_share, 1.0);

  JobSpec cpu_job = earlier_job();
  cpu_job.gpus = 0;
  cpu_job.gpu_mem.reset();
  cpu_job.util_share = 1.0;
  EXPECT_THAT(error_of(resubmit(cpu_job, {"--gpu-mem", "8G"})),
              HasSubstr("--gpu-mem '8G' is given but the job is a CPU-only one (gpus 0); add "
                        "--gpus 1"));
  EXPECT_THAT(error_of(resubmit(cpu_job, {"--share", "0.5"})),
              HasSubstr("--share '0.5' is given but the job is a CPU-only one"));
  Result<JobSpec> given = resubmit(cpu_job, {"--gpus", "1", "--gpu-mem", "8G"});
  ASSERT_TRUE(given.ok()) << given.status().message();
  EXPECT_EQ(given->gpus, 1);
  EXPECT_EQ(given->gpu_mem, 8 * kGiB);
}

TEST(Resubmit, BadFlagsAreToldAsSubmitTellsThemAndArrayIsNotAFlag) {
  EXPECT_THAT(error_of(resubmit(earlier_job(), {"--time", "4x"})), HasSubstr("time '4x'"));
  EXPECT_THAT(error_of(resubmit(earlier_job(), {"--gpu-mem", "0"})), HasSubstr("gpu-mem '0'"));
  EXPECT_THAT(error_of(resubmit(earlier_job(), {"--after", "prep"})),
              HasSubstr("'prep' is not a job id"));
  EXPECT_THAT(error_of(resubmit(earlier_job(), {"--array", "0-3"})), HasSubstr("--array"));
}

}  // namespace
}  // namespace fastgpu::engine
