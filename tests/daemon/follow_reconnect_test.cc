// End-to-end: the verbs that follow jobs until they end (`logs -f`, `wait`, `run`) ride over
// a daemon that goes away meanwhile (killed, or stopped), as the jobs do: they start it
// again, say so once on stderr, and carry on from where they were. The built `fastgpu`
// binary on a private socket, real job processes, simulated GPUs.
//
// Each job holds back the second half of its output until the test creates the file "go",
// so the daemon is always gone before the job ends, however slow the machine.

#include <signal.h>

#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <sstream>

#include "daemon/daemon_harness.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using test_support::contains;
using test_support::DaemonHarness;

// Prints "line 1" to "line 10", waits for ./go (a minute at most, so that a failed test
// leaves no job behind), then prints "line 11" to "line 30" a little apart.
constexpr const char* kGatedJob =
    "for i in $(seq 1 10); do echo line $i; done; "
    "n=0; while [ ! -e go ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; "
    "for i in $(seq 11 30); do echo line $i; sleep 0.02; done";

std::string all_lines() {
  std::string text;
  for (int i = 1; i <= 30; ++i) text += "line " + std::to_string(i) + "\n";
  return text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Polls `condition` for up to a minute; whether it came true.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void release_jobs(const DaemonHarness& daemon) { std::ofstream(daemon.work() / "go") << "go\n"; }

// SIGKILL to the daemon, as a crash would end it: it cleans nothing up.
void kill_daemon(const DaemonHarness& daemon) {
  const std::optional<pid_t> pid = daemon.answering_pid();
  ASSERT_TRUE(pid) << "no daemon answers; the end of its log:\n" << daemon.daemon_log_tail();
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
}

// True once a daemon answers again (`daemon status` starts none itself).
bool daemon_answers(const DaemonHarness& daemon) {
  return daemon.fastgpu("daemon status").exit_code == 0;
}

// A `fastgpu ARGS` run in the background, its stdout and stderr in files the test reads
// while it runs.
class Follower {
 public:
  Follower(const DaemonHarness& daemon, const std::string& args, const std::string& name)
      : out_(daemon.work() / (name + ".out")), errors_(daemon.work() / (name + ".err")) {
    exit_code_ = std::async(std::launch::async, [&daemon, args, this] {
      return daemon.fastgpu_into(args, out_, errors_);
    });
  }
  std::string output() const { return read_file(out_); }
  std::string errors() const { return read_file(errors_); }
  int exit_code() { return exit_code_.get(); }

 private:
  std::filesystem::path out_, errors_;
  std::future<int> exit_code_;
};

TEST(FollowAcrossRestart, LogsFollowPrintsEveryLineOnceAcrossAKillNine) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit("--gpus 0 --wrap " + DaemonHarness::quoted(kGatedJob));
  ASSERT_GT(id, 0u);
  Follower logs(daemon, "logs -f " + std::to_string(id), "logs");
  ASSERT_TRUE(eventually([&] { return contains(logs.output(), "line 10\n"); })) << logs.errors();

  kill_daemon(daemon);
  release_jobs(daemon);  // the rest of the output is written while no daemon or a new one runs

  EXPECT_EQ(logs.exit_code(), 0) << logs.errors();
  EXPECT_EQ(logs.output(), all_lines());
  EXPECT_TRUE(contains(logs.errors(), "went away; started a new one")) << logs.errors();
  EXPECT_EQ(daemon.job(id)["state"], "COMPLETED");
}

// The daemon a follower starts again is not the follower's child: a daemon stopped while
// the follower runs on is reaped by init, not left a zombie of the follower until it ends.
TEST(FollowAcrossRestart, TheDaemonAFollowerStartsIsNotItsChild) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit("--gpus 0 --wrap " + DaemonHarness::quoted(kGatedJob));
  ASSERT_GT(id, 0u);
  Follower logs(daemon, "logs -f " + std::to_string(id), "logs");
  ASSERT_TRUE(eventually([&] { return contains(logs.output(), "line 10\n"); })) << logs.errors();
  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  ASSERT_TRUE(eventually([&] { return daemon_answers(daemon); })) << logs.errors();

  const std::optional<pid_t> restarted = daemon.answering_pid();
  ASSERT_TRUE(restarted) << daemon.daemon_log_tail();
  std::ifstream stat("/proc/" + std::to_string(*restarted) + "/stat");
  std::string line;
  std::getline(stat, line);
  // "PID (COMM) STATE PPID ...": COMM may hold spaces, so read after its last ')'.
  std::istringstream after_comm(line.substr(line.rfind(')') + 1));
  std::string state;
  pid_t parent = 0;
  after_comm >> state >> parent;
  ASSERT_GT(parent, 0) << line;
  std::error_code error;
  const std::filesystem::path parent_program =
      std::filesystem::read_symlink("/proc/" + std::to_string(parent) + "/exe", error);
  EXPECT_NE(parent_program, std::filesystem::canonical(FASTGPU_CLI_PATH))
      << "the daemon (pid " << *restarted << ") is the child of `fastgpu logs -f` (pid " << parent
      << ")";

  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  release_jobs(daemon);
  EXPECT_EQ(logs.exit_code(), 0) << logs.errors();
  EXPECT_EQ(logs.output(), all_lines());
}

TEST(FollowAcrossRestart, WaitKeepsWaitingAcrossADaemonStop) {
  DaemonHarness daemon;
  const std::uint64_t quick = daemon.submit("--gpus 0 -- true");
  const std::uint64_t gated = daemon.submit("--gpus 0 --wrap " + DaemonHarness::quoted(kGatedJob));
  ASSERT_GT(quick, 0u);
  ASSERT_GT(gated, 0u);
  Follower wait(daemon, "wait " + std::to_string(quick) + " " + std::to_string(gated), "wait");
  // The quick job's line says the follower is past its start and waiting.
  ASSERT_TRUE(eventually([&] { return contains(wait.output(), "COMPLETED"); })) << wait.errors();

  const test_support::CliRun stopped = daemon.fastgpu("daemon stop");
  ASSERT_EQ(stopped.exit_code, 0) << stopped.output;
  // Nothing but the follower starts the next daemon.
  ASSERT_TRUE(eventually([&] { return daemon_answers(daemon); })) << wait.errors();
  release_jobs(daemon);

  EXPECT_EQ(wait.exit_code(), 0) << wait.output() << wait.errors();
  EXPECT_TRUE(contains(wait.output(), "job " + std::to_string(gated) + ": COMPLETED (exit 0)"))
      << wait.output();
  EXPECT_TRUE(contains(wait.errors(), "went away; started a new one")) << wait.errors();
}

// The user's case: `daemon stop` and `daemon start` while `run` waits for its batch. Both
// jobs complete, and run still prints the report.
TEST(FollowAcrossRestart, RunPrintsItsReportAcrossADaemonStopAndStart) {
  DaemonHarness daemon;
  const std::string command = DaemonHarness::quoted(kGatedJob);
  daemon.write_file("two.yaml", "- name: one\n  gpu-mem: 10G\n  command: [sh, -c, " + command +
                                    "]\n- name: two\n  gpu-mem: 10G\n  command: [sh, -c, " +
                                    command + "]\n");
  Follower run(daemon, "run two.yaml", "run");
  ASSERT_TRUE(eventually([&] { return contains(run.output(), "2 running"); }))
      << run.output() << run.errors();

  const test_support::CliRun stopped = daemon.fastgpu("daemon stop");
  ASSERT_EQ(stopped.exit_code, 0) << stopped.output;
  ASSERT_TRUE(eventually([&] { return daemon_answers(daemon); })) << run.errors();
  // The user's own start finds the daemon the follower started: it says so, exit 0.
  const test_support::CliRun started = daemon.fastgpu("daemon start");
  EXPECT_EQ(started.exit_code, 0) << started.output;
  release_jobs(daemon);

  EXPECT_EQ(run.exit_code(), 0) << run.output() << run.errors();
  EXPECT_TRUE(contains(run.output(), "2/2 done (0 failed)")) << run.output();
  EXPECT_TRUE(contains(run.output(), "makespan")) << run.output();
  EXPECT_TRUE(contains(run.errors(), "went away; started a new one")) << run.errors();
}

// A daemon that cannot start again (here a bad settings file, which every start refuses)
// ends the follower after its tries, with an error naming the socket, the daemon's log and
// the last try's reason. It takes the ~30 s of tries.
TEST(FollowAcrossRestart, LogsFollowGivesUpNamingTheSocketAndTheLogWhenNoDaemonStarts) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit("--gpus 0 --wrap " + DaemonHarness::quoted(kGatedJob));
  ASSERT_GT(id, 0u);
  Follower logs(daemon, "logs -f " + std::to_string(id), "logs");
  ASSERT_TRUE(eventually([&] { return contains(logs.output(), "line 10\n"); })) << logs.errors();

  // The harness's XDG_CONFIG_HOME: the file every daemon reads at start.
  std::filesystem::create_directories(daemon.work() / "config" / "fastgpu");
  std::ofstream(daemon.work() / "config" / "fastgpu" / "config.yaml") << "ballance: true\n";
  kill_daemon(daemon);

  EXPECT_EQ(logs.exit_code(), 1) << logs.errors();
  const std::string errors = logs.errors();
  EXPECT_TRUE(contains(errors, "fastgpu logs: the daemon on '" + daemon.socket().string() +
                                   "' went away and none could be reached or started again"))
      << errors;
  EXPECT_TRUE(contains(errors, "unknown setting 'ballance'")) << errors;
  EXPECT_TRUE(contains(errors, (daemon.state_dir() / "daemon.log").string())) << errors;
  EXPECT_TRUE(contains(logs.output(), "line 10\n"));  // what it had printed stays
  release_jobs(daemon);  // the job ends on its own; no daemon runs for the harness to stop
}

}  // namespace
}  // namespace fastgpu
