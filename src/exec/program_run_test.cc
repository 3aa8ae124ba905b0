#include "fastgpu/exec/program_run.h"

#include <gtest/gtest.h>

#include <string>

namespace fastgpu::exec {
namespace {

TEST(RunProgram, GivesTheInputAndKeepsBothOutputsAndTheExitCode) {
  Result<ProgramOutput> ran =
      run_program({"sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"}, "hello\n");
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  EXPECT_EQ(ran->out, "HELLO\n");
  EXPECT_EQ(ran->err, "oops\n");
  EXPECT_EQ(ran->exit_code, 3);
  EXPECT_EQ(ran->signal, 0);
}

// A program that ends without reading its input must not take the caller with it
// (SIGPIPE), whatever the input's size.
TEST(RunProgram, AProgramThatIgnoresItsInputDoesNotKillTheCaller) {
  Result<ProgramOutput> ran = run_program({"true"}, std::string(4 << 20, 'x'));
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  EXPECT_EQ(ran->exit_code, 0);
}

TEST(RunProgram, SaysWhichProgramCouldNotBeFound) {
  Result<ProgramOutput> ran = run_program({"fastgpu-no-such-program"}, "");
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(ran.status().message().find("'fastgpu-no-such-program'"), std::string::npos);
}

TEST(RunProgram, TellsTheSignalThatEndedIt) {
  Result<ProgramOutput> ran = run_program({"sh", "-c", "kill -TERM $$"}, "");
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  EXPECT_EQ(ran->exit_code, -1);
  EXPECT_EQ(ran->signal, 15);
}

}  // namespace
}  // namespace fastgpu::exec
