// `fastgpu dashboard` refuses what it cannot serve before it starts anything. (The page
// itself is driven in a real browser by tests/browser/dashboard_test.mjs.)
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "daemon/daemon_harness.h"

namespace fastgpu::test_support {
namespace {

TEST(DashboardE2E, AListenThatIsNotHostPortIsBadUsage) {
  DaemonHarness daemon;
  for (const char* listen : {"8265", "127.0.0.1:65536", "127.0.0.1:x", ":8265"}) {
    const CliRun run = daemon.fastgpu(std::string("dashboard --listen ") + listen);
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_TRUE(contains(run.output, std::string("--listen '") + listen + "' is not HOST:PORT"))
        << run.output;
    EXPECT_TRUE(contains(run.output, "127.0.0.1:0 for any free port")) << run.output;
  }
}

TEST(DashboardE2E, APortInUseIsRefusedNamingItAndStartsNoDaemon) {
  DaemonHarness daemon;
  const int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string port = std::to_string(ntohs(address.sin_port));

  const CliRun run = daemon.fastgpu("dashboard --listen 127.0.0.1:" + port);
  ::close(taken);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "cannot listen on 127.0.0.1:" + port + " for the dashboard"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "Address already in use")) << run.output;
  EXPECT_FALSE(contains(run.output, "started a daemon")) << run.output;
  EXPECT_EQ(daemon.fastgpu("daemon status").exit_code, 1) << "no daemon was started";
}

// The dashboard blocks SIGTERM to sigwait for it, and the daemon it started on first use
// inherited the mask: `daemon stop` then waited 30 s and gave up, and only kill -9 ended it.
TEST(DashboardE2E, TheDaemonItStartsStopsWhenAsked) {
  DaemonHarness daemon;
  const std::string pid_path = (daemon.work() / "dash.pid").string();
  const CliRun started = daemon.fastgpu_under(
      "timeout -s INT 60",
      "dashboard --listen 127.0.0.1:0 >dash.out 2>&1 & echo $! >'" + pid_path + "'");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  std::string printed;
  for (int i = 0; i < 200 && !contains(printed, "started a daemon"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream out(daemon.work() / "dash.out");
    printed.assign(std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>());
  }
  ASSERT_TRUE(contains(printed, "started a daemon")) << printed;
  const CliRun stopped = daemon.fastgpu("daemon stop --timeout 10");
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
  EXPECT_TRUE(contains(stopped.output, "stopped")) << stopped.output;
  std::ifstream pid_file(pid_path);
  std::string pid;
  pid_file >> pid;
  ASSERT_FALSE(pid.empty());
  EXPECT_EQ(daemon.fastgpu_under("kill -INT " + pid + " #", "").exit_code, 0);
}

// `daemon run` started by a program that blocks the stop signals (with no shell between, which
// would unblock them) unblocks what it handles, and stops when asked.
TEST(DashboardE2E, ADaemonRunWithItsStopSignalsBlockedStillStops) {
  DaemonHarness daemon;
  const std::string log = (daemon.work() / "daemon-run.log").string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop_signals, signal_number);
    ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    ::setenv("FASTGPU_STATE_DIR", daemon.state_dir().c_str(), 1);
    ::setenv("FASTGPU_SOCKET", daemon.socket().c_str(), 1);
    ::setenv("FASTGPU_DEVICES", "1xH100-80G", 1);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execl(FASTGPU_CLI_PATH, "fastgpu", "daemon", "run", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool answers = false;
  for (int i = 0; i < 100 && !answers; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    answers = daemon.fastgpu("daemon status").exit_code == 0;
  }
  EXPECT_TRUE(answers) << "the daemon never answered";
  const CliRun stopped = daemon.fastgpu("daemon stop --timeout 10");
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
  if (stopped.exit_code != 0) ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
}

}  // namespace
}  // namespace fastgpu::test_support
