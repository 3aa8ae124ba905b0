#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace fastgpu::cli;
  CLI::App app{"fastgpu: get more work through the GPUs you already have"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fastgpu 0.1.0");

  CommandOutcome outcome;
  // Verbs register here, one line each.
  add_status_command(app, outcome);
  add_model_command(app, outcome);
  add_simulate_command(app, outcome);
  add_daemon_command(app, outcome);
  add_submit_command(app, outcome);
  add_run_command(app, outcome);
  add_queue_command(app, outcome);
  add_show_command(app, outcome);
  add_logs_command(app, outcome);
  add_cancel_command(app, outcome);
  add_wait_command(app, outcome);
  add_history_command(app, outcome);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    // CLI11 returns 0 for --help and --version; every real parse error is bad usage.
    return code == 0 ? kExitOk : kExitUsage;
  }
  return outcome.exit_code;
}
