// `fastgpu dashboard` refuses what it cannot serve before it starts anything. (The page
// itself is driven in a real browser by tests/browser/dashboard_test.mjs.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

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

}  // namespace
}  // namespace fastgpu::test_support
