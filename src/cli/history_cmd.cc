// `fastgpu history`: the jobs that have ended, oldest first.

#include <memory>

#include "cli/daemon_client.h"

namespace fastgpu::cli {
namespace {

struct HistoryOptions {
  DaemonFlags daemon;
  bool all_users = false;
  std::string state;
};

int run_history(const HistoryOptions& options) {
  std::string target =
      "/v1/jobs?state=" +
      (options.state.empty() ? std::string("COMPLETED,FAILED,CANCELLED,TIMEOUT") : options.state);
  if (options.all_users) target += "&all=true";
  return print_job_list(options.daemon, "history", target);
}

}  // namespace

void add_history_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<HistoryOptions>();
  CLI::App* command = app.add_subcommand("history", "List your jobs that have ended");
  add_daemon_flags(*command, options->daemon);
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  command->add_option("--state", options->state,
                      "Only these states, comma-separated (e.g. FAILED,TIMEOUT)");
  command->callback([options, &outcome] { outcome.exit_code = run_history(*options); });
}

}  // namespace fastgpu::cli
