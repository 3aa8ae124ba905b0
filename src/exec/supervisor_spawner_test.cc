#include "exec/supervisor_spawner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "exec/launcher_test_fixture.h"
#include "exec/spawn_supervisor.h"
#include "fastgpu/exec/process_tree.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace fastgpu::exec {
namespace {

using ::testing::HasSubstr;
using testing::LauncherTest;

// /proc/PID/cmdline with its NULs as spaces.
std::string command_line(pid_t pid) {
  std::string text = testing::read_text("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

// Our children whose command line holds `needle`.
std::vector<pid_t> children_with(const std::string& needle) {
  std::vector<pid_t> found;
  for (pid_t pid : list_pids()) {
    std::optional<ProcStat> stat = read_proc_stat(pid);
    if (stat && stat->parent_pid == ::getpid() && stat->state != 'Z' &&
        command_line(pid).find(needle) != std::string::npos) {
      found.push_back(pid);
    }
  }
  return found;
}

TEST_F(LauncherTest, EachSupervisorIsAClonedChildOfOursInItsOwnSessionNamedByItsRun) {
  const Launched first = launch(shell_request(1, "sleep 30"));
  const Launched second = launch(shell_request(2, "sleep 30"));
  for (const Launched& launched : {first, second}) {
    std::optional<ProcStat> stat = read_proc_stat(launched.supervisor_pid);
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->parent_pid, ::getpid()) << "a supervisor must be the launcher's own child";
    EXPECT_EQ(stat->session, launched.supervisor_pid) << "and lead its own session";
    std::optional<ProcStat> job = read_proc_stat(launched.job_pid);
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->parent_pid, launched.supervisor_pid);
  }
  EXPECT_THAT(command_line(first.supervisor_pid), HasSubstr("fastgpu-supervisor run-1"));
  EXPECT_THAT(command_line(second.supervisor_pid), HasSubstr("fastgpu-supervisor run-2"));
  // Both came from one spawner, not from an exec each.
  EXPECT_EQ(children_with("--spawner").size(), 1u);
  EXPECT_TRUE(children_with("--notify-fd").empty());

  for (std::uint64_t id : {1, 2}) {  // one at a time: a poll reports every end it finds
    ASSERT_TRUE(launcher_->stop(JobId(id), StopReason::kCancel).ok());
    EXPECT_TRUE(std::holds_alternative<Stopped>(wait_for(JobId(id)).outcome));
  }
  launcher_.reset();  // the spawner exits with its launcher
  EXPECT_TRUE(children_with("--spawner").empty());
}

TEST_F(LauncherTest, WithoutTheSpawnerEachSupervisorIsStartedByAnExecOfItsOwn) {
  LocalLauncherOptions options{FASTGPU_SUPERVISOR_PATH, 30.0};
  options.use_spawner = false;
  Result<std::unique_ptr<Launcher>> made = make_local_launcher(options);
  ASSERT_TRUE(made.ok());
  const Launched launched = launch(**made, shell_request(3, "sleep 30"));
  EXPECT_THAT(command_line(launched.supervisor_pid), HasSubstr("--notify-fd"));
  EXPECT_TRUE(children_with("--spawner").empty());
  ASSERT_TRUE((*made)->stop(JobId(3), StopReason::kCancel).ok());
  EXPECT_TRUE(std::holds_alternative<Stopped>(wait_for(**made, JobId(3)).outcome));
}

// Starts a supervisor for `request` through start_supervisor with `spawner`, and waits
// for it to end.
void run_one(const LaunchRequest& request, SupervisorSpawner& spawner) {
  Result<SpawnedSupervisor> spawned = start_supervisor(FASTGPU_SUPERVISOR_PATH, request.run_file,
                                                       request_to_json(request), &spawner);
  ASSERT_TRUE(spawned.ok()) << spawned.status().to_string();
  Result<SupervisorReport> report = await_supervisor_report(*spawned, request.run_file, 30.0);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_TRUE(report->started) << report->message;
  int status = 0;
  ASSERT_EQ(::waitpid(spawned->pid, &status, 0), spawned->pid);  // our child either way
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

class SpawnerTest : public LauncherTest {};

TEST_F(SpawnerTest, AKilledSpawnerCostsNoLaunchAndIsReplaced) {
  SupervisorSpawner spawner(FASTGPU_SUPERVISOR_PATH);
  run_one(shell_request(1, "echo one"), spawner);
  const pid_t first = spawner.pid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // The request finds it dead: the supervisor is spawned the plain way instead.
  run_one(shell_request(2, "echo two"), spawner);
  EXPECT_EQ(spawner.pid(), 0);
  // The next launch starts a new spawner.
  run_one(shell_request(3, "echo three"), spawner);
  EXPECT_GT(spawner.pid(), 0);
  EXPECT_NE(spawner.pid(), first);
  EXPECT_EQ(log(1), "one\n");
  EXPECT_EQ(log(2), "two\n");
  EXPECT_EQ(log(3), "three\n");
}

TEST_F(SpawnerTest, ASpawnerThatDiedIsReapedWithoutWaitingForTheNextLaunch) {
  SupervisorSpawner spawner(FASTGPU_SUPERVISOR_PATH);
  run_one(shell_request(1, "true"), spawner);
  const pid_t pid = spawner.pid();
  ASSERT_GT(pid, 0);
  spawner.reap_if_exited();  // alive: kept
  EXPECT_EQ(spawner.pid(), pid);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(testing::eventually([&] {
    spawner.reap_if_exited();
    return spawner.pid() == 0;
  }));
  EXPECT_FALSE(read_proc_stat(pid).has_value()) << "reaped, not a zombie";
}

TEST_F(SpawnerTest, StopsTryingAfterSpawnersThatDoNotServe) {
  SupervisorSpawner spawner("/bin/true");  // starts, and exits without answering
  const LaunchRequest request = shell_request(1, "true");
  for (int i = 0; i < SupervisorSpawner::kMaxFailures; ++i) {
    Result<pid_t> pid = spawner.spawn(request.run_file, log_path(1), 0, 1);
    ASSERT_FALSE(pid.ok());
    EXPECT_THAT(pid.status().message(), HasSubstr("the spawner"));
  }
  Result<pid_t> after = spawner.spawn(request.run_file, log_path(1), 0, 1);
  ASSERT_FALSE(after.ok());
  EXPECT_THAT(after.status().message(), HasSubstr("not used any more"));
  EXPECT_EQ(spawner.pid(), 0);
  // start_supervisor still starts the supervisor, by an exec of its own.
  run_one(request, spawner);
}

TEST_F(SpawnerTest, AMalformedRequestIsAnsweredAndTheSpawnerServesOn) {
  int ends[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, ends[1], 3);
  std::string program = FASTGPU_SUPERVISOR_PATH;
  std::string option = "--spawner";
  std::string fd = "3";
  std::array<char*, 4> argv{program.data(), option.data(), fd.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ), 0);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(ends[1]);
  // (An empty message would read as the end of the socket; the launcher never sends one.)
  for (const std::string& request : {std::string("no descriptors"), std::string("a\0b\0", 4)}) {
    ASSERT_EQ(::send(ends[0], request.data(), request.size(), 0),
              static_cast<ssize_t>(request.size()));
    std::array<char, 256> answer{};
    const ssize_t got = ::recv(ends[0], answer.data(), answer.size(), 0);
    ASSERT_GT(got, 0);
    EXPECT_THAT(std::string(answer.data(), static_cast<std::size_t>(got)),
                HasSubstr("error malformed request (0 descriptors"));
  }
  ::close(ends[0]);  // the launcher is gone: the spawner exits
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace fastgpu::exec
