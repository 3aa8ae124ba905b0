#include "fastgpu/exec/slurm_batch.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/job_file_test_util.h"

namespace fastgpu::exec {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<store::JobSpec> specs_of(const std::string& yaml) {
  Result<std::vector<store::JobSpec>> specs = engine::testing::from_yaml(yaml);
  EXPECT_TRUE(specs.ok()) << specs.status().message();
  return specs.ok() ? *specs : std::vector<store::JobSpec>{};
}

SlurmBatchOptions alices_options() { return {"", engine::testing::alice().environment}; }

std::vector<SlurmSubmission> submissions_of(const std::string& yaml,
                                            const SlurmBatchOptions& options = alices_options()) {
  Result<std::vector<SlurmSubmission>> submissions = slurm_submissions(specs_of(yaml), options);
  EXPECT_TRUE(submissions.ok()) << submissions.status().message();
  return submissions.ok() ? *submissions : std::vector<SlurmSubmission>{};
}

constexpr const char* kPipeline = R"(
jobs:
  - name: prep
    command: [python, prep.py, "--out", "data dir"]
    gpus: 1
    gpu-mem: 20G
    time: 90
  - name: sweep
    command: [python, sweep.py]
    array: 0-3%2
    after: prep
  - name: report
    command: "python report.py > report.txt"
    gpus: 0
    after: ['afterany:sweep', prep]
)";

// The file's three jobs (one an array of four) are three sbatch calls, each carrying what
// the job asked for as #SBATCH lines, in the job's folder.
TEST(SlurmSubmissions, AJobFileBecomesOneBatchScriptPerJobAndOnePerArray) {
  const std::vector<SlurmSubmission> submissions = submissions_of(kPipeline);
  ASSERT_EQ(submissions.size(), 3u);
  EXPECT_THAT(submissions[0].specs, ElementsAre(0u));
  EXPECT_THAT(submissions[1].specs, ElementsAre(1u, 2u, 3u, 4u));
  EXPECT_THAT(submissions[2].specs, ElementsAre(5u));
  EXPECT_EQ(submissions[0].array, "");
  EXPECT_EQ(submissions[1].array, "0-3%2");
  EXPECT_EQ(submissions[0].script,
            "#!/bin/sh\n"
            "#SBATCH --job-name=prep\n"
            "#SBATCH --chdir=/home/alice/project\n"
            "#SBATCH --output=/home/alice/project/%x-%j.out\n"
            "#SBATCH --gres=gpu:1\n"
            "#SBATCH --time=0-01:30:00\n"
            "#SBATCH --no-requeue\n"
            "\n"
            "# Written by `fastgpu slurm`: FastGPU's job environment, then the command.\n"
            "export CUDA_DEVICE_ORDER=PCI_BUS_ID\n"
            "export FASTGPU_JOB_ID=\"$SLURM_JOB_ID\"\n"
            "export FASTGPU_GPU_MEM_QUOTA=21474836480\n"
            "exec python prep.py --out 'data dir'\n");
  EXPECT_THAT(submissions[1].script,
              AllOf(HasSubstr("#SBATCH --array=0-3%2\n"), HasSubstr("#SBATCH --gres=gpu:1\n"),
                    HasSubstr("#SBATCH --output=/home/alice/project/%x-%A_%a.out\n"),
                    HasSubstr("export FASTGPU_ARRAY_INDEX=\"$SLURM_ARRAY_TASK_ID\"\n"),
                    Not(HasSubstr("--time")), Not(HasSubstr("FASTGPU_GPU_MEM_QUOTA"))));
  EXPECT_THAT(submissions[2].script,
              AllOf(Not(HasSubstr("--gres")),
                    HasSubstr("exec /bin/sh -c 'python report.py > report.txt'\n")));
}

// An array's indices as --array takes them, however the file wrote them.
TEST(SlurmSubmissions, AnArraysIndicesAreWrittenAsRanges) {
  EXPECT_EQ(submissions_of("{command: [x], array: '1,3,5-7'}")[0].array, "1,3,5-7");
  EXPECT_EQ(submissions_of("{command: [x], array: '0-6:2%1'}")[0].array, "0,2,4,6%1");
  EXPECT_EQ(submissions_of("{command: [x], array: '4'}")[0].array, "4");
}

// `after` names become --dependency on the Slurm ids the earlier jobs got; a name that
// stands for an array waits for the whole array (its one Slurm id).
TEST(SlurmSubmissions, AfterByNameBecomesADependencyOnTheEarlierJobsSlurmIds) {
  const std::vector<SlurmSubmission> submissions = submissions_of(kPipeline);
  ASSERT_EQ(submissions.size(), 3u);
  const std::vector<std::string> ids = {"41", "42", "43"};
  EXPECT_EQ(slurm_dependency(submissions[0], ids), "");
  EXPECT_EQ(slurm_dependency(submissions[1], ids), "afterok:41");
  EXPECT_EQ(slurm_dependency(submissions[2], ids), "afterok:41,afterany:42");
}

// A numeric target is a job that exists where the jobs go: on Slurm, a Slurm job id.
TEST(SlurmSubmissions, ANumericAfterIsAnExistingSlurmJob) {
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{name: b, command: [true], after: 'afterok:7:9'}");
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_EQ(slurm_dependency(submissions[0], {}), "afterok:7:9");
}

// sbatch hands the job the submitter's environment itself, so the script sets only what
// the file adds or changes, quoted for the shell.
TEST(SlurmSubmissions, TheScriptExportsOnlyTheVariablesTheFileSets) {
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{command: [env], env: {LANG: C, GREETING: \"it's a 'test' $HOME\"}}");
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_THAT(submissions[0].script,
              AllOf(HasSubstr("export LANG=C\n"),
                    HasSubstr("export GREETING='it'\\''s a '\\''test'\\'' $HOME'\n"),
                    Not(HasSubstr("HOME=/home/alice")), Not(HasSubstr("PATH="))));
  EXPECT_EQ(submissions[0].name, "env");  // an unnamed job: its program's name
  EXPECT_EQ(submissions_of("{command: 'python3 t.py | tee x'}")[0].name, "python3");
  EXPECT_EQ(submissions_of("{command: 'FOO=1 env'}")[0].name, "sh");
  EXPECT_EQ(submissions_of("{command: '(cd /tmp && ls)'}")[0].name, "sh");
}

// FastGPU's job gets SIGTERM at its time limit and SIGKILL `grace` later; on Slurm, the
// limit is the two together, in whole minutes, and SIGTERM comes that grace before it.
TEST(SlurmSubmissions, TimeAndGraceGiveSigtermAtTheLimitAndTheLimitInWholeMinutes) {
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{name: ckpt, command: [train], time: 10m, grace: 30s}");
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_THAT(submissions[0].script, AllOf(HasSubstr("#SBATCH --time=0-00:11:00\n"),
                                           HasSubstr("#SBATCH --signal=B:USR1@60\n")));
  EXPECT_THAT(submissions[0].notes,
              ElementsAre("time 10m and grace 30s make a limit of 10m30s, which Slurm counts in "
                          "whole minutes: 11m",
                          HasSubstr("grace: at the time limit the batch shell passes SIGTERM to "
                                    "every process of the job")));
  EXPECT_THAT(submissions_of("{command: [x], time: 90s}")[0].notes,
              ElementsAre("Slurm counts time limits in whole minutes: 1m30s becomes 2m",
                          HasSubstr("time without grace: at the limit, the cluster's KillWait")));

  const std::vector<SlurmSubmission> long_one =
      submissions_of("{command: [x], time: 1-02:03:00, restartable: true}");
  ASSERT_EQ(long_one.size(), 1u);
  EXPECT_THAT(long_one[0].script,
              AllOf(HasSubstr("#SBATCH --time=1-02:03:00\n"), HasSubstr("#SBATCH --requeue\n"),
                    Not(HasSubstr("--signal"))));
  EXPECT_THAT(long_one[0].notes, ElementsAre(HasSubstr("time without grace")));
}

// Slurm's early signal reaches the batch shell alone, where FastGPU signals the job's whole
// process group: a job with a grace runs as the shell's child, and the shell passes SIGTERM
// on (the end to end test runs it on a cluster). Without a grace the shell becomes the command.
TEST(SlurmSubmissions, AJobWithAGraceRunsUnderAShellThatPassesSigtermToTheWholeJob) {
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{name: ckpt, command: './train.sh | tee log', time: 1h, grace: 2m}");
  ASSERT_EQ(submissions.size(), 1u);
  const std::string& script = submissions[0].script;
  EXPECT_TRUE(script.starts_with("#!/bin/bash\n")) << script;
  EXPECT_THAT(script, HasSubstr("#SBATCH --signal=B:USR1@120\n"));
  EXPECT_THAT(script, HasSubstr("export CUDA_DEVICE_ORDER=PCI_BUS_ID\n"
                                "export FASTGPU_JOB_ID=\"$SLURM_JOB_ID\"\n"
                                "# At the time limit Slurm signals this shell alone"));
  EXPECT_THAT(script,
              HasSubstr("\ntrap '' TERM\n"
                        "trap 'stop=1; kill -TERM -- -$$ 2>/dev/null || kill -TERM \"$job\"' USR1\n"
                        "(trap - INT QUIT TERM; exec /bin/sh -c './train.sh | tee log') <&0 &\n"
                        "job=$!\n"));
  EXPECT_TRUE(script.ends_with("exit \"$status\"\n")) << script;
  EXPECT_THAT(script, Not(HasSubstr("\nexec ")));

  const std::string plain = submissions_of("{command: [train], time: 1h}")[0].script;
  EXPECT_TRUE(plain.starts_with("#!/bin/sh\n")) << plain;
  EXPECT_TRUE(plain.ends_with("\nexec train\n")) << plain;
  EXPECT_THAT(plain, Not(HasSubstr("trap")));
}

// Slurm lets a user lower a job's priority (--nice), not raise it: within the file, the
// highest priority gets none and each other job its distance below it.
TEST(SlurmSubmissions, PrioritiesBecomeNiceValuesBelowTheFilesHighest) {
  const std::vector<SlurmSubmission> submissions = submissions_of(
      "[{name: a, command: [x], priority: 5}, {name: b, command: [x]}, "
      "{name: c, command: [x], priority: -3}]");
  ASSERT_EQ(submissions.size(), 3u);
  EXPECT_THAT(submissions[0].script, Not(HasSubstr("--nice")));
  EXPECT_THAT(submissions[1].script, HasSubstr("#SBATCH --nice=5\n"));
  EXPECT_THAT(submissions[2].script, HasSubstr("#SBATCH --nice=8\n"));
}

// What Slurm's GRES cannot keep is said per job, not dropped in silence.
TEST(SlurmSubmissions, WhatSlurmDoesOtherwiseIsNotedPerJob) {
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{name: small, command: [x], gpu-mem: 8G, share: 0.5, deadline: now+6h}");
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_THAT(submissions[0].notes,
              ElementsAre(HasSubstr("gpu-mem: Slurm gives whole GPUs"),
                          "share: Slurm gives a job its GPUs whole, not shared",
                          HasSubstr("deadline: not passed to Slurm")));
}

TEST(SlurmSubmissions, OutputPatternAndFoldersWithSpacesAreQuoted) {
  SlurmBatchOptions options = alices_options();
  options.output = "logs/%x.%j.log";
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{name: a, command: [x], workdir: 'my runs'}", options);
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_EQ(submissions[0].output, "/home/alice/project/my runs/logs/%x.%j.log");
  EXPECT_THAT(
      submissions[0].script,
      AllOf(HasSubstr("#SBATCH --chdir=\"/home/alice/project/my runs\"\n"),
            HasSubstr("#SBATCH --output=\"/home/alice/project/my runs/logs/%x.%j.log\"\n")));
}

TEST(SlurmSubmissions, AFolderWithADoubleQuoteIsRefusedNamingTheJob) {
  Result<std::vector<SlurmSubmission>> submissions = slurm_submissions(
      specs_of("{name: a, command: [x], workdir: 'say \"hi\"'}"), alices_options());
  ASSERT_FALSE(submissions.ok());
  EXPECT_THAT(submissions.status().message(),
              AllOf(HasSubstr("job 'a': working folder '/home/alice/project/say \"hi\"'"),
                    HasSubstr("double quote"), HasSubstr("rename it")));
  // Which job, for its place in the file.
  ASSERT_TRUE(submissions.status().batch_job().has_value());
  EXPECT_EQ(submissions.status().batch_job()->index, 0u);
}

// FastGPU's own variables are FastGPU's, as here: a file's CUDA_VISIBLE_DEVICES would take
// GPUs Slurm gave another job. A CPU-only job sees no GPU.
TEST(SlurmSubmissions, TheFileCannotSetFastgpusVariablesAndACpuOnlyJobSeesNoGpu) {
  const std::vector<SlurmSubmission> submissions = submissions_of(
      "{gpus: 0, command: [x], env: {CUDA_VISIBLE_DEVICES: '3', FASTGPU_JOB_ID: bogus, A: b}}");
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_THAT(submissions[0].script,
              AllOf(HasSubstr("export A=b\nexport CUDA_VISIBLE_DEVICES=\n"),
                    Not(HasSubstr("CUDA_VISIBLE_DEVICES=3")), Not(HasSubstr("bogus"))));
}

// A script's own #SBATCH options that FastGPU does not read reach Slurm after FastGPU's
// lines, as written (a word with a blank quoted), in every job's batch script.
TEST(SlurmSubmissions, AScriptsOtherSbatchOptionsArePassedOnAfterFastgpusLines) {
  SlurmBatchOptions options = alices_options();
  options.passed_on = {{"-p", "gpu"}, {"--mem=32G"}, {"--comment", "from the script"}};
  const std::vector<SlurmSubmission> submissions =
      submissions_of("{name: a, command: [./train.sh], array: 0-1}", options);
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_THAT(submissions[0].script,
              HasSubstr("#SBATCH --no-requeue\n#SBATCH -p gpu\n#SBATCH --mem=32G\n"
                        "#SBATCH --comment \"from the script\"\n\n"));
  // The GPU type the script's #SBATCH --gres asked for stays in Slurm's GRES request.
  options.gpu_type = "a100";
  EXPECT_THAT(submissions_of("{name: a, command: [./train.sh], gpus: 2}", options)[0].script,
              HasSubstr("#SBATCH --gres=gpu:a100:2\n"));
  options.gpu_type = std::nullopt;
  options.passed_on = {{"--comment=say \"hi\""}};
  Result<std::vector<SlurmSubmission>> refused =
      slurm_submissions(specs_of("{name: a, command: [./train.sh]}"), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("job 'a': the script's #SBATCH option '--comment=say \"hi\"'"),
                    HasSubstr("double quote")));
}

TEST(SlurmSubmissions, ANameWithAQuoteIsQuotedOnItsLine) {
  EXPECT_THAT(submissions_of("{name: \"bob's\", command: [x]}")[0].script,
              HasSubstr("#SBATCH --job-name=\"bob's\"\n"));
}

// Slurm reads a '%' in the log's folder as a pattern; a '/' in a name, through %x, as a
// folder that does not exist (the job fails at launch with no log at all).
TEST(SlurmSubmissions, TheLogsPathKeepsTheFoldersPercentAndRefusesASlashInTheName) {
  EXPECT_EQ(submissions_of("{name: a, command: [x], workdir: '50%job'}")[0].output,
            "/home/alice/project/50%%job/%x-%j.out");
  Result<std::vector<SlurmSubmission>> slash =
      slurm_submissions(specs_of("{name: exp/lr0.1, command: [x]}"), alices_options());
  ASSERT_FALSE(slash.ok());
  EXPECT_THAT(slash.status().message(),
              HasSubstr("job 'exp/lr0.1': name 'exp/lr0.1' holds a '/', which Slurm's %x puts "
                        "into the log's path"));
  SlurmBatchOptions plain = alices_options();
  plain.output = "logs/%j.out";
  EXPECT_TRUE(slurm_submissions(specs_of("{name: exp/lr0.1, command: [x]}"), plain).ok());
}

// A pattern without the job's id gives several jobs one log, the last writing over the rest.
TEST(SlurmSubmissions, AnOutputPatternSeveralJobsWouldShareIsRefused) {
  SlurmBatchOptions options = alices_options();
  options.output = "run.log";
  const std::vector<store::JobSpec> two = specs_of("[{command: [x]}, {command: [y]}]");
  Result<std::vector<SlurmSubmission>> shared = slurm_submissions(two, options);
  ASSERT_FALSE(shared.ok());
  EXPECT_THAT(shared.status().message(),
              HasSubstr("--output 'run.log' gives several jobs one log, each writing over the "
                        "last; put the job's id in it (%j, e.g. run-%j.out)"));
  const std::vector<store::JobSpec> array = specs_of("{command: [x], array: 0-1}");
  options.output = "run-%A.log";
  EXPECT_FALSE(slurm_submissions(array, options).ok());
  options.output = "run-%A_%a.log";
  EXPECT_TRUE(slurm_submissions(array, options).ok());
  options.output = "run-%j.log";
  EXPECT_TRUE(slurm_submissions(two, options).ok());
  options.output = "one.log";
  EXPECT_TRUE(slurm_submissions(specs_of("{command: [x]}"), options).ok());
}

TEST(CheckSbatchOptions, TakesOptionsAndRefusesWordsAndWhatTheFileSets) {
  EXPECT_TRUE(check_sbatch_options({"--partition=gpu", "-A", "--qos=high", "--exclusive"}).ok());
  EXPECT_THAT(check_sbatch_options({"other.sh"}).message(),
              HasSubstr("'other.sh' is not an sbatch option: sbatch would run it as the batch "
                        "script"));
  EXPECT_THAT(check_sbatch_options({"--dependency=afterany:219"}).message(),
              "'--dependency=afterany:219': fastgpu slurm sets --dependency itself; use the "
              "file's after");
  EXPECT_THAT(check_sbatch_options({"-dafterok:1"}).message(), HasSubstr("use the file's after"));
  EXPECT_THAT(check_sbatch_options({"--array=0-3"}).message(), HasSubstr("the file's array"));
  EXPECT_THAT(check_sbatch_options({"-o", "x"}).message(), HasSubstr("fastgpu slurm --output"));
}

// Records what submit_to_slurm asks of Slurm; refuses the check or the submission numbered
// `refuse_check` or `refuse_submit`.
class FakeSlurm final : public SlurmCommands {
 public:
  FakeSlurm(int refuse_check, int refuse_submit)
      : refuse_check_(refuse_check), refuse_submit_(refuse_submit) {}
  Status check(const std::string& script, const std::vector<std::string>& args) override {
    (void)script;
    calls.push_back(fmt::format("check {}", fmt::join(args, " ")));
    if (static_cast<int>(checked_++) == refuse_check_) {
      return unavailable("Requested node configuration is not available (exit 1)");
    }
    return {};
  }
  Result<std::string> submit(const std::string& script,
                             const std::vector<std::string>& args) override {
    (void)script;
    calls.push_back(fmt::format("sbatch {}", fmt::join(args, " ")));
    if (static_cast<int>(submitted_) == refuse_submit_) {
      return unavailable("Batch job submission failed: Invalid qos (exit 1)");
    }
    return std::to_string(100 + submitted_++);
  }
  Status release(const std::vector<std::string>& ids) override {
    calls.push_back(fmt::format("release {}", fmt::join(ids, ",")));
    return {};
  }
  Status cancel(const std::vector<std::string>& ids) override {
    calls.push_back(fmt::format("cancel {}", fmt::join(ids, ",")));
    return {};
  }
  // Job 7 runs, job 8 has failed; no other is known.
  Result<std::vector<SlurmJobState>> jobs(const std::string& id) override {
    calls.push_back("jobs " + id);
    if (id == "7") return std::vector<SlurmJobState>{{"7", "x", "RUNNING", "None", "0:0", ""}};
    if (id == "8") return std::vector<SlurmJobState>{{"8", "x", "FAILED", "None", "1:0", ""}};
    return std::vector<SlurmJobState>{};
  }
  std::vector<std::string> calls;

 private:
  int refuse_check_;
  int refuse_submit_;
  std::size_t checked_ = 0;
  std::size_t submitted_ = 0;
};

// Checked first, then held until all are in: no job of the file starts before the file is
// accepted whole.
TEST(SubmitToSlurm, ChecksEachThenSubmitsEachHeldWithItsDependenciesThenReleasesAll) {
  FakeSlurm slurm(-1, -1);
  Result<std::vector<std::string>> ids =
      submit_to_slurm(submissions_of(kPipeline), {"--partition=gpu"}, slurm);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_THAT(*ids, ElementsAre("100", "101", "102"));
  EXPECT_THAT(slurm.calls,
              ElementsAre("check --partition=gpu", "check --partition=gpu", "check --partition=gpu",
                          "sbatch --hold --partition=gpu",
                          "sbatch --hold --dependency=afterok:100 --partition=gpu",
                          "sbatch --hold --dependency=afterok:100,afterany:101 --partition=gpu",
                          "release 100,101,102"));
}

// An existing job the file waits for (a numeric after) is part of the check.
TEST(SubmitToSlurm, TheCheckCarriesTheDependenciesOnExistingJobs) {
  FakeSlurm slurm(-1, -1);
  ASSERT_TRUE(submit_to_slurm(submissions_of("[{name: a, command: [x]}, "
                                             "{name: b, command: [x], after: [a, 'afterany:7']}]"),
                              {}, slurm)
                  .ok());
  EXPECT_THAT(slurm.calls,
              ElementsAre("check ", "jobs 7", "check --dependency=afterany:7", "sbatch --hold",
                          "sbatch --hold --dependency=afterok:100,afterany:7", "release 100,101"));
}

// `hold: true` is sbatch --hold as the user meant it: that job stays held at the end, for
// `scontrol release`, while the others are released.
TEST(SubmitToSlurm, AJobTheFileHoldsStaysHeldWhenTheOthersAreReleased) {
  FakeSlurm slurm(-1, -1);
  const std::vector<SlurmSubmission> submissions =
      submissions_of("[{name: a, command: [x]}, {name: b, command: [x], hold: true, after: a}]");
  EXPECT_FALSE(submissions[0].held);
  EXPECT_TRUE(submissions[1].held);
  ASSERT_TRUE(submit_to_slurm(submissions, {}, slurm).ok());
  EXPECT_THAT(slurm.calls, ElementsAre("check ", "check ", "sbatch --hold",
                                       "sbatch --hold --dependency=afterok:100", "release 100"));

  FakeSlurm alone(-1, -1);
  ASSERT_TRUE(submit_to_slurm(submissions_of("{command: [x], hold: yes}"), {}, alone).ok());
  EXPECT_THAT(alone.calls, ElementsAre("check ", "sbatch --hold"));
}

// A number in after that Slurm does not know, or a failed job waited for with afterok:
// Slurm would run the job at once (it drops an unknown id at release) or never.
TEST(SubmitToSlurm, AnUnknownOrFailedJobWaitedForIsRefusedBeforeAnyIsSubmitted) {
  FakeSlurm slurm(-1, -1);
  Result<std::vector<std::string>> unknown = submit_to_slurm(
      submissions_of("[{name: a, command: [x]}, {name: b, command: [x], after: 99}]"), {}, slurm);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("after: Slurm knows no job 99"));
  ASSERT_TRUE(unknown.status().batch_job().has_value());
  EXPECT_EQ(unknown.status().batch_job()->index, 1u);
  Result<std::vector<std::string>> failed =
      submit_to_slurm(submissions_of("{name: b, command: [x], after: 8}"), {}, slurm);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(),
              HasSubstr("after: job 8 has already ended FAILED, so a job waiting for it to "
                        "complete would never run; wait for any end with 'afterany:8'"));
  EXPECT_THAT(slurm.calls, Not(::testing::Contains(HasSubstr("sbatch"))));
  EXPECT_TRUE(
      submit_to_slurm(submissions_of("{name: b, command: [x], after: 'afterany:8'}"), {}, slurm)
          .ok());
}

// Ctrl-C between two submissions: those taken are cancelled, none is left held.
TEST(SubmitToSlurm, AnInterruptCancelsTheJobsTakenAndSaysSo) {
  FakeSlurm slurm(-1, -1);
  int asked = 0;
  Result<std::vector<std::string>> ids =
      submit_to_slurm(submissions_of(kPipeline), {}, slurm, [&] { return ++asked == 3; });
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(slurm.calls.back(), "cancel 100,101");
  EXPECT_EQ(ids.status().message(),
            "interrupted; nothing was submitted (the 2 jobs sbatch took were cancelled)");
}

// A job the cluster would never run is told before anything is submitted.
TEST(SubmitToSlurm, AJobTheCheckRefusesIsToldBeforeAnyIsSubmitted) {
  FakeSlurm slurm(/*refuse_check=*/1, -1);
  Result<std::vector<std::string>> ids = submit_to_slurm(submissions_of(kPipeline), {}, slurm);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(slurm.calls, ElementsAre("check ", "check "));
  ASSERT_TRUE(ids.status().batch_job().has_value());
  EXPECT_EQ(ids.status().batch_job()->index, 1u);  // the array's first member
  EXPECT_EQ(ids.status().message(),
            "sbatch refused it: Requested node configuration is not available (exit 1); nothing "
            "was submitted");
}

// All or none: a refusal cancels what sbatch took, and the error names the refused job
// (its first spec, for the file's place) and what sbatch said.
TEST(SubmitToSlurm, ARefusalCancelsTheJobsTakenBeforeItAndNamesTheJob) {
  FakeSlurm slurm(-1, /*refuse_submit=*/2);
  Result<std::vector<std::string>> ids = submit_to_slurm(submissions_of(kPipeline), {}, slurm);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(slurm.calls.back(), "cancel 100,101");
  ASSERT_TRUE(ids.status().batch_job().has_value());
  EXPECT_EQ(ids.status().batch_job()->index, 5u);
  EXPECT_THAT(
      ids.status().message(),
      AllOf(HasSubstr("sbatch refused it: Batch job submission failed: Invalid qos (exit 1)"),
            HasSubstr("nothing was submitted (the 2 jobs sbatch took before it were "
                      "cancelled)")));
}

// Two lines of `scontrol show job -o` (cut short), as Slurm 22.05 writes them.
TEST(ParseScontrolJobs, ReadsEachJobAndNamesArrayMembersAsSlurmDoes) {
  const std::string text =
      "JobId=95 ArrayJobId=92 ArrayTaskId=1 ArrayTaskThrottle=2 JobName=sweep "
      "UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=0 "
      "ExitCode=3:0 RunTime=00:00:02 TimeLimit=UNLIMITED Command=/bin/x y z\n"
      "JobId=93 JobName=report UserId=root(0) Nice=2 JobState=PENDING "
      "Reason=DependencyNeverSatisfied Dependency=afterok:92_*(failed) ExitCode=0:0 "
      "RunTime=00:00:00\n";
  EXPECT_THAT(
      parse_scontrol_jobs(text),
      ElementsAre(
          SlurmJobState{"92_1", "sweep", "FAILED", "NonZeroExitCode", "3:0", "00:00:02"},
          SlurmJobState{"93", "report", "PENDING", "DependencyNeverSatisfied", "0:0", "00:00:00"}));
  EXPECT_TRUE(parse_scontrol_jobs("").empty());
}

TEST(SlurmJobSettled, EndedJobsAndOnesWhoseDependencyCanNeverBeMetHaveSettled) {
  EXPECT_TRUE(slurm_job_settled({"1", "a", "COMPLETED", "None", "0:0", ""}));
  EXPECT_TRUE(slurm_job_settled({"1", "a", "TIMEOUT", "TimeLimit", "0:15", ""}));
  EXPECT_TRUE(slurm_job_settled({"1", "a", "OUT_OF_MEMORY", "None", "0:125", ""}));
  EXPECT_TRUE(slurm_job_settled({"1", "a", "PENDING", "DependencyNeverSatisfied", "", ""}));
  EXPECT_FALSE(slurm_job_settled({"1", "a", "PENDING", "Dependency", "", ""}));
  EXPECT_FALSE(slurm_job_settled({"1", "a", "RUNNING", "None", "", ""}));
  EXPECT_FALSE(slurm_job_settled({"1", "a", "COMPLETING", "None", "", ""}));
}

}  // namespace
}  // namespace fastgpu::exec
