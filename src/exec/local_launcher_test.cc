#include "fastgpu/exec/local_launcher.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>

#include "exec/launcher_test_fixture.h"

namespace fastgpu::exec {
namespace {

using ::testing::HasSubstr;
using testing::LauncherTest;
using ::testing::Not;

TEST_F(LauncherTest, JobSeesItsEnvironmentAndNothingOfOurs) {
  ASSERT_EQ(::setenv("FASTGPU_EXEC_TEST_LEAK", "from-the-daemon", 1), 0);
  LaunchRequest request = shell_request(7, "env; pwd");
  request.environment.push_back("MY_SETTING=a b=c");
  request.environment.push_back("CUDA_VISIBLE_DEVICES=9");  // replaced by the placement
  request.gpus = {2, 3};
  request.gpu_mem_quota = Bytes{1} << 30;
  request.array_index = 5;
  launch(request);
  Finished finished = wait_for(JobId(7));
  ::unsetenv("FASTGPU_EXEC_TEST_LEAK");

  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 0);
  const std::string output = log(7);
  EXPECT_THAT(output, HasSubstr("\nCUDA_VISIBLE_DEVICES=2,3\n"));
  EXPECT_THAT(output, Not(HasSubstr("CUDA_VISIBLE_DEVICES=9")));
  EXPECT_THAT(output, HasSubstr("CUDA_DEVICE_ORDER=PCI_BUS_ID\n"));
  EXPECT_THAT(output, HasSubstr("FASTGPU_JOB_ID=7\n"));
  EXPECT_THAT(output, HasSubstr("FASTGPU_ARRAY_INDEX=5\n"));
  EXPECT_THAT(output, HasSubstr("FASTGPU_GPU_MEM_QUOTA=1073741824\n"));
  EXPECT_THAT(output, HasSubstr("MY_SETTING=a b=c\n"));
  EXPECT_THAT(output, Not(HasSubstr("FASTGPU_EXEC_TEST_LEAK")));
  EXPECT_THAT(output, HasSubstr("\n" + dir_.string() + "\n"));  // pwd: the working folder
  EXPECT_LE(finished.started, finished.ended);
  ASSERT_TRUE(finished.usage.max_rss_bytes.has_value());
  EXPECT_GT(*finished.usage.max_rss_bytes, 0u);
  EXPECT_TRUE(finished.usage.user_cpu_s.has_value());
}

TEST_F(LauncherTest, CpuOnlyJobGetsAnEmptyDeviceList) {
  launch(shell_request(
      1, "echo \"[$CUDA_VISIBLE_DEVICES]\"; echo \"[${FASTGPU_ARRAY_INDEX-unset}]\""));
  Finished finished = wait_for(JobId(1));
  EXPECT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_THAT(log(1), HasSubstr("[]\n[unset]\n"));
}

// A job ran with the daemon's umask whatever its submitter's was: files it made were more
// open than asked. A request's umask is set in the job; without one it keeps ours.
TEST_F(LauncherTest, TheJobHasTheRequestsUmaskAndWithoutOneOurs) {
  const mode_t ours = ::umask(0);
  ::umask(ours);
  ASSERT_NE(ours, 027u) << "this test needs a umask other than 027";
  LaunchRequest request = shell_request(1, "umask; touch made; stat -c %a made");
  request.umask = 027;
  launch(request);
  ASSERT_TRUE(std::holds_alternative<Exited>(wait_for(JobId(1)).outcome)) << log(1);
  launch(shell_request(2, "umask"));
  ASSERT_TRUE(std::holds_alternative<Exited>(wait_for(JobId(2)).outcome)) << log(2);
  EXPECT_EQ(log(1), "0027\n640\n");
  EXPECT_EQ(log(2), fmt::format("{:04o}\n", ours));
}

// `ulimit -s unlimited; fastgpu submit ...` ran the job with the daemon's 8 MiB stack: a
// Fortran code with large arrays on the stack crashed under FastGPU and ran under Slurm. A
// request's limits are set in the job; the others stay ours.
TEST_F(LauncherTest, TheJobHasTheRequestsLimitsAndOursForTheRest) {
  rlimit core{};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &core), 0);
  LaunchRequest request = shell_request(
      1, "ulimit -S -n; ulimit -H -n; ulimit -S -s; ulimit -H -s; ulimit -S -c; ulimit -H -c");
  request.limits = {{"nofile", 321, 654}, {"stack", std::nullopt, std::nullopt}};
  launch(request);
  ASSERT_TRUE(std::holds_alternative<Exited>(wait_for(JobId(1)).outcome)) << log(1);
  const auto blocks = [](rlim_t bytes) {  // sh's ulimit -c counts 512-byte blocks
    return bytes == RLIM_INFINITY ? std::string("unlimited") : std::to_string(bytes / 512);
  };
  EXPECT_EQ(log(1), fmt::format("321\n654\nunlimited\nunlimited\n{}\n{}\n", blocks(core.rlim_cur),
                                blocks(core.rlim_max)));
}

// A limit the kernel refuses even to root (more open files than fs.nr_open) fails the launch
// with the limit named, and nothing runs.
TEST_F(LauncherTest, ALimitTheKernelRefusesFailsTheLaunchNamingIt) {
  rlimit own{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &own), 0);
  const rlimit above{own.rlim_cur, own.rlim_max + 1};
  if (::setrlimit(RLIMIT_NOFILE, &above) != 0) {  // no CAP_SYS_RESOURCE: not raised, lowered
    GTEST_SKIP() << "this process may not raise a hard limit (it is not root, or it lacks "
                    "CAP_SYS_RESOURCE), and a supervisor here lowers such a limit to its own";
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &own), 0);
  std::ifstream nr_open("/proc/sys/fs/nr_open");
  std::uint64_t most = 0;
  ASSERT_TRUE(nr_open >> most);
  LaunchRequest request = shell_request(2, "echo ran");
  request.limits = {{"nofile", 1024, most + 1}};
  launch(request);
  Finished finished = wait_for(JobId(2));
  ASSERT_TRUE(std::holds_alternative<LaunchFailed>(finished.outcome)) << log(2);
  EXPECT_THAT(std::get<LaunchFailed>(finished.outcome).message,
              HasSubstr(fmt::format("cannot set the job's resource limit nofile 1024 (hard {})",
                                    most + 1)));
  EXPECT_THAT(log(2), Not(HasSubstr("ran")));
}

TEST_F(LauncherTest, CapturesStdoutAndStderrAndTheExitCode) {
  launch(shell_request(3, "echo to-stdout; echo to-stderr >&2; exit 3"));
  Finished finished = wait_for(JobId(3));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 3);
  const std::string output = log(3);
  EXPECT_THAT(output, HasSubstr("to-stdout\n"));
  EXPECT_THAT(output, HasSubstr("to-stderr\n"));
  EXPECT_THAT(output, HasSubstr("fastgpu: job 3 exited with code 3"));
}

TEST_F(LauncherTest, FastgpuLineStartsOnAFreshLine) {
  launch(shell_request(2, "printf no-newline; exit 2"));
  wait_for(JobId(2));
  EXPECT_THAT(log(2), HasSubstr("no-newline\nfastgpu: job 2 exited with code 2 after "));
}

TEST_F(LauncherTest, LogIsAppendedNotReplaced) {
  { std::ofstream(log_path(4)) << "earlier run\n"; }
  launch(shell_request(4, "echo this run"));
  wait_for(JobId(4));
  EXPECT_EQ(log(4), "earlier run\nthis run\n");
}

TEST_F(LauncherTest, ArgvRunsWithoutAShellAndFindsTheProgramOnTheJobsPath) {
  LaunchRequest request = shell_request(5, "");
  request.argv = {"printf", "%s|", "a b", "$HOME"};
  launch(request);
  Finished finished = wait_for(JobId(5));
  EXPECT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(log(5), "a b|$HOME|");
}

TEST_F(LauncherTest, ReportsAJobKilledByASignal) {
  launch(shell_request(6, "kill -KILL $$"));
  Finished finished = wait_for(JobId(6));
  ASSERT_TRUE(std::holds_alternative<Signaled>(finished.outcome));
  EXPECT_EQ(std::get<Signaled>(finished.outcome).signal, SIGKILL);
  EXPECT_THAT(log(6), HasSubstr("fastgpu: job 6 was killed by signal 9"));
}

TEST_F(LauncherTest, MissingProgramIsALaunchFailureThatNamesIt) {
  LaunchRequest request = shell_request(8, "");
  request.argv = {"fastgpu-no-such-program", "--flag"};
  launch(request);
  Finished finished = wait_for(JobId(8));
  ASSERT_TRUE(std::holds_alternative<LaunchFailed>(finished.outcome));
  const std::string& message = std::get<LaunchFailed>(finished.outcome).message;
  EXPECT_THAT(message, HasSubstr("'fastgpu-no-such-program'"));
  EXPECT_THAT(message, HasSubstr("No such file or directory"));
  EXPECT_THAT(log(8), HasSubstr("fastgpu: job 8 could not start: cannot run"));
  // As a shell reports a command it did not find: `submit --wait` exits with it.
  EXPECT_EQ(std::get<LaunchFailed>(finished.outcome).exit_code, 127);
}

TEST_F(LauncherTest, ProgramThatIsNotExecutableIsALaunchFailure) {
  const std::filesystem::path script = dir_ / "not-executable.sh";
  { std::ofstream(script) << "#!/bin/sh\necho hi\n"; }
  LaunchRequest request = shell_request(9, "");
  request.argv = {script.string()};
  launch(request);
  Finished finished = wait_for(JobId(9));
  ASSERT_TRUE(std::holds_alternative<LaunchFailed>(finished.outcome));
  const std::string& message = std::get<LaunchFailed>(finished.outcome).message;
  EXPECT_THAT(message, HasSubstr("Permission denied"));
  // Found but not runnable: a shell's 126.
  EXPECT_EQ(std::get<LaunchFailed>(finished.outcome).exit_code, 126);
  // The fix for this cause, where "check the program name and the job's PATH" was said.
  EXPECT_THAT(message, HasSubstr("the file is not executable: make it so (chmod +x " +
                                 script.string() + ") or run it through its interpreter"));
}

// A folder, a script in the working folder named without ./, a path that is not there:
// each is told its own fix.
TEST_F(LauncherTest, AProgramThatCannotRunIsToldTheFixForItsCause) {
  { std::ofstream(dir_ / "train.sh") << "#!/bin/sh\necho hi\n"; }
  std::filesystem::permissions(dir_ / "train.sh", std::filesystem::perms::owner_all);
  const auto failure = [&](std::uint64_t id, std::vector<std::string> argv) {
    LaunchRequest request = shell_request(id, "");
    request.argv = std::move(argv);
    request.working_dir = dir_.string();
    launch(request);
    Finished finished = wait_for(JobId(id));
    EXPECT_TRUE(std::holds_alternative<LaunchFailed>(finished.outcome));
    return std::holds_alternative<LaunchFailed>(finished.outcome)
               ? std::get<LaunchFailed>(finished.outcome).message
               : std::string();
  };
  EXPECT_THAT(failure(21, {"/tmp"}), HasSubstr("it is a folder: give the program to run"));
  EXPECT_THAT(failure(22, {"train.sh"}),
              HasSubstr("it is not on the job's PATH, but the working folder has it: write "
                        "./train.sh"));
  EXPECT_THAT(failure(23, {"./no-such.sh"}),
              HasSubstr("no such file: check the path (a relative one starts from the working "
                        "folder '" +
                        dir_.string() + "')"));
  EXPECT_THAT(failure(24, {"fastgpu-no-such-program"}),
              HasSubstr("check the program name and the job's PATH"));
}

TEST_F(LauncherTest, BadWorkingFolderIsALaunchFailureThatNamesIt) {
  LaunchRequest request = shell_request(10, "echo should-not-run");
  request.working_dir = (dir_ / "no-such-folder").string();
  launch(request);
  Finished finished = wait_for(JobId(10));
  ASSERT_TRUE(std::holds_alternative<LaunchFailed>(finished.outcome));
  EXPECT_THAT(std::get<LaunchFailed>(finished.outcome).message,
              HasSubstr("'" + request.working_dir + "'"));
  EXPECT_THAT(log(10), Not(HasSubstr("should-not-run")));
}

TEST_F(LauncherTest, TimeLimitStopsAJobThatExitsOnSigterm) {
  LaunchRequest request = shell_request(11, "");
  request.argv = {"sleep", "300"};
  request.time_limit_s = 1.0;
  launch(request);
  Finished finished = wait_for(JobId(11));
  ASSERT_TRUE(std::holds_alternative<TimedOut>(finished.outcome));
  EXPECT_EQ(std::get<TimedOut>(finished.outcome).signal, SIGTERM);
  EXPECT_THAT(log(11), HasSubstr("fastgpu: job 11 timed out after 1s; sent SIGTERM\n"));
}

// A job that took its grace to exit was said to have timed out after its limit alone.
TEST_F(LauncherTest, AJobThatTakesItsGraceAfterTheLimitIsSaidToHaveEndedLater) {
  LaunchRequest request =
      shell_request(13, "trap 'sleep 1.5; exit 143' TERM; echo ready; while :; do sleep 1; done");
  request.time_limit_s = 1.0;
  request.kill_grace_s = 10.0;  // the fixture's 1 s would kill it first
  launch(request);
  Finished finished = wait_for(JobId(13));
  ASSERT_TRUE(std::holds_alternative<TimedOut>(finished.outcome));
  EXPECT_THAT(log(13), HasSubstr("timed out after 1s; sent SIGTERM; it ended "));
  EXPECT_THAT(log(13), HasSubstr("s later\n"));
}

TEST_F(LauncherTest, TimeLimitKillsAJobThatIgnoresSigterm) {
  // The limit leaves the shell ample time to set its trap before SIGTERM comes.
  LaunchRequest request = shell_request(12, "trap '' TERM; echo ready; while :; do sleep 1; done");
  request.time_limit_s = 2.0;
  launch(request);
  Finished finished = wait_for(JobId(12));
  ASSERT_TRUE(std::holds_alternative<TimedOut>(finished.outcome));
  EXPECT_EQ(std::get<TimedOut>(finished.outcome).signal, SIGKILL);
  EXPECT_THAT(log(12), HasSubstr("ready\n"));
  EXPECT_THAT(log(12), HasSubstr("timed out after 2s; sent SIGTERM, then SIGKILL after 1s"));
}

// A running job's limit, cut: its supervisor takes the new one at once, counted from the
// job's start, and stops the job there; the log says the limit changed, and why it ended.
TEST_F(LauncherTest, AShortenedTimeLimitStopsTheJobAtTheNewLimit) {
  LaunchRequest request = shell_request(14, "");
  request.argv = {"sleep", "300"};
  request.time_limit_s = 600.0;
  launch(request);
  ASSERT_TRUE(launcher_->set_time_limit(JobId(14), 1.0).ok());
  Finished finished = wait_for(JobId(14));
  ASSERT_TRUE(std::holds_alternative<TimedOut>(finished.outcome));
  EXPECT_EQ(std::get<TimedOut>(finished.outcome).signal, SIGTERM);
  EXPECT_THAT(log(14), HasSubstr("fastgpu: job 14's time limit changed from 10m00s to 1s, "
                                 "counted from its start\n"));
  EXPECT_THAT(log(14), HasSubstr("fastgpu: job 14 timed out after 1s; sent SIGTERM\n"));
  // Ended: there is no limit left to change.
  EXPECT_EQ(launcher_->set_time_limit(JobId(14), 5.0).code(), ErrorCode::kNotFound);
}

// Raised, and then removed: the job runs past its first limit to its own end.
TEST_F(LauncherTest, ALengthenedTimeLimitLetsTheJobRunPastItsFirst) {
  LaunchRequest request = shell_request(15, "sleep 3; echo finished");
  request.time_limit_s = 2.0;  // the change comes at once: the job has run for a moment
  launch(request);
  ASSERT_TRUE(launcher_->set_time_limit(JobId(15), 60.0).ok());
  ASSERT_TRUE(launcher_->set_time_limit(JobId(15), std::nullopt).ok());
  // The limit it has already: nothing is appended, nothing is sent.
  const std::string before = testing::read_text(run_file(15));
  ASSERT_TRUE(launcher_->set_time_limit(JobId(15), std::nullopt).ok());
  EXPECT_EQ(testing::read_text(run_file(15)), before);
  Finished finished = wait_for(JobId(15));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome)) << log(15);
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 0);
  EXPECT_THAT(log(15), HasSubstr("finished\n"));
  // Two changes close together may reach the supervisor as one (signals of a kind do not
  // queue): it reads the last from the record either way.
  EXPECT_THAT(log(15), HasSubstr("fastgpu: job 15's time limit changed from 2s to "));
  EXPECT_THAT(log(15), HasSubstr(" to none, counted from its start\n"));
  EXPECT_EQ(launcher_->set_time_limit(JobId(99), 5.0).code(), ErrorCode::kNotFound);
}

TEST_F(LauncherTest, CancelStopsTheJob) {
  LaunchRequest request = shell_request(13, "");
  request.argv = {"sleep", "300"};
  const Launched launched = launch(request);
  EXPECT_GT(launched.job_pid, 0);
  EXPECT_NE(launched.job_pid, launched.supervisor_pid);
  ASSERT_TRUE(launcher_->stop(JobId(13), StopReason::kCancel).ok());
  Finished finished = wait_for(JobId(13));
  ASSERT_TRUE(std::holds_alternative<Stopped>(finished.outcome));
  EXPECT_FALSE(std::get<Stopped>(finished.outcome).preempted);
  EXPECT_EQ(std::get<Stopped>(finished.outcome).signal, SIGTERM);  // how it ended is kept
  EXPECT_FALSE(std::get<Stopped>(finished.outcome).exit_code.has_value());
  EXPECT_THAT(log(13), HasSubstr("fastgpu: job 13 was cancelled after"));
  EXPECT_TRUE(testing::process_ended(launched.job_pid));
}

TEST_F(LauncherTest, PreemptStopsTheJobAndSaysSo) {
  const Launched launched = launch(shell_request(14, "trap '' TERM; while :; do sleep 1; done"));
  ASSERT_TRUE(launcher_->stop(JobId(14), StopReason::kPreempt).ok());
  Finished finished = wait_for(JobId(14));
  ASSERT_TRUE(std::holds_alternative<Stopped>(finished.outcome));
  EXPECT_TRUE(std::get<Stopped>(finished.outcome).preempted);
  // SIGKILL once it ignores SIGTERM; SIGTERM when that came before its trap.
  const std::optional<int> signal = std::get<Stopped>(finished.outcome).signal;
  EXPECT_TRUE(signal == SIGKILL || signal == SIGTERM) << signal.value_or(0);
  EXPECT_THAT(log(14), HasSubstr("fastgpu: job 14 was preempted after"));
  EXPECT_TRUE(testing::process_ended(launched.job_pid));
}

TEST_F(LauncherTest, CancelAfterPreemptIsACancel) {
  // The job ignores SIGTERM once it says so, so the cancel reaches the supervisor during
  // the preemption's grace period (a SIGTERM before the trap ended it as preempted at once:
  // seen once under ctest -j2).
  const Launched launched =
      launch(shell_request(15, "trap '' TERM; touch trapped; while :; do sleep 1; done"));
  ASSERT_TRUE(testing::eventually([&] { return std::filesystem::exists(dir_ / "trapped"); }));
  ASSERT_TRUE(launcher_->stop(JobId(15), StopReason::kPreempt).ok());
  ASSERT_TRUE(launcher_->stop(JobId(15), StopReason::kCancel).ok());
  Finished finished = wait_for(JobId(15));
  ASSERT_TRUE(std::holds_alternative<Stopped>(finished.outcome));
  EXPECT_FALSE(std::get<Stopped>(finished.outcome).preempted);
  EXPECT_EQ(reports_[JobId(15)], 1);
  EXPECT_TRUE(testing::process_ended(launched.job_pid));
}

TEST_F(LauncherTest, BackgroundChildrenDieWithTheJob) {
  // One child stays in the job's group; one leaves group and session with setsid.
  launch(
      shell_request(16, "sleep 300 & echo $! > stay.pid; setsid sleep 300 & echo $! > escape.pid"));
  Finished finished = wait_for(JobId(16));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  const pid_t stay = std::stoi(testing::read_text(dir_ / "stay.pid"));
  const pid_t escape = std::stoi(testing::read_text(dir_ / "escape.pid"));
  // The supervisor reaps both before it writes the outcome.
  EXPECT_TRUE(testing::process_ended(stay));
  EXPECT_TRUE(testing::process_ended(escape));
  EXPECT_THAT(log(16), HasSubstr("killed 2 leftover processes"));
}

TEST_F(LauncherTest, StopOfAnUnknownJobIsNotFound) {
  Status status = launcher_->stop(JobId(99), StopReason::kCancel);
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("job 99"));
}

TEST_F(LauncherTest, StopOfAJobThatAlreadyEndedIsHarmless) {
  launch(shell_request(17, "exit 0"));
  ASSERT_TRUE(testing::eventually([&] { return has_outcome(17); }));
  EXPECT_TRUE(launcher_->stop(JobId(17), StopReason::kCancel).ok());
  Finished finished = wait_for(JobId(17));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 0);
  EXPECT_TRUE(launcher_->poll().empty());  // reported once
}

TEST_F(LauncherTest, RunsTheJobAsAnotherUserWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  LaunchRequest request = shell_request(18, "id -u; id -g");
  request.working_dir = "/";  // our temp folder is private to root
  request.uid = 65534;        // nobody
  request.gid = 65534;        // nogroup
  launch(request);
  Finished finished = wait_for(JobId(18));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome)) << log(18);
  EXPECT_EQ(log(18), "65534\n65534\n");
  struct stat info {};
  ASSERT_EQ(::stat(log_path(18).c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 65534u);  // the user can read the log of their job
}

// The launcher looks the user up (the supervisor reads no user database): a uid alone
// gets its primary group and its groups.
TEST_F(LauncherTest, AUidAloneRunsWithThatUsersGroups) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  LaunchRequest request = shell_request(20, "id -g; id -G");
  request.working_dir = "/";
  request.uid = 65534;  // nobody, whose group is nogroup
  launch(request);
  Finished finished = wait_for(JobId(20));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome)) << log(20);
  EXPECT_EQ(log(20), "65534\n65534\n");
}

TEST_F(LauncherTest, GivenSupplementaryGroupsReachTheJob) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  LaunchRequest request = shell_request(21, "id -G");
  request.working_dir = "/";
  request.uid = 65534;
  request.gid = 65534;
  request.groups = std::vector<gid_t>{65534, 100};  // nogroup, users
  launch(request);
  Finished finished = wait_for(JobId(21));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome)) << log(21);
  EXPECT_EQ(log(21), "65534 100\n");
}

TEST_F(LauncherTest, AUidWithoutAUserOrAGidIsRefusedNamingIt) {
  LaunchRequest request = shell_request(22, "true");
  request.uid = 3'999'999;  // no passwd entry
  Result<Launched> launched = launcher_->launch(request);
  ASSERT_FALSE(launched.ok());
  EXPECT_THAT(launched.status().message(), HasSubstr("no user with uid 3999999"));
}

TEST_F(LauncherTest, WorkingFolderTheJobsUserMayNotEnterIsALaunchFailure) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  LaunchRequest request = shell_request(19, "echo should-not-run");
  request.uid = 65534;  // dir_ is mode 0700, owned by root
  request.gid = 65534;
  launch(request);
  Finished finished = wait_for(JobId(19));
  ASSERT_TRUE(std::holds_alternative<LaunchFailed>(finished.outcome));
  EXPECT_THAT(std::get<LaunchFailed>(finished.outcome).message, HasSubstr("Permission denied"));
}

}  // namespace
}  // namespace fastgpu::exec
