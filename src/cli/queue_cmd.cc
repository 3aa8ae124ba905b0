// `fastgpu queue` (alias `ls`): the jobs that have not ended yet.

#include <memory>

#include "cli/daemon_client.h"

namespace fastgpu::cli {
namespace {

struct QueueOptions {
  DaemonFlags daemon;
  bool all_users = false;
  bool expand = false;
};

int run_queue(const QueueOptions& options) {
  std::string target = "/v1/jobs?state=QUEUED,RUNNING,PREEMPTED";
  if (options.all_users) target += "&all=true";
  if (!options.daemon.json) target += "&brief=true";  // the table shows no environment
  Result<api::Json> reply = get_from_daemon(options.daemon, "queue", target);
  if (!reply.ok()) return fail("queue", reply.status());
  if (options.daemon.json) {
    print_json(*reply);
  } else {
    print_text(render_job_table((*reply)["jobs"], now_micros(), options.expand));
  }
  return kExitOk;
}

}  // namespace

void add_queue_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<QueueOptions>();
  CLI::App* command = app.add_subcommand("queue", "List your queued and running jobs (alias: ls)");
  command->alias("ls");
  add_daemon_flags(*command, options->daemon);
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  command->add_flag("-r,--expand", options->expand,
                    "One line per array member (by default queued members of an array share "
                    "a line, e.g. 12-9999 sweep[3-9990])");
  command->callback([options, &outcome] { outcome.exit_code = run_queue(*options); });
}

}  // namespace fastgpu::cli
