// Bad usage of the built `fastgpu` binary: a parse error says which command, what is wrong
// and where its options are, as the verbs' own checks do, and exits 2.
#include <gtest/gtest.h>
#include <unistd.h>

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

TEST(CliUsage, AParseErrorNamesTheCommandAndWhereItsOptionsAre) {
  test_support::CliRun run = run_cli("queue --bogus", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu queue: ")) << run.output;
  EXPECT_TRUE(contains(run.output, "--bogus")) << run.output;
  EXPECT_TRUE(contains(run.output, "`fastgpu queue --help`")) << run.output;

  run = run_cli("daemon start --bogus", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu daemon start: ")) << run.output;

  run = run_cli("", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu: ")) << run.output;
  EXPECT_TRUE(contains(run.output, "`fastgpu --help`")) << run.output;
}

// A mistyped verb said "A subcommand is required", as if none had been given.
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
    if (std::system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "no setpriv";
    as_user += " setpriv --reuid=1001 --regid=1001 --clear-groups";
    if (std::system((as_user + " test -x '" + std::string(FASTGPU_CLI_PATH) + "'").c_str()) != 0) {
      GTEST_SKIP() << "uid 1001 cannot run " << FASTGPU_CLI_PATH;
    }
  }
  for (const std::string verb : {"queue", "history"}) {
    const test_support::CliRun run =
        test_support::run_cli_under(as_user, verb + " --all-users", true);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_TRUE(contains(run.output, "fastgpu " + verb +
                                         ": --all-users: only root sees other users' jobs (you "
                                         "are uid "))
        << run.output;
    EXPECT_TRUE(contains(run.output, "; leave out --all-users\n")) << run.output;
  }
}

// A user's --shared daemon ran every other user's jobs as that user (bob's command ran as
// alice): only root's may serve others. Refused before anything starts, as run and as start.
TEST(CliUsage, ASharedDaemonOfAUserIsRefused) {
  std::string as_user = "HOME=/tmp FASTGPU_STATE_DIR=/nonexistent/fastgpu-state";
  if (::geteuid() == 0) {
    if (std::system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "no setpriv";
    as_user += " setpriv --reuid=1001 --regid=1001 --clear-groups";
    if (std::system((as_user + " test -x '" + std::string(FASTGPU_CLI_PATH) + "'").c_str()) != 0) {
      GTEST_SKIP() << "uid 1001 cannot run " << FASTGPU_CLI_PATH;
    }
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
  if (std::system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "no setpriv";
  const std::string as_user = "setpriv --reuid=1001 --regid=1001 --clear-groups";
  if (std::system((as_user + " test -x '" + std::string(FASTGPU_CLI_PATH) + "'").c_str()) != 0) {
    GTEST_SKIP() << "uid 1001 cannot run " << FASTGPU_CLI_PATH;
  }
  char closed[] = "/tmp/fastgpu-closed-XXXXXX";
  ASSERT_NE(::mkdtemp(closed), nullptr);  // 0700, root's
  const std::string run_as =
      "HOME=/tmp FASTGPU_STATE_DIR=/tmp/fastgpu-closed-test-state-1001 "
      "FASTGPU_SOCKET=" +
      std::string(closed) + "/fastgpu.sock " + as_user;
  const test_support::CliRun run = test_support::run_cli_under(run_as, "queue", true);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu queue: ")) << run.output;
  EXPECT_FALSE(contains(run.output, "terminate called")) << run.output;
  std::filesystem::remove_all(closed);
  std::filesystem::remove_all("/tmp/fastgpu-closed-test-state-1001");
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
