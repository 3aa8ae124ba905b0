// Bad usage of the built `fastgpu` binary: a parse error says which command, what is wrong
// and where its options are, as the verbs' own checks do, and exits 2.
#include <gtest/gtest.h>

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
