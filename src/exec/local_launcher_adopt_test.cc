// LocalLauncher across a daemon restart (adopt), a supervisor that dies (Lost), bad input,
// and attribution of a job's processes to the job.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <optional>

#include "exec/job_cgroup.h"
#include "exec/launcher_test_fixture.h"
#include "exec/run_files.h"
#include "fastgpu/exec/local_launcher.h"
#include "fastgpu/exec/process_tree.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::exec {
namespace {

using ::testing::HasSubstr;
using testing::LauncherTest;

// Waits for the file at `path` to exist and returns its content.
std::string await_file(const std::filesystem::path& path) {
  EXPECT_TRUE(testing::eventually([&] { return std::filesystem::exists(path); }))
      << path << " never appeared";
  return testing::read_text(path);
}

TEST_F(LauncherTest, SecondLauncherAdoptsARunningJobAndReportsItsRealOutcome) {
  const Launched launched =
      launch(shell_request(1, "while [ ! -e go ]; do sleep 0.05; done; echo went; exit 4"));
  launcher_.reset();  // the daemon goes away; the job keeps running
  EXPECT_FALSE(testing::process_ended(launched.job_pid));

  std::unique_ptr<Launcher> second = make_launcher();
  ASSERT_TRUE(second->adopt(JobId(1), launched.supervisor_pid, run_file(1)).ok());
  EXPECT_TRUE(second->poll().empty());  // still waiting for "go"
  { std::ofstream(dir_ / "go") << ""; }
  Finished finished = wait_for(*second, JobId(1));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 4);
  EXPECT_EQ(finished.started, launched.started);
  EXPECT_THAT(log(1), HasSubstr("went\n"));
  EXPECT_TRUE(second->poll().empty());
}

TEST_F(LauncherTest, AdoptWithoutAPidFindsTheSupervisorInTheRunRecord) {
  launch(shell_request(2, "while [ ! -e go ]; do sleep 0.05; done"));
  launcher_.reset();
  std::unique_ptr<Launcher> second = make_launcher();
  ASSERT_TRUE(second->adopt(JobId(2), 0, run_file(2)).ok());
  // Stop works on an adopted job: the supervisor gets the signal.
  ASSERT_TRUE(second->stop(JobId(2), StopReason::kPreempt).ok());
  Finished finished = wait_for(*second, JobId(2));
  ASSERT_TRUE(std::holds_alternative<Stopped>(finished.outcome));
  EXPECT_TRUE(std::get<Stopped>(finished.outcome).preempted);
}

TEST_F(LauncherTest, AdoptOfAJobThatEndedMeanwhileReportsItsOutcome) {
  launch(shell_request(3, "exit 5"));
  launcher_.reset();
  ASSERT_TRUE(testing::eventually([&] { return has_outcome(3); }));
  std::unique_ptr<Launcher> second = make_launcher();
  ASSERT_TRUE(second->adopt(JobId(3), 0, run_file(3)).ok());
  Finished finished = wait_for(*second, JobId(3));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 5);
}

TEST_F(LauncherTest, AdoptWithoutPidOrRecordIsNotFound) {
  Status status = launcher_->adopt(JobId(4), 0, run_file(4));
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("never started"));
  EXPECT_THAT(status.message(), HasSubstr(run_file(4).string()));
  // An earlier version's run folder that holds none of its files: never started either.
  std::filesystem::create_directories(dir_ / "runs" / "4" / "1");
  EXPECT_EQ(launcher_->adopt(JobId(4), 0, dir_ / "runs" / "4" / "1").code(), ErrorCode::kNotFound);
  EXPECT_EQ(launcher_->stop(JobId(4), StopReason::kCancel).code(), ErrorCode::kNotFound);
}

// A daemon upgraded while a job ran: the run was started by an earlier version, which kept
// a folder of files (runs/<id>/<attempt>/) instead of one record.
TEST_F(LauncherTest, AdoptReadsARunFolderOfAnEarlierVersion) {
  const std::filesystem::path folder = dir_ / "runs" / "6" / "1";
  std::filesystem::create_directories(folder);
  std::ofstream(folder / "job.pid") << "{\"pid\": 999999, \"started_us\": 1000000}\n";
  std::ofstream(folder / "outcome.json") << "{\"outcome\": \"exited\", \"exit_code\": 6, "
                                            "\"started_us\": 1000000, \"ended_us\": 3000000}\n";
  ASSERT_TRUE(launcher_->adopt(JobId(6), 0, folder).ok());
  Finished finished = wait_for(JobId(6));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome));
  EXPECT_EQ(std::get<Exited>(finished.outcome).code, 6);
  EXPECT_EQ(finished.ended.time_since_epoch().count(), 3000000);
}

TEST_F(LauncherTest, AdoptedPidThatNowBelongsToAnotherProcessIsNotSignalled) {
  // The record names our own process with a start time it never had: a reused pid.
  ASSERT_TRUE(start_run_record(run_file(5), {::getpid(), 1}).ok());
  ASSERT_TRUE(launcher_->adopt(JobId(5), ::getpid(), run_file(5)).ok());
  EXPECT_TRUE(launcher_->stop(JobId(5), StopReason::kCancel).ok());  // and we are alive
  Finished finished = wait_for(JobId(5));
  ASSERT_TRUE(std::holds_alternative<Lost>(finished.outcome));
  EXPECT_THAT(std::get<Lost>(finished.outcome).message, HasSubstr("another process"));
}

// A supervisor of an earlier version dies of SIGUSR2 (it does not handle it): it is sent
// none, and a change of its job's limit is refused, saying why. Its record's job line has no
// time limit; the "supervisor" here is a plain process in a session of its own.
TEST_F(LauncherTest, ASupervisorOfAnEarlierVersionIsNotAskedToChangeItsLimit) {
  const pid_t old = ::fork();
  if (old == 0) {
    ::setsid();
    ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(old, 0);
  const std::optional<ProcStat> stat = read_proc_stat(old);
  ASSERT_TRUE(stat);
  ASSERT_TRUE(start_run_record(run_file(6), {old, stat->start_time_ticks}).ok());
  ASSERT_TRUE(append_job_pid(run_file(6), {old, wall_now()}).ok());
  ASSERT_TRUE(launcher_->adopt(JobId(6), old, run_file(6)).ok());
  const Status refused = launcher_->set_time_limit(JobId(6), 60.0);
  EXPECT_EQ(refused.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(),
              HasSubstr("job 6's supervisor was started by an earlier version of FastGPU, "
                        "which cannot change a running job's time limit"));
  EXPECT_THAT(testing::read_text(run_file(6)), ::testing::Not(HasSubstr("limit")));
  EXPECT_FALSE(testing::process_ended(old));
  ::kill(old, SIGKILL);
  int status = 0;
  ::waitpid(old, &status, 0);
}

TEST_F(LauncherTest, SupervisorKilledWithSigkillIsLostAndItsJobIsCleanedUp) {
  LaunchRequest request = shell_request(6, "");
  request.argv = {"sleep", "300"};
  const Launched launched = launch(request);
  ASSERT_EQ(::kill(launched.supervisor_pid, SIGKILL), 0);
  Finished finished = wait_for(JobId(6));
  ASSERT_TRUE(std::holds_alternative<Lost>(finished.outcome));
  const std::string& message = std::get<Lost>(finished.outcome).message;
  EXPECT_THAT(message, HasSubstr("without writing an outcome"));
  EXPECT_THAT(message, HasSubstr("signal 9"));
  // Nothing else would ever stop the orphaned job, so the launcher kills it.
  EXPECT_TRUE(testing::eventually([&] { return testing::process_ended(launched.job_pid); }));
}

TEST_F(LauncherTest, GrandchildrenAreAttributedToTheirJob) {
  launch(shell_request(7, "true"));  // another job, to attribute against
  const Launched launched = launch(shell_request(
      8, "sleep 300 & echo $! > a.tmp; setsid sleep 300 & echo $! >> a.tmp; mv a.tmp a.pid; wait"));
  std::istringstream pids(await_file(dir_ / "a.pid"));
  pid_t in_session = 0;
  pid_t own_session = 0;
  pids >> in_session >> own_session;
  ASSERT_GT(in_session, 0);
  ASSERT_GT(own_session, 0);
  EXPECT_EQ(session_of(in_session), launched.supervisor_pid);

  const std::unordered_map<pid_t, JobId> supervisors = {{launched.supervisor_pid, JobId(8)},
                                                        {supervisors_.front(), JobId(7)}};
  std::unordered_map<pid_t, JobId> jobs = attribute_pids(
      {in_session, own_session, launched.job_pid, ::getpid(), 999'999'999}, supervisors);
  EXPECT_EQ(jobs.size(), 3u);  // not us, not a pid that does not exist
  EXPECT_EQ(jobs[in_session], JobId(8));
  EXPECT_EQ(jobs[own_session], JobId(8));  // by its parents, as it left the session
  EXPECT_EQ(jobs[launched.job_pid], JobId(8));

  ASSERT_TRUE(launcher_->stop(JobId(8), StopReason::kCancel).ok());
  EXPECT_TRUE(std::holds_alternative<Stopped>(wait_for(JobId(8)).outcome));
  EXPECT_TRUE(testing::process_ended(in_session));
  EXPECT_TRUE(testing::process_ended(own_session));
}

// Whether this machine lets us make run cgroups (cgroup v2, and root or a delegated
// subtree); where it does not, the process tree is all there is and these tests skip.
bool run_cgroups_here() {
  return JobCgroup::create("probe.1", ::getpid()).has_value();  // removed at once
}

std::filesystem::path run_cgroup_dir(const std::string& run, pid_t supervisor) {
  auto read = [](const char* path) { return testing::read_text(path); };
  std::optional<std::filesystem::path> own =
      own_cgroup_dir(read("/proc/self/mountinfo"), read("/proc/self/cgroup"));
  return own ? *own / job_cgroup_name(run, supervisor) : std::filesystem::path();
}

TEST_F(LauncherTest, ACpuOnlyJobGetsNoCgroup) {
  if (!run_cgroups_here()) GTEST_SKIP() << "no cgroup v2 hierarchy we may write to";
  LaunchRequest request = shell_request(24, "cat /proc/self/cgroup");
  request.run_file = dir_ / "24.1.jsonl";
  launch(request);
  ASSERT_TRUE(std::holds_alternative<Exited>(wait_for(JobId(24)).outcome)) << log(24);
  EXPECT_FALSE(run_of_cgroup_file(log(24)).has_value()) << log(24);
}

TEST_F(LauncherTest, AJobRunsInItsRunsOwnCgroupWhichGoesWithIt) {
  if (!run_cgroups_here()) GTEST_SKIP() << "no cgroup v2 hierarchy we may write to";
  LaunchRequest request = shell_request(22, "cat /proc/self/cgroup");
  request.run_file = dir_ / "22.1.jsonl";
  request.gpus = {0};  // only a job on GPUs gets one
  const Launched launched = launch(request);
  Finished finished = wait_for(JobId(22));
  ASSERT_TRUE(std::holds_alternative<Exited>(finished.outcome)) << log(22);
  const std::optional<CgroupRun> run = run_of_cgroup_file(log(22));
  ASSERT_TRUE(run.has_value()) << log(22);
  EXPECT_EQ(run->job, JobId(22));
  EXPECT_EQ(run->supervisor, launched.supervisor_pid);
  // Removed before the end was reported.
  EXPECT_FALSE(std::filesystem::exists(run_cgroup_dir("22.1", launched.supervisor_pid)));
}

// A process that left the job's session, and whose supervisor was killed so that it left
// the process tree too, is still the job's: by its cgroup it is attributed, and killed.
TEST_F(LauncherTest, ACgroupKeepsAProcessThatLeftSessionAndTreeWithItsJob) {
  if (!run_cgroups_here()) GTEST_SKIP() << "no cgroup v2 hierarchy we may write to";
  LaunchRequest request =
      shell_request(23, "sh -c 'setsid sleep 300 & echo $! > a.tmp; mv a.tmp a.pid'; sleep 300");
  request.run_file = dir_ / "23.1.jsonl";
  request.gpus = {0};
  const Launched launched = launch(request);
  const pid_t escaped = std::stoi(await_file(dir_ / "a.pid"));
  ASSERT_EQ(::kill(launched.supervisor_pid, SIGKILL), 0);
  ASSERT_TRUE(testing::eventually([&] {
    // Its own session (the pid file can be written before setsid runs), and re-parented
    // away from the supervisor.
    std::optional<ProcStat> stat = read_proc_stat(escaped);
    return stat && stat->session == escaped && stat->parent_pid != launched.supervisor_pid;
  }));
  ASSERT_NE(session_of(escaped), launched.supervisor_pid);
  const auto jobs = attribute_pids({escaped}, {{launched.supervisor_pid, JobId(23)}});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs.at(escaped), JobId(23));

  Finished finished = wait_for(JobId(23));
  ASSERT_TRUE(std::holds_alternative<Lost>(finished.outcome));
  EXPECT_TRUE(testing::eventually([&] { return testing::process_ended(escaped); }));
  EXPECT_TRUE(testing::eventually(
      [&] { return !std::filesystem::exists(run_cgroup_dir("23.1", launched.supervisor_pid)); }));
}

TEST_F(LauncherTest, RejectsBadRequestsWithAClearError) {
  auto error_of = [&](const LaunchRequest& request) {
    Result<Launched> launched = launcher_->launch(request);
    EXPECT_FALSE(launched.ok());
    return launched.ok() ? Status{} : launched.status();
  };
  LaunchRequest both = shell_request(9, "echo hi");
  both.argv = {"echo"};
  EXPECT_THAT(error_of(both).message(), HasSubstr("exactly one"));
  EXPECT_THAT(error_of(shell_request(9, "")).message(), HasSubstr("both are empty"));

  LaunchRequest relative = shell_request(9, "true");
  relative.working_dir = "projects/run";
  Status status = error_of(relative);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'projects/run' is not an absolute path"));

  LaunchRequest bad_env = shell_request(9, "true");
  bad_env.environment.push_back("NO_EQUALS_SIGN");
  EXPECT_THAT(error_of(bad_env).message(), HasSubstr("'NO_EQUALS_SIGN'"));

  LaunchRequest bad_limit = shell_request(9, "true");
  bad_limit.time_limit_s = -1;
  EXPECT_THAT(error_of(bad_limit).message(), HasSubstr("time limit"));
  bad_limit.time_limit_s = std::nan("");
  EXPECT_THAT(error_of(bad_limit).message(), HasSubstr("time limit"));

  LaunchRequest bad_grace = shell_request(9, "true");
  bad_grace.kill_grace_s = -2;
  EXPECT_THAT(error_of(bad_grace).message(), HasSubstr("kill grace"));
  EXPECT_FALSE(std::filesystem::exists(run_file(9)));  // nothing was started
}

TEST_F(LauncherTest, UnwritableLogFailsTheLaunchAndNamesTheLog) {
  LaunchRequest request = shell_request(10, "echo hi");
  request.log_path = dir_ / "no-such-folder" / "job.log";
  Result<Launched> launched = launcher_->launch(request);
  ASSERT_FALSE(launched.ok());
  EXPECT_THAT(launched.status().message(), HasSubstr(request.log_path.string()));
  EXPECT_TRUE(launcher_->poll().empty());
  // The launcher tracks nothing for it, and may launch it again.
  request.log_path = log_path(10);
  launch(request);
  EXPECT_TRUE(std::holds_alternative<Exited>(wait_for(JobId(10)).outcome));
}

TEST_F(LauncherTest, SameJobCannotRunTwiceAtOnce) {
  launch(shell_request(11, "while [ ! -e go ]; do sleep 0.05; done"));
  Result<Launched> again = launcher_->launch(shell_request(11, "true"));
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("job 11 is already running"));
  { std::ofstream(dir_ / "go") << ""; }
  EXPECT_TRUE(std::holds_alternative<Exited>(wait_for(JobId(11)).outcome));
}

TEST_F(LauncherTest, BegunLaunchesSettleOnceEachAndABadRequestAtOnce) {
  std::vector<LaunchRequest> requests;
  for (std::uint64_t id = 21; id <= 24; ++id) {
    requests.push_back(shell_request(id, "echo job $FASTGPU_JOB_ID"));
  }
  requests[2].working_dir = "relative-folder";    // refused before anything is spawned
  requests.push_back(shell_request(21, "true"));  // the same job twice
  std::vector<LaunchResult> settled = launcher_->begin_launches(requests);
  ASSERT_EQ(settled.size(), 2u);
  EXPECT_EQ(settled[0].job, JobId(23));
  EXPECT_THAT(settled[0].launched.status().message(), HasSubstr("relative-folder"));
  EXPECT_EQ(settled[1].job, JobId(21));
  EXPECT_THAT(settled[1].launched.status().message(), HasSubstr("already running"));

  std::map<JobId, Launched> started;
  ASSERT_TRUE(testing::eventually([&] {
    for (LaunchResult& result : launcher_->poll_launches()) {
      EXPECT_TRUE(result.launched.ok()) << result.launched.status().to_string();
      EXPECT_FALSE(started.contains(result.job)) << "job " << result.job << " settled twice";
      if (result.launched.ok()) started[result.job] = *result.launched;
    }
    return started.size() == 3;
  }));
  for (const auto& [job, launched] : started) {
    supervisors_.push_back(launched.supervisor_pid);
    EXPECT_GT(launched.job_pid, 0);
  }
  std::map<JobId, Finished> ended;  // poll() reports each end once, in any order
  ASSERT_TRUE(testing::eventually([&] {
    for (Finished& finished : launcher_->poll()) ended.emplace(finished.job, std::move(finished));
    return ended.size() == 3;
  }));
  for (std::uint64_t id : {21u, 22u, 24u}) {
    ASSERT_TRUE(std::holds_alternative<Exited>(ended.at(JobId(id)).outcome)) << "job " << id;
    EXPECT_EQ(log(id), "job " + std::to_string(id) + "\n");
  }
  EXPECT_TRUE(launcher_->poll_launches().empty());
}

// A job cancelled while its supervisor is still starting: the stop waits for the job to
// exist, then ends it, and nothing is left running.
TEST_F(LauncherTest, StopOfALaunchNotYetSettledStopsTheJobOnceItRuns) {
  const std::vector<LaunchRequest> requests = {shell_request(25, "sleep 60")};
  ASSERT_TRUE(launcher_->begin_launches(requests).empty());
  ASSERT_TRUE(launcher_->stop(JobId(25), StopReason::kCancel).ok());
  std::optional<LaunchResult> settled;
  ASSERT_TRUE(testing::eventually([&] {
    for (LaunchResult& result : launcher_->poll_launches()) settled = std::move(result);
    return settled.has_value();
  }));
  if (settled->launched.ok()) supervisors_.push_back(settled->launched->supervisor_pid);
  const Finished finished = wait_for(JobId(25));
  ASSERT_TRUE(std::holds_alternative<Stopped>(finished.outcome));
  EXPECT_FALSE(std::get<Stopped>(finished.outcome).preempted);
}

// A daemon killed between spawning a supervisor and reading its report: the supervisor
// finds nobody on the other end of its pipe and does not start the job, leaving no run
// record, as if it never ran, so the next daemon queues the job again (it may already have).
TEST_F(LauncherTest, SupervisorWhoseDaemonDiedBeforeItsReportDoesNotStartTheJob) {
  const LaunchRequest request = shell_request(31, "echo ran > ran.txt");
  const std::filesystem::path request_file = dir_ / "request.json";
  std::ofstream(request_file) << request_to_json(request);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // the daemon is gone: nobody will read the report
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fds[1], 3);
    const int request_fd = ::open(request_file.c_str(), O_RDONLY);
    if (request_fd < 0 || ::dup2(request_fd, STDIN_FILENO) < 0) ::_exit(126);
    ::execl(FASTGPU_SUPERVISOR_PATH, FASTGPU_SUPERVISOR_PATH, run_file(31).c_str(), "--notify-fd",
            "3", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ran.txt"));
  EXPECT_FALSE(std::filesystem::exists(run_file(31)));
  EXPECT_EQ(launcher_->adopt(JobId(31), 0, run_file(31)).code(), ErrorCode::kNotFound);
}

// A stand-in supervisor program: a shell script with the given body.
std::filesystem::path write_script(const std::filesystem::path& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

TEST_F(LauncherTest, SupervisorThatExitsWithoutAReportFailsTheLaunch) {
  Result<std::unique_ptr<Launcher>> made = make_local_launcher(
      LocalLauncherOptions{write_script(dir_ / "quiet-supervisor", "echo oops >&2; exit 3"), 30.0});
  ASSERT_TRUE(made.ok());
  Result<Launched> launched = (*made)->launch(shell_request(12, "true"));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(launched.status().message(), HasSubstr("exited without a report"));
  EXPECT_THAT(testing::read_text(supervisor_log_of(run_file(12))), HasSubstr("oops"));
  EXPECT_TRUE((*made)->poll().empty());  // nothing to report for a job that never started
}

TEST_F(LauncherTest, SupervisorThatStaysSilentFailsTheLaunchAfterTheTimeout) {
  Result<std::unique_ptr<Launcher>> made = make_local_launcher(
      LocalLauncherOptions{write_script(dir_ / "silent-supervisor", "exec sleep 300"), 0.5});
  ASSERT_TRUE(made.ok());
  Result<Launched> launched = (*made)->launch(shell_request(13, "true"));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(launched.status().message(), HasSubstr("no report after"));
  EXPECT_TRUE((*made)->poll().empty());
}

TEST_F(LauncherTest, SupervisorProgramRemovedAfterStartFailsTheLaunchAndNamesIt) {
  const std::filesystem::path copy = dir_ / "fastgpu-supervisor";
  std::filesystem::copy_file(FASTGPU_SUPERVISOR_PATH, copy);
  Result<std::unique_ptr<Launcher>> made = make_local_launcher(LocalLauncherOptions{copy, 30.0});
  ASSERT_TRUE(made.ok());
  std::filesystem::remove(copy);
  Result<Launched> launched = (*made)->launch(shell_request(14, "true"));
  ASSERT_FALSE(launched.ok());
  EXPECT_THAT(launched.status().message(), HasSubstr(copy.string()));
}

// A runs/ folder that cannot take the supervisors' log (read-only, or full; here the log's
// name taken by a folder) was told as the supervisor program's fault.
TEST_F(LauncherTest, ASupervisorsLogThatCannotBeOpenedIsNamedNotTheProgram) {
  Result<std::unique_ptr<Launcher>> made =
      make_local_launcher(LocalLauncherOptions{FASTGPU_SUPERVISOR_PATH, 30.0});
  ASSERT_TRUE(made.ok());
  std::filesystem::create_directories(supervisor_log_of(run_file(15)));
  Result<Launched> launched = (*made)->launch(shell_request(15, "true"));
  ASSERT_FALSE(launched.ok());
  EXPECT_THAT(launched.status().message(),
              HasSubstr("cannot open the supervisors' log '" +
                        supervisor_log_of(run_file(15)).string() + "'"));
  EXPECT_THAT(launched.status().message(), HasSubstr("check that its folder is writable"));
}

TEST(LocalLauncherOptionsTest, MissingSupervisorProgramIsNotFoundAndNamed) {
  Result<std::unique_ptr<Launcher>> made =
      make_local_launcher(LocalLauncherOptions{"/nonexistent/fastgpu-supervisor", 30.0});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(made.status().message(), HasSubstr("'/nonexistent/fastgpu-supervisor'"));
}

TEST(LocalLauncherOptionsTest, NonPositiveStartTimeoutIsRejected) {
  Result<std::unique_ptr<Launcher>> made =
      make_local_launcher(LocalLauncherOptions{FASTGPU_SUPERVISOR_PATH, 0.0});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), ErrorCode::kInvalidArgument);
}

TEST(LocalLauncherOptionsTest, DefaultSupervisorSitsBesideTheRunningProgram) {
  EXPECT_EQ(default_supervisor_path().filename(), "fastgpu-supervisor");
  EXPECT_EQ(default_supervisor_path().parent_path(),
            std::filesystem::read_symlink("/proc/self/exe").parent_path());
}

}  // namespace
}  // namespace fastgpu::exec
