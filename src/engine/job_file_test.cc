// Submit fields: every field written as flags and as YAML gives the same JobSpecs, and
// each bad value fails with a message that names the field, the value and the fix.
#include "fastgpu/engine/job_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "engine/job_file_test_util.h"

namespace fastgpu::engine {
namespace {

using store::Dependency;
using store::DependencyKind;
using store::JobSpec;
using testing::alice;
using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::error_of;
using testing::from_flags;
using testing::from_yaml;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::submit_time;

constexpr Bytes kGiB = Bytes{1} << 30;

// Both ways in must agree; returns the single spec.
JobSpec same_both_ways(const std::vector<std::string>& flags, const std::string& yaml) {
  auto by_flags = from_flags(flags);
  auto by_file = from_yaml(yaml);
  EXPECT_TRUE(by_flags.ok()) << by_flags.status().message();
  EXPECT_TRUE(by_file.ok()) << by_file.status().message();
  if (!by_flags.ok() || !by_file.ok()) return {};
  EXPECT_EQ(*by_flags, *by_file);
  EXPECT_EQ(by_flags->size(), 1u);
  return by_flags->empty() ? JobSpec{} : by_flags->front();
}

// The same bad value both ways fails with the same message (the file adds its location).
void same_error_both_ways(const std::vector<std::string>& flags, const std::string& yaml,
                          const std::string& expected) {
  const std::string by_flags = error_of(from_flags(flags));
  const std::string by_file = error_of(from_yaml(yaml));
  EXPECT_THAT(by_flags, HasSubstr(expected));
  EXPECT_THAT(by_file, HasSubstr(expected));
  EXPECT_THAT(by_file, HasSubstr(by_flags)) << "the file's message adds only the location";
}

TEST(JobFileFields, EveryFieldGivesEqualSpecsFromFlagsAndYaml) {
  const JobSpec spec = same_both_ways({"--gpus",
                                       "2",
                                       "--gpu-mem",
                                       "20G",
                                       "--share",
                                       "0.5",
                                       "--time",
                                       "2h",
                                       "--priority",
                                       "5",
                                       "--name",
                                       "train",
                                       "--after",
                                       "42",
                                       "--restartable",
                                       "--hold",
                                       "--deadline",
                                       "2027-01-16T08:00:00Z",
                                       "--workdir",
                                       "runs",
                                       "--env",
                                       "OMP_NUM_THREADS=4",
                                       "--",
                                       "python",
                                       "train.py",
                                       "--lr",
                                       "3e-4"},
                                      R"(
name: train
command: [python, train.py, --lr, 3e-4]
gpus: 2
gpu-mem: 20G
share: 0.5
time: 2h
priority: 5
after: 42
restartable: true
hold: true
deadline: 2027-01-16T08:00:00Z
workdir: runs
env: {OMP_NUM_THREADS: 4}
)");
  EXPECT_EQ(spec.name, "train");
  EXPECT_THAT(spec.argv, ElementsAre("python", "train.py", "--lr", "3e-4"));
  EXPECT_TRUE(spec.shell_command.empty());
  EXPECT_EQ(spec.gpus, 2);
  EXPECT_EQ(spec.gpu_mem, 20 * kGiB);
  EXPECT_DOUBLE_EQ(spec.util_share, 0.5);
  EXPECT_EQ(spec.time_limit_s, 7200);
  EXPECT_EQ(spec.priority, 5);
  EXPECT_THAT(spec.dependencies,
              ElementsAre(Dependency{JobId(42), DependencyKind::kAfterOk, std::nullopt}));
  EXPECT_TRUE(spec.restartable);
  EXPECT_EQ(spec.held_by, std::optional<std::uint32_t>(1000)) << "held by its submitter";
  EXPECT_EQ(spec.deadline, submit_time() + std::chrono::hours(24));
  EXPECT_EQ(spec.working_dir, "/home/alice/project/runs");
  EXPECT_THAT(spec.environment, ElementsAre("HOME=/home/alice", "PATH=/usr/bin:/bin",
                                            "LANG=C.UTF-8", "OMP_NUM_THREADS=4"));
  EXPECT_EQ(spec.uid, 1000u);
  EXPECT_EQ(spec.user, "alice");
  EXPECT_EQ(spec.submit_time, submit_time());
  EXPECT_EQ(spec.signature, "train");
  EXPECT_FALSE(spec.array);
}

TEST(JobFileFields, DefaultsWhenOnlyTheCommandIsGiven) {
  const JobSpec spec = same_both_ways({"sleep", "5"}, "command: [sleep, 5]");
  EXPECT_EQ(spec.gpus, 1);
  EXPECT_EQ(spec.gpu_mem, std::nullopt) << "no gpu-mem means auto";
  EXPECT_DOUBLE_EQ(spec.util_share, 1.0);
  EXPECT_EQ(spec.time_limit_s, std::nullopt);
  EXPECT_EQ(spec.priority, 0);
  EXPECT_FALSE(spec.restartable);
  EXPECT_FALSE(spec.held_by.has_value());
  EXPECT_EQ(spec.working_dir, "/home/alice/project");
  EXPECT_EQ(spec.signature, "sleep 5") << "without a name the command is the history key";
}

TEST(JobFileFields, ShellStringIsWrapOrAYamlString) {
  const JobSpec spec =
      same_both_ways({"--wrap", "python train.py | tee log"}, "command: python train.py | tee log");
  EXPECT_EQ(spec.shell_command, "python train.py | tee log");
  EXPECT_TRUE(spec.argv.empty());
  EXPECT_EQ(spec.signature, "python train.py | tee log");
}

TEST(JobFileFields, CommandOptionsAfterTheProgramBelongToTheCommand) {
  auto specs = from_flags({"--gpus", "1", "python", "train.py", "--gpus", "8"});
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_EQ(specs->front().gpus, 1);
  EXPECT_THAT(specs->front().argv, ElementsAre("python", "train.py", "--gpus", "8"));
}

TEST(JobFileFields, CommandMissingOrBothIsAnError) {
  EXPECT_THAT(error_of(from_flags({"--gpus", "1"})), HasSubstr("command is missing"));
  EXPECT_THAT(error_of(from_flags({"--wrap", "ls", "--", "ls"})), HasSubstr("not both"));
  EXPECT_THAT(error_of(from_yaml("gpus: 1")), HasSubstr("command is missing"));
  EXPECT_THAT(error_of(from_yaml("command: []")), HasSubstr("command is an empty list"));
  EXPECT_THAT(error_of(from_yaml("command: {a: b}")), HasSubstr("command: expected a list"));
}

TEST(JobFileFields, GpuMemoryUnitsAndAuto) {
  EXPECT_EQ(same_both_ways({"--gpu-mem", "512M", "x"}, "{command: [x], gpu-mem: 512M}").gpu_mem,
            512 * (Bytes{1} << 20));
  EXPECT_EQ(same_both_ways({"--gpu-mem", "20GB", "x"}, "{command: [x], gpu-mem: 20GB}").gpu_mem,
            Bytes{20'000'000'000});
  EXPECT_EQ(same_both_ways({"--gpu-mem", "auto", "x"}, "{command: [x], gpu-mem: auto}").gpu_mem,
            std::nullopt);
  same_error_both_ways({"--gpu-mem", "20X", "x"}, "{command: [x], gpu-mem: 20X}",
                       "gpu-mem: memory size '20X': unknown unit 'X'");
  same_error_both_ways({"--gpu-mem", "0", "x"}, "{command: [x], gpu-mem: 0}",
                       "gpu-mem '0' is zero");
  // A bare number is bytes: `16` meant as 16G would let 80 such jobs share one 80G GPU.
  same_error_both_ways({"--gpu-mem", "16", "x"}, "{command: [x], gpu-mem: 16}",
                       "gpu-mem '16' is 16 bytes; give its unit, e.g. 16G (GiB) or 16GB");
  same_error_both_ways({"--gpu-mem", "512K", "x"}, "{command: [x], gpu-mem: 512K}",
                       "gpu-mem '512K' is below 1 MiB");
  EXPECT_EQ(same_both_ways({"--gpu-mem", "1M", "x"}, "{command: [x], gpu-mem: 1M}").gpu_mem,
            Bytes{1} << 20);
  EXPECT_EQ(
      same_both_ways({"--gpu-mem", "2000000", "x"}, "{command: [x], gpu-mem: 2000000}").gpu_mem,
      Bytes{2'000'000});
  same_error_both_ways({"--gpu-mem", "-2G", "x"}, "{command: [x], gpu-mem: -2G}",
                       "cannot be negative");
}

TEST(JobFileFields, GpuCountMustBeAWholeNumberAtLeastZero) {
  EXPECT_EQ(same_both_ways({"--gpus", "0", "x"}, "{command: [x], gpus: 0}").gpus, 0);
  same_error_both_ways({"--gpus", "-1", "x"}, "{command: [x], gpus: -1}",
                       "gpus '-1' is negative; use 0 for a CPU-only job");
  same_error_both_ways({"--gpus", "1.5", "x"}, "{command: [x], gpus: 1.5}",
                       "gpus '1.5' is not a whole number");
  same_error_both_ways({"--gpus", "two", "x"}, "{command: [x], gpus: two}",
                       "gpus 'two' is not a whole number");
}

TEST(JobFileFields, CpuOnlyJobCannotDeclareGpuMemoryOrShare) {
  same_error_both_ways({"--gpus", "0", "--gpu-mem", "4G", "x"},
                       "{command: [x], gpus: 0, gpu-mem: 4G}",
                       "gpu-mem '4G' is given but gpus is 0");
  same_error_both_ways({"--gpus", "0", "--share", "0.5", "x"},
                       "{command: [x], gpus: 0, share: 0.5}", "share '0.5' is given but gpus is 0");
  EXPECT_TRUE(from_yaml("{command: [x], gpus: 0, gpu-mem: auto, share: 1}").ok())
      << "auto and 1 cancel GPU fields that come from defaults";
}

TEST(JobFileFields, ShareIsAFractionOrPercentInZeroToOne) {
  EXPECT_DOUBLE_EQ(same_both_ways({"--share", "25%", "x"}, "{command: [x], share: 25%}").util_share,
                   0.25);
  same_error_both_ways({"--share", "1.5", "x"}, "{command: [x], share: 1.5}",
                       "share '1.5' is outside (0, 1]");
  same_error_both_ways({"--share", "0", "x"}, "{command: [x], share: 0}",
                       "share '0' is outside (0, 1]");
  same_error_both_ways({"--share", "half", "x"}, "{command: [x], share: half}",
                       "share 'half' is not a number");
}

TEST(JobFileFields, BareTimeIsMinutesLikeSlurm) {
  EXPECT_EQ(same_both_ways({"--time", "90", "x"}, "{command: [x], time: 90}").time_limit_s, 5400);
  EXPECT_EQ(same_both_ways({"-t", "1:30:00", "x"}, "{command: [x], time: '1:30:00'}").time_limit_s,
            5400);
  EXPECT_EQ(same_both_ways({"--time", "1-00:00:00", "x"}, "{command: [x], time: 1-00:00:00}")
                .time_limit_s,
            86400);
  EXPECT_EQ(same_both_ways({"--time", "90s", "x"}, "{command: [x], time: 90s}").time_limit_s, 90);
  EXPECT_EQ(same_both_ways({"--time", "1.5", "x"}, "{command: [x], time: 1.5}").time_limit_s, 90);
  EXPECT_EQ(same_both_ways({"--time", "1.5s", "x"}, "{command: [x], time: 1.5s}").time_limit_s, 2)
      << "a limit rounds up, never shorter than asked";
  EXPECT_EQ(
      same_both_ways({"--time", "unlimited", "x"}, "{command: [x], time: unlimited}").time_limit_s,
      std::nullopt);
}

// The daemon's 10 s between SIGTERM and SIGKILL could not be changed: a job that saves a
// large checkpoint on SIGTERM was killed halfway.
TEST(JobFileFields, GraceIsADurationWithBareSeconds) {
  EXPECT_EQ(same_both_ways({"--grace", "5m", "x"}, "{command: [x], grace: 5m}").kill_grace_s, 300);
  EXPECT_EQ(same_both_ways({"--grace", "90", "x"}, "{command: [x], grace: 90}").kill_grace_s, 90)
      << "a bare number is seconds, unlike time's minutes";
  EXPECT_EQ(same_both_ways({"--grace", "0", "x"}, "{command: [x], grace: 0}").kill_grace_s, 0);
  EXPECT_EQ(same_both_ways({"--grace", "1.5s", "x"}, "{command: [x], grace: 1.5s}").kill_grace_s,
            2);
  EXPECT_EQ(same_both_ways({"x"}, "{command: [x]}").kill_grace_s, std::nullopt)
      << "not given: the daemon's";
  same_error_both_ways({"--grace", "2d", "x"}, "{command: [x], grace: 2d}",
                       "grace '2d': longer than a day");
  same_error_both_ways({"--grace", "soon", "x"}, "{command: [x], grace: soon}", "grace 'soon': ");
  EXPECT_THAT(error_of(from_yaml("{command: [x], kill-grace: 5m}")), HasSubstr("grace"));
}

TEST(JobFileFields, BadTimeNamesTheValueAndTheMinutesRule) {
  same_error_both_ways({"--time", "0", "x"}, "{command: [x], time: 0}",
                       "time '0': a time limit must be above 0");
  same_error_both_ways({"--time", "2x", "x"}, "{command: [x], time: 2x}",
                       "time '2x': unknown unit 'x'");
  EXPECT_THAT(error_of(from_flags({"--time", "2x", "x"})),
              AllOf(HasSubstr("bare number of minutes"), Not(HasSubstr("(seconds)"))));
  same_error_both_ways({"--time", "400d", "x"}, "{command: [x], time: 400d}", "longer than a year");
}

TEST(JobFileFields, HelpTextStatesTheMinutesRuleAndUnits) {
  CLI::App app("submit");
  SubmitOptions options;
  add_submit_flags(app, options);
  const std::string help = app.help();
  EXPECT_THAT(help, HasSubstr("a bare number is MINUTES, as in Slurm"));
  EXPECT_THAT(help, HasSubstr("1G = 2^30 bytes"));
  EXPECT_THAT(help, HasSubstr("--gpu-mem"));
  EXPECT_THAT(help, HasSubstr("--after"));
}

TEST(JobFileFields, PriorityIsAnyInteger) {
  EXPECT_EQ(same_both_ways({"--priority", "+7", "x"}, "{command: [x], priority: +7}").priority, 7);
  EXPECT_EQ(same_both_ways({"--priority", "-3", "x"}, "{command: [x], priority: -3}").priority, -3);
  same_error_both_ways({"--priority", "high", "x"}, "{command: [x], priority: high}",
                       "priority 'high' is not a whole number");
}

TEST(JobFileFields, NamesReadAsIdsOrWithSeparatorsAreRefused) {
  same_error_both_ways({"--name", "123", "x"}, "{command: [x], name: '123'}",
                       "name '123' is only digits");
  same_error_both_ways({"--name", "a b", "x"}, "{command: [x], name: a b}",
                       "name 'a b' contains a space");
  same_error_both_ways({"--name", "a:b", "x"}, "{command: [x], name: 'a:b'}",
                       "name 'a:b' contains ':'");
  // The refused name is told printably: its escape sequence reached the terminal.
  same_error_both_ways({"--name", "a\x1b[2Jb", "x"}, "{command: [x], name: \"a\\e[2Jb\"}",
                       "name 'a\\x1b[2Jb' contains a space or control character");
}

TEST(JobFileFields, RestartableIsABoolean) {
  EXPECT_TRUE(from_yaml("{command: [x], restartable: yes}")->front().restartable);
  EXPECT_FALSE(from_yaml("{command: [x], restartable: false}")->front().restartable);
  EXPECT_THAT(error_of(from_yaml("{command: [x], restartable: maybe}")),
              HasSubstr("restartable 'maybe' is not true or false"));
}

TEST(JobFileFields, HoldIsABoolean) {
  EXPECT_TRUE(from_yaml("{command: [x], hold: yes}")->front().held_by.has_value());
  EXPECT_FALSE(from_yaml("{command: [x], hold: false}")->front().held_by.has_value());
  EXPECT_THAT(error_of(from_yaml("{command: [x], hold: later}")),
              HasSubstr("hold 'later' is not true or false"));
  EXPECT_THAT(error_of(from_yaml("{command: [x], held: true}")), HasSubstr("hold"));
}

// `--restartable false` once ran /bin/false ("false" started the command); a word after
// the flag is its value only when it is a boolean, and the command's first word otherwise.
TEST(JobFileFields, RestartableFlagReadsABooleanAfterItAndLeavesACommandAlone) {
  auto job = [](const std::vector<std::string>& args) { return from_flags(args)->front(); };
  const JobSpec off = job({"--restartable", "false", "echo", "x"});
  EXPECT_FALSE(off.restartable);
  EXPECT_EQ(off.argv, (std::vector<std::string>{"echo", "x"}));
  EXPECT_TRUE(job({"--restartable", "yes", "echo"}).restartable);
  const JobSpec bare = job({"--restartable", "sleep", "10"});
  EXPECT_TRUE(bare.restartable);
  EXPECT_EQ(bare.argv, (std::vector<std::string>{"sleep", "10"}));
  const JobSpec program_true = job({"--restartable", "--", "true"});
  EXPECT_TRUE(program_true.restartable);
  EXPECT_EQ(program_true.argv, std::vector<std::string>{"true"});
  EXPECT_FALSE(job({"--restartable=off", "true"}).restartable);
  EXPECT_TRUE(job({"--gpus", "0", "--restartable", "--time", "1h", "x"}).restartable);
  EXPECT_FALSE(job({"x"}).restartable);
}

TEST(JobFileFields, AfterTakesIdsAndSlurmDependencyTypes) {
  const JobSpec spec = same_both_ways({"--after", "afterok:7:8,afterany:9", "--after", "10", "x"},
                                      "{command: [x], after: ['afterok:7:8,afterany:9', 10]}");
  EXPECT_THAT(spec.dependencies,
              ElementsAre(Dependency{JobId(7), DependencyKind::kAfterOk, std::nullopt},
                          Dependency{JobId(8), DependencyKind::kAfterOk, std::nullopt},
                          Dependency{JobId(9), DependencyKind::kAfterAny, std::nullopt},
                          Dependency{JobId(10), DependencyKind::kAfterOk, std::nullopt}));
  EXPECT_EQ(from_flags({"-d", "afterany:3", "x"})->front().dependencies.front().kind,
            DependencyKind::kAfterAny);
}

// `--after 7 --after 7` once failed at the store with "UNIQUE constraint failed:
// dependencies.job, dependencies.after"; a job named twice is waited for once, and
// afterok wins over afterany (both must hold).
TEST(JobFileFields, AfterNamingAJobTwiceWaitsForItOnce) {
  const JobSpec spec = same_both_ways(
      {"--after", "7", "--after", "afterany:8,7", "-d", "afterany:7", "--after", "afterok:8", "x"},
      "{command: [x], after: [7, 'afterany:8,7', "
      "'afterany:7', 'afterok:8']}");
  EXPECT_THAT(spec.dependencies,
              ElementsAre(Dependency{JobId(7), DependencyKind::kAfterOk, std::nullopt},
                          Dependency{JobId(8), DependencyKind::kAfterOk, std::nullopt}));
  EXPECT_THAT(
      from_flags({"--after", "afterany:9", "--after", "afterany:9", "x"})->front().dependencies,
      ElementsAre(Dependency{JobId(9), DependencyKind::kAfterAny, std::nullopt}));
}

TEST(JobFileFields, AfterRejectsWhatTheStoreCannotExpress) {
  same_error_both_ways({"--after", "afternotok:3", "x"}, "{command: [x], after: 'afternotok:3'}",
                       "dependency type 'afternotok' is not supported");
  same_error_both_ways({"--after", "afterok:1?afterok:2", "x"},
                       "{command: [x], after: 'afterok:1?afterok:2'}", "'?' (any of)");
  same_error_both_ways({"--after", "0", "x"}, "{command: [x], after: 0}", "ids start at 1");
  // Slurm's singleton was read as a job name ("not a job id; job names work only ...").
  same_error_both_ways({"--after", "singleton", "x"}, "{command: [x], after: singleton}",
                       "dependency type 'singleton' is not supported");
  same_error_both_ways({"--after", "12_3", "x"}, "{command: [x], after: 12_3}",
                       "Slurm's JOB_TASK form");
  EXPECT_THAT(error_of(from_flags({"--after", "prep", "x"})),
              AllOf(HasSubstr("'prep' is not a job id"), HasSubstr("one job file")));
}

TEST(JobFileFields, ArrayExpandsToOneSpecPerIndexWithItsLimit) {
  auto flags = from_flags({"--array", "0-15%4", "--name", "sweep", "x"});
  auto file = from_yaml("{command: [x], name: sweep, array: 0-15%4}");
  ASSERT_TRUE(flags.ok()) << flags.status().message();
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*flags, *file);
  ASSERT_EQ(flags->size(), 16u);
  for (std::uint32_t i = 0; i < 16; ++i) {
    EXPECT_EQ((*flags)[i].array, (store::ArrayMember{0, i, 4}));
    EXPECT_EQ((*flags)[i].signature, "sweep");
  }
}

TEST(JobFileFields, ArrayListsStepsAndYamlLists) {
  const auto indices = [](const Result<std::vector<JobSpec>>& specs) {
    std::vector<std::uint32_t> out;
    if (specs.ok()) {
      for (const JobSpec& spec : *specs) out.push_back(spec.array->index);
    }
    return out;
  };
  EXPECT_THAT(indices(from_flags({"-a", "1,3,5", "x"})), ElementsAre(1u, 3u, 5u));
  EXPECT_THAT(indices(from_yaml("{command: [x], array: [1, 3, 5]}")), ElementsAre(1u, 3u, 5u));
  EXPECT_THAT(indices(from_flags({"--array", "0-15:4", "x"})), ElementsAre(0u, 4u, 8u, 12u));
  EXPECT_THAT(indices(from_flags({"--array", "9,2-3%1", "x"})), ElementsAre(2u, 3u, 9u));
  EXPECT_EQ(from_flags({"--array", "0-3", "x"})->front().array->max_running, 0u);
}

TEST(JobFileFields, BadArraysNameTheProblem) {
  same_error_both_ways({"--array", "5-2", "x"}, "{command: [x], array: 5-2}",
                       "range '5-2' ends before it starts");
  same_error_both_ways({"--array", "1,2,1", "x"}, "{command: [x], array: '1,2,1'}",
                       "index 1 is listed twice");
  same_error_both_ways({"--array", "0-3%0", "x"}, "{command: [x], array: 0-3%0}",
                       "the limit after '%' ('0') is not a whole number above 0");
  same_error_both_ways({"--array", "0-3:0", "x"}, "{command: [x], array: '0-3:0'}",
                       "step '0' must be a whole number from 1 to 4294967295");
  same_error_both_ways({"--array", "0-99999", "x"}, "{command: [x], array: 0-99999}",
                       "more than 10000 members");
  same_error_both_ways({"--array", "1-10:18446744073709551615", "x"},
                       "{command: [x], array: '1-10:18446744073709551615'}",
                       "step '18446744073709551615' must be a whole number from 1");
  same_error_both_ways({"--array", "a-b", "x"}, "{command: [x], array: a-b}",
                       "'a-b' is not an index");
  same_error_both_ways({"--array", "1,,2", "x"}, "{command: [x], array: '1,,2'}",
                       "an empty item between commas");
  // A whole number too large once read "'4294967296' is not an index (a whole number >= 0)".
  same_error_both_ways({"--array", "4294967296", "x"}, "{command: [x], array: 4294967296}",
                       "index 4294967296 is above the largest, 4294967295");
  same_error_both_ways({"--array", "0-99999999999999999999%2", "x"},
                       "{command: [x], array: '0-99999999999999999999%2'}",
                       "index 99999999999999999999 is above the largest, 4294967295");
}

TEST(JobFileFields, DeadlineWithOffsetsAndRelative) {
  const auto deadline = [](const std::string& text) {
    return same_both_ways({"--deadline", text, "x"}, "{command: [x], deadline: '" + text + "'}")
        .deadline;
  };
  const store::WallTime noon_utc = submit_time() + std::chrono::hours(4);
  EXPECT_EQ(deadline("2027-01-15T12:00:00Z"), noon_utc);
  EXPECT_EQ(deadline("2027-01-15T13:00+01:00"), noon_utc);
  EXPECT_EQ(deadline("2027-01-15 07:00-0500"), noon_utc);
  EXPECT_EQ(deadline("now+4h"), noon_utc);
}

// `fastgpu history --since/--until`: a time ago, a date, or a date and time.
TEST(Moment, ATimeAgoADateOrADateAndTime) {
  const store::WallTime now = submit_time();  // 2027-01-15T08:00:00Z
  const auto moment = [&now](const std::string& text) {
    Result<store::WallTime> parsed = parse_moment(text, now, "--since");
    EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
    return parsed.ok() ? *parsed : store::WallTime{};
  };
  EXPECT_EQ(moment("2h"), now - std::chrono::hours(2));
  EXPECT_EQ(moment("now-2h"), now - std::chrono::hours(2));
  EXPECT_EQ(moment(" 1d12h "), now - std::chrono::hours(36));
  EXPECT_EQ(moment("90s"), now - std::chrono::seconds(90));
  EXPECT_EQ(moment("now"), now);
  EXPECT_EQ(moment("2027-01-15T06:00Z"), now - std::chrono::hours(2));
  EXPECT_EQ(moment("2027-01-15T07:00+01:00"), now - std::chrono::hours(2));
  // A time as the API prints it (end_time), pasted back: to the microsecond.
  EXPECT_EQ(moment("2027-01-15T07:59:59.000250Z"), now - std::chrono::microseconds(999750));
  EXPECT_EQ(moment("2027-01-15T07:59:59.5Z"), now - std::chrono::milliseconds(500));
  const char* saved = std::getenv("TZ");
  const std::string previous = saved ? saved : "";
  ::setenv("TZ", "UTC-02", 1);  // POSIX spelling of UTC+2
  ::tzset();
  const store::WallTime local_midnight = moment("2027-01-15");
  const store::WallTime local_ten = moment("2027-01-15T10:00");
  if (saved) {
    ::setenv("TZ", previous.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
  EXPECT_EQ(local_midnight, now - std::chrono::hours(10));  // 2027-01-14T22:00Z
  EXPECT_EQ(local_ten, now);
}

TEST(Moment, WhatItCannotReadIsNamedWithTheOptionAndExamples) {
  const store::WallTime now = submit_time();
  for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
           {"5", "'5' has no unit; write 5h, 5m or 5d"},
           {"now-5", "'5' has no unit"},
           {"yesterday", "'yesterday' is not a time ago"},
           {"", "empty"},
           {"2027-13-01", "no such date"},
           {"2027-01-15T25:00", "no such time of day"},
           {"2027-01-15T10:00+5", "the UTC offset must read"},
           {"2027-01-15T10:00:00.Z", "expected digits after the seconds' '.'"},
           {"200y", "is not a time ago"}}) {
    Result<store::WallTime> parsed = parse_moment(text, now, "--until");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr("--until '" + text + "'")) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(says)) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr("2026-12-01T18:00")) << text;
  }
}

TEST(JobFileFields, DeadlineWithoutOffsetIsLocalTime) {
  const char* saved = std::getenv("TZ");
  const std::string previous = saved ? saved : "";
  ::setenv("TZ", "UTC-02", 1);  // POSIX spelling of UTC+2
  ::tzset();
  auto specs = from_flags({"--deadline", "2027-01-15T14:00", "x"});
  if (saved) {
    ::setenv("TZ", previous.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_EQ(specs->front().deadline, submit_time() + std::chrono::hours(4));
}

TEST(JobFileFields, BadDeadlinesSayWhy) {
  same_error_both_ways({"--deadline", "2027-01-14T12:00Z", "x"},
                       "{command: [x], deadline: 2027-01-14T12:00Z}", "already past");
  same_error_both_ways({"--deadline", "2027-01-16", "x"}, "{command: [x], deadline: 2027-01-16}",
                       "the time of day is missing");
  same_error_both_ways({"--deadline", "2027-02-30T10:00Z", "x"},
                       "{command: [x], deadline: 2027-02-30T10:00Z}", "no such date");
  same_error_both_ways({"--deadline", "now+90", "x"}, "{command: [x], deadline: now+90}",
                       "'90' has no unit; write now+90m or now+90s");
  same_error_both_ways({"--deadline", "tomorrow", "x"}, "{command: [x], deadline: tomorrow}",
                       "deadline 'tomorrow': expected a date YYYY-MM-DD");
}

// An absolute date was taken up to the year 9999, where now+ stopped at 100 years.
TEST(JobFileFields, ADeadlineMoreThanAHundredYearsAwayIsRefused) {
  same_error_both_ways({"--deadline", "9999-12-31T23:59Z", "x"},
                       "{command: [x], deadline: 9999-12-31T23:59Z}",
                       "deadline '9999-12-31T23:59Z': more than 100 years away");
  same_error_both_ways({"--deadline", "now+36601d", "x"}, "{command: [x], deadline: now+36601d}",
                       "more than 100 years away");
  EXPECT_TRUE(from_flags({"--deadline", "2126-01-15T08:00Z", "x"}).ok());
}

TEST(JobFileFields, WorkdirRelativeHomeAndNormalised) {
  EXPECT_EQ(from_flags({"-D", "../data/./run1/", "x"})->front().working_dir,
            "/home/alice/data/run1");
  EXPECT_EQ(from_flags({"--workdir", "~/scratch", "x"})->front().working_dir,
            "/home/alice/scratch");
  EXPECT_EQ(from_flags({"--chdir", "/tmp", "x"})->front().working_dir, "/tmp");
  SubmitContext homeless = alice();
  homeless.environment = {"PATH=/bin"};
  EXPECT_THAT(error_of(from_flags({"--workdir", "~/x", "x"}, homeless)),
              HasSubstr("HOME is not set"));
}

TEST(JobFileFields, EnvAddsAndReplacesInheritedVariables) {
  const JobSpec spec = same_both_ways({"--env", "PATH=/opt/bin", "--env", "NEW=a=b", "x"},
                                      "{command: [x], env: {PATH: /opt/bin, NEW: a=b}}");
  EXPECT_THAT(spec.environment,
              ElementsAre("HOME=/home/alice", "PATH=/opt/bin", "LANG=C.UTF-8", "NEW=a=b"));
  EXPECT_EQ(from_yaml("{command: [x], env: ['A=1']}")->front().environment.back(), "A=1");
  EXPECT_THAT(error_of(from_flags({"--env", "JUSTANAME", "x"})),
              HasSubstr("'JUSTANAME' is not NAME=value"));
  EXPECT_THAT(error_of(from_yaml("{command: [x], env: {A: }}")), HasSubstr("env A has no value"));
  EXPECT_THAT(error_of(from_yaml("{command: [x], env: {'A B': 1}}")),
              HasSubstr("variable name 'A B' contains a space"));
  EXPECT_THAT(error_of(from_yaml("{command: [x], env: [A]}")), HasSubstr("'A' is not NAME=value"));
}

}  // namespace
}  // namespace fastgpu::engine
