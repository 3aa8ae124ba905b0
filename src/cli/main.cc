#include <cstdio>
#include <string>

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
    // --help and --version: CLI11 prints them and exits 0.
    if (error.get_exit_code() == 0) return app.exit(error) == 0 ? kExitOk : kExitUsage;
    // Every other parse error is bad usage, said as the verbs say theirs: which command,
    // what is wrong, where the options are.
    std::string command = "fastgpu";
    for (const CLI::App* verb = &app; !verb->get_subcommands().empty();) {
      verb = verb->get_subcommands().front();
      command += " " + verb->get_name();
    }
    std::fprintf(stderr, "%s: %s\nRun `%s --help` for its options.\n", command.c_str(),
                 error.what(), command.c_str());
    return kExitUsage;
  }
  return outcome.exit_code;
}
