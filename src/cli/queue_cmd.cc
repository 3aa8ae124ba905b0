// `fastgpu queue` (alias `ls`): the jobs that have not ended yet.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/daemon_client.h"
#include "cli/display_width.h"
#include "fastgpu/core/text.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::cli {
namespace {

struct QueueOptions {
  DaemonFlags daemon;
  bool all_users = false;
  bool expand = false;
  std::optional<std::string> state;  // -t/--state: comma-separated; none: every unfinished state
  std::optional<std::string> name;   // --name: comma-separated job names
};

// --json: every field of every job, printed as it comes (100,000 jobs are 250 MB of JSON,
// which would take several seconds to parse into a tree only to print it again).
int print_queue_json(const QueueOptions& options, const std::string& target) {
  Result<std::string> text = get_text_from_daemon(options.daemon, "queue", target);
  if (!text.ok()) return fail("queue", text.status());
  const Status printed = print_json_text(*text);
  if (!printed.ok()) return fail("queue", printed);
  return kExitOk;
}

int run_queue(const QueueOptions& options) {
  std::string target = "/v1/jobs?state=QUEUED,RUNNING,PREEMPTED";
  if (options.state) {
    Result<std::string> states = parse_state_list(*options.state, /*ended=*/false);
    if (!states.ok()) return usage_error("queue", states.status().message());
    target = "/v1/jobs?state=" + *states;
  }
  if (const Status root_only = check_all_users(options.all_users); !root_only.ok()) {
    return fail("queue", root_only);
  }
  if (options.all_users) target += "&all=true";
  if (options.name) {
    Result<std::string> names = name_query(*options.name);
    if (!names.ok()) return usage_error("queue", names.status().message());
    target += *names;
  }
  if (options.daemon.json) return print_queue_json(options, target);
  // The table reads a few fields of each job: a fifth of a brief listing's bytes.
  Result<api::Json> reply = get_from_daemon(options.daemon, "queue", target + "&fields=table");
  if (!reply.ok()) return fail("queue", reply.status());
  print_text(render_job_table((*reply)["jobs"], now_micros(), options.expand,
                              terminal_columns(STDOUT_FILENO)));
  return kExitOk;
}

}  // namespace

void add_queue_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<QueueOptions>();
  CLI::App* command = app.add_subcommand("queue", "List your queued and running jobs (alias: ls)");
  command->alias("ls");
  add_daemon_flags(*command, options->daemon);
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  command->add_option("-t,--state", options->state,
                      "Only jobs in these states, comma-separated: QUEUED, RUNNING, PREEMPTED "
                      "(as squeue -t)");
  command->add_option("-n,--name", options->name,
                      "Only jobs of these names, comma-separated (as squeue -n)");
  command->add_flag("-r,--expand", options->expand,
                    "One line per array member (by default queued members of an array share "
                    "a line, e.g. 12-9999 sweep[3-9990])");
  command->callback([options, &outcome] { outcome.exit_code = run_queue(*options); });
}

}  // namespace fastgpu::cli
