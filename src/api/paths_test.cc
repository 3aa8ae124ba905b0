#include "fastgpu/api/paths.h"

#include <gtest/gtest.h>

#include <string>

namespace fastgpu::api {
namespace {

TEST(DaemonPaths, StateDirOverrideWinsAndHoldsLockPidAndDatabase) {
  const Result<DaemonPaths> paths =
      daemon_paths_from({"/srv/fg", "/home/u/.state", "/home/u", std::nullopt, "/run/user/7"});
  ASSERT_TRUE(paths.ok()) << paths.status().to_string();
  EXPECT_EQ(paths->state_dir, "/srv/fg");
  EXPECT_EQ(paths->lock_file, "/srv/fg/daemon.lock");
  EXPECT_EQ(paths->pid_file, "/srv/fg/daemon.pid");
  EXPECT_EQ(paths->database, "/srv/fg/fastgpu.db");
  EXPECT_EQ(paths->socket, "/run/user/7/fastgpu/fastgpu.sock");
}

TEST(DaemonPaths, XdgStateHomeThenHome) {
  Result<DaemonPaths> paths =
      daemon_paths_from({std::nullopt, "/home/u/.st", "/home/u", std::nullopt, std::nullopt});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->state_dir, "/home/u/.st/fastgpu");
  paths = daemon_paths_from({"", "", "/home/u", std::nullopt, std::nullopt});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->state_dir, "/home/u/.local/state/fastgpu");
}

TEST(DaemonPaths, SocketFallsBackToStateDirWithoutRuntimeDir) {
  const Result<DaemonPaths> paths =
      daemon_paths_from({"/srv/fg", std::nullopt, std::nullopt, std::nullopt, ""});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->socket, "/srv/fg/fastgpu.sock");
}

TEST(DaemonPaths, SocketOverrideWins) {
  const Result<DaemonPaths> paths =
      daemon_paths_from({"/srv/fg", std::nullopt, std::nullopt, "/tmp/s.sock", "/run/user/7"});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->socket, "/tmp/s.sock");
}

TEST(DaemonPaths, TooLongSocketPathNamesTheVariableToSet) {
  const std::string long_dir = "/tmp/" + std::string(120, 'x');
  const Result<DaemonPaths> paths =
      daemon_paths_from({long_dir, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_FALSE(paths.ok());
  EXPECT_NE(paths.status().message().find("FASTGPU_SOCKET"), std::string::npos);
  EXPECT_NE(paths.status().message().find(long_dir), std::string::npos);
}

TEST(DaemonPaths, NoHomeAndNoOverrideIsAnError) {
  const Result<DaemonPaths> paths = daemon_paths_from({});
  EXPECT_FALSE(paths.ok());
}

}  // namespace
}  // namespace fastgpu::api
