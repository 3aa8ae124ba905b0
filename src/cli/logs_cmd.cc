// `fastgpu logs ID [-f] [-n N]`: a job's output (stdout and stderr), its last N lines with
// -n, followed as it grows with -f.

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "cli/daemon_client.h"
#include "cli/job_log.h"

namespace fastgpu::cli {
namespace {

struct LogsOptions {
  DaemonFlags daemon;
  std::string id;
  bool follow = false;
  std::optional<std::int64_t> tail;  // -n/--tail: only the last N lines
};

int run_logs(const LogsOptions& options) {
  Result<std::vector<std::uint64_t>> ids = parse_job_ids({options.id});
  if (!ids.ok()) return usage_error("logs", ids.status().message());
  if (options.tail && *options.tail < 0) {
    return usage_error("logs", fmt::format("--tail {} is negative; give the number of last lines "
                                           "to print, 0 or more (e.g. -n 20)",
                                           *options.tail));
  }
  // Across a daemon that goes away (-f), the next request asks for the same offset again:
  // no line is lost or printed twice.
  Result<ReconnectingClient> client = connect_following(options.daemon, "logs");
  if (!client.ok()) return fail("logs", client.status());
  LogReading reading;
  reading.verb = "logs";
  reading.json = options.daemon.json;
  reading.follow = options.follow;
  if (options.tail) reading.tail_lines = static_cast<std::uint64_t>(*options.tail);
  return print_job_log(*client, ids->front(), reading);
}

}  // namespace

void add_logs_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<LogsOptions>();
  CLI::App* command = app.add_subcommand("logs", "Print a job's output (stdout and stderr)");
  command->add_option("ID", options->id, "The job id")->required();
  command->add_flag("-f,--follow", options->follow,
                    "Keep printing as the job writes, until it ends");
  command->add_option("-n,--tail", options->tail,
                      "Only the last N lines (as tail -n); with -f, then what the job writes "
                      "after them");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_logs(*options); });
}

}  // namespace fastgpu::cli
