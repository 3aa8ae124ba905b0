// `fastgpu logs ID [-f]`: a job's output (stdout and stderr), followed as it grows with -f.

#include <memory>

#include "cli/daemon_client.h"
#include "cli/job_log.h"

namespace fastgpu::cli {
namespace {

struct LogsOptions {
  DaemonFlags daemon;
  std::string id;
  bool follow = false;
};

int run_logs(const LogsOptions& options) {
  Result<std::vector<std::uint64_t>> ids = parse_job_ids({options.id});
  if (!ids.ok()) return usage_error("logs", ids.status().message());
  // Across a daemon that goes away (-f), the next request asks for the same offset again:
  // no line is lost or printed twice.
  Result<ReconnectingClient> client = connect_following(options.daemon, "logs");
  if (!client.ok()) return fail("logs", client.status());
  LogReading reading;
  reading.verb = "logs";
  reading.json = options.daemon.json;
  reading.follow = options.follow;
  return print_job_log(*client, ids->front(), reading);
}

}  // namespace

void add_logs_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<LogsOptions>();
  CLI::App* command = app.add_subcommand("logs", "Print a job's output (stdout and stderr)");
  command->add_option("ID", options->id, "The job id")->required();
  command->add_flag("-f,--follow", options->follow,
                    "Keep printing as the job writes, until it ends");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_logs(*options); });
}

}  // namespace fastgpu::cli
