// Runs the built `fastgpu` binary as a user would, for the CLI tests.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "fastgpu_test_paths.h"

namespace fastgpu::test_support {

struct CliRun {
  int exit_code = -1;  // -1 when the command could not run or died of a signal
  std::string output;  // stdout, plus stderr when asked for
};

// Runs `WRAPPER fastgpu ARGS` through the shell (WRAPPER such as `setpriv ...` or
// `NAME=value`, may be empty); WRAPPER and ARGS must already be quoted.
inline CliRun run_cli_under(const std::string& wrapper, const std::string& args, bool with_stderr) {
  const std::string command = wrapper + " '" + std::string(FASTGPU_CLI_PATH) + "' " + args +
                              (with_stderr ? " 2>&1" : " 2>/dev/null");
  CliRun result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    result.output.append(buffer, read);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs `fastgpu ARGS` through the shell; ARGS must already be quoted.
inline CliRun run_cli(const std::string& args, bool with_stderr) {
  return run_cli_under("", args, with_stderr);
}

}  // namespace fastgpu::test_support
