// `fastgpu queue` (alias `ls`): the jobs that have not ended yet.

#include <memory>

#include "cli/daemon_client.h"

namespace fastgpu::cli {
namespace {

struct QueueOptions {
  DaemonFlags daemon;
  bool all_users = false;
};

int run_queue(const QueueOptions& options) {
  std::string target = "/v1/jobs?state=QUEUED,RUNNING,PREEMPTED";
  if (options.all_users) target += "&all=true";
  return print_job_list(options.daemon, "queue", target);
}

}  // namespace

void add_queue_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<QueueOptions>();
  CLI::App* command = app.add_subcommand("queue", "List your queued and running jobs (alias: ls)");
  command->alias("ls");
  add_daemon_flags(*command, options->daemon);
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  command->callback([options, &outcome] { outcome.exit_code = run_queue(*options); });
}

}  // namespace fastgpu::cli
