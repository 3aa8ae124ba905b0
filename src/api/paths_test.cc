#include "fastgpu/api/paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace fastgpu::api {
namespace {

TEST(DaemonPaths, StateDirOverrideWinsAndHoldsLockPidAndDatabase) {
  const Result<DaemonPaths> paths = daemon_paths_from(
      {"/srv/fg", "/home/u/.state", "/home/u", std::nullopt, "/run/user/7", std::nullopt});
  ASSERT_TRUE(paths.ok()) << paths.status().to_string();
  EXPECT_EQ(paths->state_dir, "/srv/fg");
  EXPECT_EQ(paths->lock_file, "/srv/fg/daemon.lock");
  EXPECT_EQ(paths->pid_file, "/srv/fg/daemon.pid");
  EXPECT_EQ(paths->database, "/srv/fg/fastgpu.db");
  EXPECT_EQ(paths->socket, "/run/user/7/fastgpu/fastgpu.sock");
}

TEST(DaemonPaths, XdgStateHomeThenHome) {
  Result<DaemonPaths> paths = daemon_paths_from(
      {std::nullopt, "/home/u/.st", "/home/u", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->state_dir, "/home/u/.st/fastgpu");
  paths = daemon_paths_from({"", "", "/home/u", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->state_dir, "/home/u/.local/state/fastgpu");
}

TEST(DaemonPaths, SocketFallsBackToStateDirWithoutRuntimeDir) {
  const Result<DaemonPaths> paths =
      daemon_paths_from({"/srv/fg", std::nullopt, std::nullopt, std::nullopt, "", std::nullopt});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->socket, "/srv/fg/fastgpu.sock");
}

TEST(DaemonPaths, SocketOverrideWins) {
  const Result<DaemonPaths> paths = daemon_paths_from(
      {"/srv/fg", std::nullopt, std::nullopt, "/tmp/s.sock", "/run/user/7", std::nullopt});
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->socket, "/tmp/s.sock");
}

TEST(DaemonPaths, TooLongSocketPathNamesTheVariableToSet) {
  const std::string long_dir = "/tmp/" + std::string(120, 'x');
  const Result<DaemonPaths> paths = daemon_paths_from(
      {long_dir, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_FALSE(paths.ok());
  EXPECT_NE(paths.status().message().find("FASTGPU_SOCKET"), std::string::npos);
  EXPECT_NE(paths.status().message().find(long_dir), std::string::npos);
}

// The daemon works from /: the paths it is given must not depend on the caller's folder,
// and every client names one folder alike.
TEST(DaemonPaths, RelativePathsAreReadFromTheWorkingFolderAndNormalized) {
  Result<DaemonPaths> paths = daemon_paths_from(
      {"state/", std::nullopt, std::nullopt, "../run/./s.sock", std::nullopt, "/home/u/w"});
  ASSERT_TRUE(paths.ok()) << paths.status().to_string();
  EXPECT_EQ(paths->state_dir, "/home/u/w/state");
  EXPECT_EQ(paths->database, "/home/u/w/state/fastgpu.db");
  EXPECT_EQ(paths->socket, "/home/u/run/s.sock");
  paths = daemon_paths_from(
      {"/srv//fg/", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(paths.ok()) << paths.status().to_string();
  EXPECT_EQ(paths->state_dir, "/srv/fg");
  EXPECT_EQ(paths->socket, "/srv/fg/fastgpu.sock");
  paths = daemon_paths_from({std::nullopt, "st", "/home/u", std::nullopt, "rt", "/w"});
  ASSERT_TRUE(paths.ok()) << paths.status().to_string();
  EXPECT_EQ(paths->state_dir, "/w/st/fastgpu");
  EXPECT_EQ(paths->socket, "/w/rt/fastgpu/fastgpu.sock");
}

TEST(DaemonPaths, ARelativePathWithNoWorkingFolderNamesTheVariable) {
  Result<DaemonPaths> paths = daemon_paths_from(
      {"state", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_FALSE(paths.ok());
  EXPECT_NE(paths.status().message().find("FASTGPU_STATE_DIR is the relative path 'state'"),
            std::string::npos)
      << paths.status().message();
  paths = daemon_paths_from(
      {"/srv/fg", std::nullopt, std::nullopt, "s.sock", std::nullopt, std::nullopt});
  ASSERT_FALSE(paths.ok());
  EXPECT_NE(paths.status().message().find("set FASTGPU_SOCKET to an absolute path"),
            std::string::npos)
      << paths.status().message();
}

TEST(DaemonPaths, NoHomeAndNoOverrideIsAnError) {
  const Result<DaemonPaths> paths = daemon_paths_from({});
  EXPECT_FALSE(paths.ok());
}

// A shared daemon's socket folder was made 0700 (as a private one's), so no user could
// reach the 0666 socket; a folder anyone may write would let them replace it.
class SharedSocketFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    char made[] = "/tmp/fastgpu-shared-XXXXXX";
    ASSERT_NE(::mkdtemp(made), nullptr);
    base_ = made;
    ::chmod(base_.c_str(), 0755);
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  static unsigned mode(const std::filesystem::path& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0);
    return info.st_mode & 07777;
  }
  std::filesystem::path base_;
};

TEST_F(SharedSocketFolder, MissingFoldersAreMadeForEveryoneToEnter) {
  const Status made = prepare_shared_socket_folder(base_ / "run" / "fastgpu" / "fastgpu.sock");
  ASSERT_TRUE(made.ok()) << made.to_string();
  EXPECT_EQ(mode(base_ / "run"), 0755u);
  EXPECT_EQ(mode(base_ / "run" / "fastgpu"), 0755u);
}

TEST_F(SharedSocketFolder, AFolderClosedToOthersIsRefusedNamingIt) {
  ::chmod(base_.c_str(), 0700);
  const Status refused = prepare_shared_socket_folder(base_ / "fastgpu" / "fastgpu.sock");
  EXPECT_EQ(refused.message(),
            "--shared: other users cannot reach the socket '" + base_.string() +
                "/fastgpu/fastgpu.sock': the folder '" + base_.string() +
                "' is mode 0700, closed to them; set FASTGPU_SOCKET to a path in a folder only "
                "root may write and every user may enter, e.g. /run/fastgpu/fastgpu.sock");
}

TEST_F(SharedSocketFolder, AFolderOthersMayWriteIsRefused) {
  ::chmod(base_.c_str(), 01777);  // as /tmp
  const Status refused = prepare_shared_socket_folder(base_ / "fastgpu.sock");
  EXPECT_EQ(refused.message(),
            "--shared: the socket's folder '" + base_.string() +
                "' is mode 1777: other users may write it, and one could put a socket of theirs "
                "in the daemon's place and read every job submitted; set FASTGPU_SOCKET to a path "
                "in a folder only root may write and every user may enter, e.g. "
                "/run/fastgpu/fastgpu.sock");
}

}  // namespace
}  // namespace fastgpu::api
