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
  Result<api::ApiClient> client = connect_daemon(options.daemon, "history");
  if (!client.ok()) return fail("history", client.status());
  std::string target =
      "/v1/jobs?state=" +
      (options.state.empty() ? std::string("COMPLETED,FAILED,CANCELLED,TIMEOUT") : options.state);
  if (options.all_users) target += "&all=true";
  Result<api::Json> reply = client->get(target);
  if (!reply.ok()) return fail("history", reply.status());
  if (options.daemon.json) {
    print_json(*reply);
  } else {
    print_text(render_job_table((*reply)["jobs"], now_micros()));
  }
  return kExitOk;
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
