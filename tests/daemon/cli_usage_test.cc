// Bad usage of the built `fastgpu` binary: a parse error says which command, what is wrong
// and where its options are, as the verbs' own checks do, and exits 2.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli_run.h"

namespace fastgpu {
namespace {

using test_support::run_cli;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs a command as uid 1001 (root's tests use it as another user).
constexpr const char* kAsUid1001 = "setpriv --reuid=1001 --regid=1001 --clear-groups";

// Why the CLI cannot run as uid 1001 here (no setpriv, or that uid cannot reach the
// binary); empty when it can. REQUIRES: root.
std::string why_not_as_uid_1001() {
  if (std::system("command -v setpriv >/dev/null") != 0) return "no setpriv";
  const std::string probe = std::string(kAsUid1001) + " test -x '" + FASTGPU_CLI_PATH + "'";
  if (std::system(probe.c_str()) != 0)
    return std::string("uid 1001 cannot run ") + FASTGPU_CLI_PATH;
  return "";
}

TEST(CliUsage, AParseErrorNamesTheCommandAndWhereItsOptionsAre) {
  test_support::CliRun run = run_cli("queue --bogus", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu queue: ")) << run.output;
  EXPECT_TRUE(contains(run.output, "--bogus")) << run.output;
  EXPECT_TRUE(contains(run.output, "`fastgpu queue --help`")) << run.output;

  run = run_cli("daemon start --bogus", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu daemon start: ")) << run.output;

  // Said in words, not as CLI11's "The following arguments were not expected: -- --bogus"
  // and "--last: 1 required TEXT missing".
  run = run_cli("submit --bogus -- true", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu submit: '--bogus' is not an option of this command"))
      << run.output;
  // A command after `--` to a verb that runs none was listed backwards ("hi echo").
  run = run_cli("resubmit 12 -- echo hi", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "fastgpu resubmit: 'echo hi' after -- is not expected: resubmit runs each "
                       "job's own command; to run another, `fastgpu submit [flags] -- echo hi`"))
      << run.output;
  run = run_cli("queue -- echo hi", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu queue: 'echo hi' after -- is not expected"))
      << run.output;
  run = run_cli("history --last", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu history: --last needs a value")) << run.output;

  run = run_cli("", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu: ")) << run.output;
  EXPECT_TRUE(contains(run.output, "`fastgpu --help`")) << run.output;
}

// A mistyped verb said "A subcommand is required", as if none had been given.
// An empty --devices read as "not given": status went to the driver and said there was none
// (exit 1), a job verb started a daemon on the real GPUs.
TEST(CliUsage, AnEmptyDevicesSpecIsBadUsage) {
  for (const std::string verb : {"status", "queue", "daemon start"}) {
    const test_support::CliRun run = run_cli(verb + " --devices ''", true);
    EXPECT_EQ(run.exit_code, 2) << verb << ": " << run.output;
    EXPECT_TRUE(contains(run.output, "an empty spec; give one such as 4xH100-80G")) << run.output;
  }
}

// A job file that cannot be opened says why, as the system told it.
TEST(CliUsage, AJobFileThatCannotBeReadSaysWhy) {
  const test_support::CliRun run = run_cli("run /nonexistent/jobs.yaml", true);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "cannot read job file '/nonexistent/jobs.yaml' (No such file "
                       "or directory)"))
      << run.output;
}

// `submit jobs.yaml` for `run jobs.yaml` is refused before anything is queued: queued, the
// file failed to start with advice to make it executable and run YAML as a script.
TEST(CliUsage, AJobFileGivenToSubmitIsRefusedNamingRun) {
  const std::filesystem::path folder = std::filesystem::temp_directory_path() /
                                       ("fastgpu-submit-yaml-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  {
    std::FILE* file = std::fopen((folder / "jobs.yml").c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs("name: a\ncommand: [true]\n", file);
    std::fclose(file);
  }
  for (const std::string& args : {"submit -- " + (folder / "jobs.yml").string(),
                                  "submit --workdir " + folder.string() + " jobs.yml"}) {
    const test_support::CliRun run = run_cli(args, true);
    EXPECT_EQ(run.exit_code, 2) << args << ": " << run.output;
    EXPECT_TRUE(contains(run.output, "is a job file, not a program: `fastgpu run "))
        << args << ": " << run.output;
  }
  std::filesystem::remove_all(folder);
}

TEST(CliUsage, AnUnknownVerbIsNamedWithTheVerbsThereAre) {
  test_support::CliRun run = run_cli("stauts", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu: 'stauts' is not a verb; use one of status, model, "))
      << run.output;
  EXPECT_TRUE(contains(run.output, "`fastgpu --help`")) << run.output;

  run = run_cli("daemon strat", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu daemon: 'strat' is not a verb; use one of run, start"))
      << run.output;
}

// --all-users is root's; a user is told to leave out the flag they typed, not the API's
// all=true, before any daemon is asked (or started just to refuse). Root runs the command as
// uid 1001 for this.
TEST(CliUsage, AllUsersByAUserNamesTheFlag) {
  std::string as_user = "HOME=/tmp FASTGPU_STATE_DIR=/nonexistent/fastgpu-state";
  if (::geteuid() == 0) {
    if (const std::string why = why_not_as_uid_1001(); !why.empty()) GTEST_SKIP() << why;
    as_user += std::string(" ") + kAsUid1001;
  }
  for (const std::string verb : {"queue", "history", "report"}) {
    const test_support::CliRun run =
        test_support::run_cli_under(as_user, verb + " --all-users", true);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    const std::string does = verb == "report" ? "sums up" : "sees";
    EXPECT_TRUE(contains(run.output, "fastgpu " + verb + ": --all-users: only root " + does +
                                         " other users' jobs (you are uid "))
        << run.output;
    EXPECT_TRUE(contains(run.output, "; leave out --all-users\n")) << run.output;
  }
}

// A user's --shared daemon ran every other user's jobs as that user (bob's command ran as
// alice): only root's may serve others. Refused before anything starts, as run and as start.
TEST(CliUsage, ASharedDaemonOfAUserIsRefused) {
  std::string as_user = "HOME=/tmp FASTGPU_STATE_DIR=/nonexistent/fastgpu-state";
  if (::geteuid() == 0) {
    if (const std::string why = why_not_as_uid_1001(); !why.empty()) GTEST_SKIP() << why;
    as_user += std::string(" ") + kAsUid1001;
  }
  for (const std::string verb : {"run", "start"}) {
    const test_support::CliRun run =
        test_support::run_cli_under(as_user, "daemon " + verb + " --shared", true);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_TRUE(contains(run.output, "fastgpu daemon " + verb +
                                         ": --shared: only a daemon run by root serves other "
                                         "users, running each job as its owner; yours (uid "))
        << run.output;
    EXPECT_TRUE(contains(run.output, "Leave out --shared")) << run.output;
  }
}

// A user whose socket lies behind a folder they may not enter (HOME=/root, say) got an
// uncaught filesystem error: the command aborted (exit 134).
TEST(CliUsage, ASocketBehindAFolderTheUserMayNotEnterIsAnErrorNotACrash) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the CLI as another user";
  if (const std::string why = why_not_as_uid_1001(); !why.empty()) GTEST_SKIP() << why;
  const std::string as_user = kAsUid1001;
  char closed[] = "/tmp/fastgpu-closed-XXXXXX";
  ASSERT_NE(::mkdtemp(closed), nullptr);  // 0700, root's
  const std::string run_as =
      "HOME=/tmp FASTGPU_STATE_DIR=/tmp/fastgpu-closed-test-state-1001 "
      "FASTGPU_SOCKET=" +
      std::string(closed) + "/fastgpu.sock " + as_user;
  const test_support::CliRun run = test_support::run_cli_under(run_as, "queue", true);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu queue: cannot reach the daemon's socket '" +
                                       std::string(closed) +
                                       "/fastgpu.sock': a folder on its path is another user's "
                                       "(Permission denied); a daemon admits only its own user"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "Unset FASTGPU_SOCKET")) << run.output;
  EXPECT_FALSE(contains(run.output, "terminate called")) << run.output;
  // No daemon of the user's own was started to fail on root's folder.
  EXPECT_FALSE(std::filesystem::exists("/tmp/fastgpu-closed-test-state-1001/daemon.log"));
  std::filesystem::remove_all(closed);
  std::filesystem::remove_all("/tmp/fastgpu-closed-test-state-1001");
}

// Bob pointed at alice's socket: his command started a daemon of his own there, which
// failed on her folder, and he read of her state folder, not of her socket.
TEST(CliUsage, AnotherUsersSocketIsNamedWithItsOwnerAndNoDaemonIsStarted) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to make a socket of another user's";
  if (const std::string why = why_not_as_uid_1001(); !why.empty()) GTEST_SKIP() << why;
  const std::string as_user = kAsUid1001;
  char folder[] = "/tmp/fastgpu-other-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  ASSERT_EQ(::chmod(folder, 0755), 0);
  const std::string socket_path = std::string(folder) + "/fastgpu.sock";
  const int listening = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(listening, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listening, 4), 0);
  ASSERT_EQ(::chown(socket_path.c_str(), 1002, 1002), 0);  // another user's daemon
  const std::string state = "/tmp/fastgpu-other-test-state-1001";
  const test_support::CliRun run = test_support::run_cli_under(
      "HOME=/tmp FASTGPU_STATE_DIR=" + state + " FASTGPU_SOCKET=" + socket_path + " " + as_user,
      "queue", true);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu queue: the socket '" + socket_path + "' is "))
      << run.output;
  // Its owner by name where uid 1002 has one ('bob (uid 1002)'s'), by uid where it has not.
  EXPECT_TRUE(contains(run.output, "uid 1002")) << run.output;
  EXPECT_TRUE(contains(run.output, "'s daemon's, not yours; a daemon admits only its own user"))
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(state + "/daemon.log"));  // none started
  ::close(listening);
  std::filesystem::remove_all(folder);
  std::filesystem::remove_all(state);
}

// FASTGPU_STATE_DIR (or XDG_STATE_HOME) leading to root's state folder (0700): `daemon stop`
// said only "cannot open '/var/lib/fastgpu/daemon.lock': Permission denied", `daemon status`
// told to `daemon start`, which failed so, and a job verb's daemon died unheard ("the end of
// <its log>:" and nothing). Each names whose folder it is and the fix now.
TEST(CliUsage, AStateFolderOfAnotherUsersIsNamedWithItsOwnerAndTheFix) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the CLI as another user";
  if (const std::string why = why_not_as_uid_1001(); !why.empty()) GTEST_SKIP() << why;
  char closed[] = "/tmp/fastgpu-rootstate-XXXXXX";
  ASSERT_NE(::mkdtemp(closed), nullptr);  // 0700, root's
  std::filesystem::create_directories(std::string(closed) + "/fastgpu");
  ASSERT_EQ(::chmod((std::string(closed) + "/fastgpu").c_str(), 0700), 0);
  const std::string socket = std::string(closed) + "-none.sock";  // nothing answers there
  const std::string user = "HOME=/tmp FASTGPU_SOCKET=" + socket + " ";
  const std::string fix =
      ", and you (uid 1001) may not open it: only its owner or root starts, stops or reloads the "
      "daemon that keeps its state there. ";
  const std::string state = std::string(closed) + "/fastgpu";
  ASSERT_EQ(::chmod(closed, 0755), 0);  // root's /var/lib, say: only the state folder closed
  for (const std::string verb : {"daemon stop", "daemon status", "daemon start", "queue"}) {
    const test_support::CliRun run = test_support::run_cli_under(
        user + "FASTGPU_STATE_DIR=" + state + " " + kAsUid1001, verb, true);
    EXPECT_EQ(run.exit_code, 1) << verb << ": " << run.output;
    EXPECT_TRUE(contains(run.output, "fastgpu " + verb + ": ")) << run.output;
    EXPECT_TRUE(contains(run.output, "the state folder '" + state + "' is root (uid 0)'s" + fix +
                                         "FASTGPU_STATE_DIR leads there; unset it to use a "
                                         "daemon of your own"))
        << verb << ": " << run.output;
    EXPECT_FALSE(contains(run.output, "`fastgpu daemon start` starts one")) << run.output;
  }
  // Behind a closed folder of root's, through XDG_STATE_HOME.
  ASSERT_EQ(::chmod(closed, 0700), 0);
  const test_support::CliRun stop = test_support::run_cli_under(
      user + "XDG_STATE_HOME=" + closed + " " + kAsUid1001, "daemon stop", true);
  EXPECT_EQ(stop.exit_code, 1) << stop.output;
  EXPECT_TRUE(contains(stop.output, "the state folder '" + state +
                                        "' lies in root (uid 0)'s "
                                        "folder '" +
                                        closed + "'" + fix + "XDG_STATE_HOME leads there"))
      << stop.output;
  std::filesystem::remove_all(closed);
}

// CLI11's own words were "Could not convert: --last = abc".
TEST(CliUsage, AValueOfTheWrongKindIsNamedWithTheKindWanted) {
  test_support::CliRun run = run_cli("history -n abc", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu history: --last 'abc' is not a whole number\n"))
      << run.output;
  run = run_cli("daemon run --cpu-slots -1", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "--cpu-slots -1 is out of range")) << run.output;
}

TEST(CliUsage, HelpAndVersionAreNotErrors) {
  test_support::CliRun run = run_cli("queue --help", false);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "--expand")) << run.output;
  run = run_cli("--version", false);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu")) << run.output;
}

}  // namespace
}  // namespace fastgpu
