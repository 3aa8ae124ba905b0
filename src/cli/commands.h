// The fastgpu command's verbs. Each verb lives in its own file and registers itself on the
// application with one add_*_command function; main.cc calls them all.
#pragma once

#include <CLI/CLI.hpp>

namespace fastgpu::cli {

// Exit codes, as DESIGN.md section 3 fixes them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a failure the user can fix
inline constexpr int kExitUsage = 2;    // bad usage

// Each verb's callback stores its exit code here.
struct CommandOutcome {
  int exit_code = kExitOk;
};

// One declaration per verb: void add_<verb>_command(CLI::App& app, CommandOutcome& outcome);
void add_status_command(CLI::App& app, CommandOutcome& outcome);    // status_cmd.cc
void add_model_command(CLI::App& app, CommandOutcome& outcome);     // model_cmd.cc
void add_simulate_command(CLI::App& app, CommandOutcome& outcome);  // simulate_cmd.cc

}  // namespace fastgpu::cli
