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
void add_status_command(CLI::App& app, CommandOutcome& outcome);      // status_cmd.cc
void add_model_command(CLI::App& app, CommandOutcome& outcome);       // model_cmd.cc
void add_simulate_command(CLI::App& app, CommandOutcome& outcome);    // simulate_cmd.cc
void add_daemon_command(CLI::App& app, CommandOutcome& outcome);      // daemon_cmd.cc
void add_submit_command(CLI::App& app, CommandOutcome& outcome);      // submit_cmd.cc
void add_alloc_command(CLI::App& app, CommandOutcome& outcome);       // alloc_cmd.cc
void add_exec_command(CLI::App& app, CommandOutcome& outcome);        // exec_cmd.cc
void add_resubmit_command(CLI::App& app, CommandOutcome& outcome);    // resubmit_cmd.cc
void add_queue_command(CLI::App& app, CommandOutcome& outcome);       // queue_cmd.cc (alias ls)
void add_show_command(CLI::App& app, CommandOutcome& outcome);        // show_cmd.cc
void add_logs_command(CLI::App& app, CommandOutcome& outcome);        // logs_cmd.cc
void add_cancel_command(CLI::App& app, CommandOutcome& outcome);      // cancel_cmd.cc
void add_hold_commands(CLI::App& app, CommandOutcome& outcome);       // hold_cmd.cc
void add_wait_command(CLI::App& app, CommandOutcome& outcome);        // wait_cmd.cc
void add_history_command(CLI::App& app, CommandOutcome& outcome);     // history_cmd.cc
void add_report_command(CLI::App& app, CommandOutcome& outcome);      // report_cmd.cc
void add_purge_command(CLI::App& app, CommandOutcome& outcome);       // purge_cmd.cc
void add_run_command(CLI::App& app, CommandOutcome& outcome);         // run_cmd.cc
void add_metrics_command(CLI::App& app, CommandOutcome& outcome);     // metrics_cmd.cc
void add_dashboard_command(CLI::App& app, CommandOutcome& outcome);   // dashboard_cmd.cc
void add_slurm_command(CLI::App& app, CommandOutcome& outcome);       // slurm_cmd.cc
void add_completion_command(CLI::App& app, CommandOutcome& outcome);  // completion_cmd.cc

}  // namespace fastgpu::cli
